import DroverEngine
import DroverProtocol
import DroverServer
import Foundation

/// `drover cancel RUN`: cancels a run (`run/cancel`), stopping its agent; a finished run is left as it is.
enum CancelCommand {
    static let subcommand = Subcommand(
        name: "cancel",
        usage: "cancel RUN [--reason TEXT] [--workspace DIR]",
        summary: "Cancel a run, stopping its agent; a run that already ended is left as it is.",
        options: [
            OptionSpec(name: "--reason", value: "TEXT", help: "why (recorded with the run; default: cancelled by request)"),
            Workspace.option,
            StoreChoice.option,
        ],
        run: run
    )

    static func run(_ arguments: ParsedArguments) async throws -> Int32 {
        let runId = try RunArgument.runId(arguments, command: "cancel")
        let workspace = try Workspace.resolve(arguments)
        let store = try StoreChoice.resolve(arguments)
        try RunSession.checkHasRuns(workspace, store: store)
        let engine = try await EngineClient.attach(workspace: workspace, engineEnvironment: store.engineEnvironment)
        let before = try await engine.call(RunGetRequest(runId: runId)).run
        let after = try await engine.call(RunCancelRequest(runId: runId, reason: arguments.value("--reason"))).run
        engine.detach()
        let t = Terminal.current
        if before.status.isTerminal {
            Console.line("\(t.symbol(forState: after.status.rawValue)) Run \(after.id) is already \(after.status.rawValue); nothing to cancel")
        } else {
            Console.line("\(t.failed) " + t.bold("Run \(after.id) cancelled") + (after.failure.map { t.dim(" (\($0.message))") } ?? ""))
            Console.line(t.dim("  `drover retry \(after.id)` resumes it at its first step not done"))
        }
        return 0
    }
}
