import DroverEngine
import DroverProtocol
import DroverServer
import Foundation

/// `drover apply RUN [--squash|--patch]`: brings a done run's change onto your current branch
/// (`run/apply`); a refusal (your uncommitted edits to the same files, a conflict) changes nothing.
enum ApplyCommand {
    static let subcommand = Subcommand(
        name: "apply",
        usage: "apply RUN [--squash | --patch] [--workspace DIR]",
        summary: "Bring a done run's change onto your current branch (merge by default); refuses, changing nothing, on a conflict.",
        options: [
            OptionSpec(name: "--squash", value: nil, help: "one new commit with the whole change, instead of merging the run's branch"),
            OptionSpec(name: "--patch", value: nil, help: "write the change into your working tree without committing it"),
            Workspace.option,
            StoreChoice.option,
        ],
        run: run
    )

    static func run(_ arguments: ParsedArguments) async throws -> Int32 {
        let runId = try RunArgument.runId(arguments, command: "apply")
        // Neither flag: the engine's default (merge; a patch for a snapshot run of a folder without git).
        let strategy: ApplyStrategy?
        switch (arguments.has("--squash"), arguments.has("--patch")) {
        case (true, true): throw UsageError(description: "--squash and --patch are two ways to apply; give one")
        case (true, false): strategy = .squash
        case (false, true): strategy = .patch
        case (false, false): strategy = nil
        }
        let workspace = try Workspace.resolve(arguments)
        let store = try StoreChoice.resolve(arguments)
        try RunSession.checkHasRuns(workspace, store: store)
        // Through the workspace's engine, like cancel: it works beside an editor.
        let engine = try await EngineClient.attach(workspace: workspace, engineEnvironment: store.engineEnvironment)
        let run = try await engine.call(RunApplyRequest(runId: runId, strategy: strategy)).run
        engine.detach()
        let t = Terminal.current
        let applied = run.workspace?.applied
        let used = applied?.strategy ?? strategy ?? .merge
        var line = "\(t.ok) " + t.bold("Run \(run.id) applied") + " (\(used.rawValue))"
        if let into = applied?.into { line += " into \(into)" }
        if let commit = applied?.commit { line += " as commit \(commit.prefix(12))" }
        Console.line(line)
        switch used {
        case .patch where run.workspace?.isolation == .snapshot: Console.line(t.dim("  the change is written into your files"))
        case .patch: Console.line(t.dim("  the change is in your working tree, not committed: review it with `git diff`, then commit"))
        case .merge, .squash: Console.line(t.dim("  push from your tree when you are ready"))
        }
        if run.workspace?.isolation == .snapshot {
            Console.line(t.dim("  its snapshot stays until `drover discard \(run.id)` or `drover gc`"))
        } else if run.workspace?.removed == true { Console.line(t.dim("  its worktree was removed; its branch \(run.workspace?.branch ?? "") stays")) }
        return 0
    }
}
