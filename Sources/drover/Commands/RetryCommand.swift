import Foundation

/// `drover retry RUN`: a failed or cancelled run resumes at its first step not done (`run/retry`), live.
enum RetryCommand {
    static let subcommand = Subcommand(
        name: "retry",
        usage: "retry RUN [--workspace DIR] [--yes]",
        summary: "Resume a failed or cancelled run at its first step not done, and follow it live.",
        options: [Workspace.option, StoreChoice.option, GateMode.yesOption],
        run: run
    )

    static func run(_ arguments: ParsedArguments) async throws -> Int32 {
        let runId = try RunArgument.runId(arguments, command: "retry")
        let terminal = Terminal.current
        return try await RunSession(
            workspace: try Workspace.resolve(arguments), store: try StoreChoice.resolve(arguments), start: .retry(runId: runId),
            gates: GateMode.from(arguments, terminal: terminal), terminal: terminal
        ).run()
    }
}
