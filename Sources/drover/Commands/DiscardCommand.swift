import DroverEngine
import DroverProtocol
import DroverServer
import Foundation

/// `drover discard RUN [--force]`: throws a finished run's change away (`run/discard`): its worktree goes,
/// its branch too unless it holds commits found nowhere else (then only with `--force`).
enum DiscardCommand {
    static let subcommand = Subcommand(
        name: "discard",
        usage: "discard RUN [--force] [--workspace DIR]",
        summary: "Throw a finished run's change away: remove its worktree, and its branch when that loses nothing.",
        options: [
            OptionSpec(name: "--force", value: nil, help: "delete the run's branch even if its commits are not merged anywhere"),
            Workspace.option,
            StoreChoice.option,
        ],
        run: run
    )

    static func run(_ arguments: ParsedArguments) async throws -> Int32 {
        let runId = try RunArgument.runId(arguments, command: "discard")
        let workspace = try Workspace.resolve(arguments)
        let store = try StoreChoice.resolve(arguments)
        try RunSession.checkHasRuns(workspace, store: store)
        // Through the workspace's engine, like cancel: it works beside an editor.
        let engine = try await EngineClient.attach(workspace: workspace, engineEnvironment: store.engineEnvironment)
        let run = try await engine.call(RunDiscardRequest(runId: runId, force: arguments.has("--force"))).run
        engine.detach()
        let t = Terminal.current
        let branch = run.workspace?.branch ?? ""
        let copy = run.workspace?.isolation == .snapshot ? "snapshot" : "worktree"
        Console.line("\(t.ok) " + t.bold("Run \(run.id) discarded") + t.dim(": its \(copy) is gone"))
        if run.workspace?.branch == nil {
            // A snapshot run has no branch: its copy was all there was.
        } else if run.workspace?.branchDeleted == true {
            Console.line(t.dim("  branch \(branch) deleted"))
        } else {
            Console.line("  branch \(branch) kept: it has commits not merged into your branch. "
                         + "`drover discard \(run.id) --force` deletes it")
        }
        return 0
    }
}
