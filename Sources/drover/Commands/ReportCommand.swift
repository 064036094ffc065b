import DroverEngine
import DroverProtocol
import DroverStore
import Foundation

/// `drover report RUN`: the run told as Markdown (task, outcome, steps, tests, gates, changes, failure),
/// built like `run/report` from the store opened read-only and git, so it works beside an engine; like
/// `run/report`, it writes the page to `.drover/reports/<run-id>.md` once the run has ended.
enum ReportCommand {
    static let subcommand = Subcommand(
        name: "report",
        usage: "report RUN [--workspace DIR]",
        summary: "Print a run's report (Markdown): outcome, steps with usage, tests, gates, changes, failure.",
        options: [Workspace.option, StoreChoice.option],
        run: run
    )

    static func run(_ arguments: ParsedArguments) async throws -> Int32 {
        let runId = try RunArgument.runId(arguments, command: "report")
        let workspace = try Workspace.resolve(arguments)
        let (queries, run) = try Workspace.loadRun(runId, workspace: workspace, store: StoreChoice.resolve(arguments))
        let history = try queries.history(run.id)
        let stat = try? RunDiffReader(workspace: workspace).diffStat(run: run, history: history)
        let markdown = RunReport.markdown(run: run, events: try queries.events(runId: run.id, after: 0), diffStat: stat ?? nil)
        Console.write(markdown)
        if run.status.isTerminal {
            do {
                try PrivateFiles.replaceFile(StoreLayout(workspace: workspace).reportFile(runId: run.id), contents: markdown)
            } catch {
                Console.error("the report was printed but not saved to its file: \(error)")
            }
        }
        return 0
    }
}
