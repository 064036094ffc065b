import Foundation

/// `drover restart RUN --from STEP`: re-runs a run from a step (`run/restart`), live.
enum RestartCommand {
    static let subcommand = Subcommand(
        name: "restart",
        usage: "restart RUN --from STEP [--workspace DIR] [--yes]",
        summary: "Re-run a run from a step (that step and every later one), and follow it live.",
        options: [
            OptionSpec(name: "--from", value: "STEP", help: "the step to re-run from ('drover status RUN' lists them); required"),
            Workspace.option,
            StoreChoice.option,
            GateMode.yesOption,
        ],
        run: run
    )

    static func run(_ arguments: ParsedArguments) async throws -> Int32 {
        let runId = try RunArgument.runId(arguments, command: "restart")
        guard let fromStep = arguments.value("--from") else {
            throw UsageError(description: "'drover restart' needs --from STEP, the step to re-run from")
        }
        let terminal = Terminal.current
        return try await RunSession(
            workspace: try Workspace.resolve(arguments), store: try StoreChoice.resolve(arguments), start: .restart(runId: runId, fromStep: fromStep),
            gates: GateMode.from(arguments, terminal: terminal), terminal: terminal
        ).run()
    }
}
