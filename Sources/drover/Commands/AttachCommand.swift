import Foundation

/// `drover attach RUN`: picks up a run left blocked on a gate or interrupted, and follows it live.
enum AttachCommand {
    static let subcommand = Subcommand(
        name: "attach",
        usage: "attach RUN [--workspace DIR] [--yes]",
        summary: "Show a run's state, then follow it live to its end: answer its open gates, resume it if its engine died.",
        options: [Workspace.option, StoreChoice.option, GateMode.yesOption],
        run: run
    )

    static func run(_ arguments: ParsedArguments) async throws -> Int32 {
        let runId = try RunArgument.runId(arguments, command: "attach")
        let terminal = Terminal.current
        return try await RunSession(
            workspace: try Workspace.resolve(arguments), store: try StoreChoice.resolve(arguments), start: .attach(runId: runId),
            gates: GateMode.from(arguments, terminal: terminal), terminal: terminal
        ).run()
    }
}
