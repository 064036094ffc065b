import DroverProtocol
import DroverStore
import Foundation

/// Run reports: `.drover/reports/<run-id>.md`, written whenever an ended run changes (its end, an apply,
/// a discard), and `run/report`, which also adds the run's net `git diff --stat`.
extension Engine {
    /// Writes the report of a run that ended, from its events alone (git is never run on the actor; the
    /// diffstat comes with `run/report`). A failure is logged: the report can always be asked for again.
    func writeReport(of run: Run) {
        guard run.status.isTerminal else { return }
        do {
            let events = try queries.events(runId: run.id, after: 0)
            try save(RunReport.markdown(run: run, events: events), to: layout.reportFile(runId: run.id))
        } catch {
            log("cannot write the report of run \(run.id): \(error)")
        }
    }

    /// `run/report`: the run's report with its diffstat; written to its file once the run has ended.
    public func report(_ request: RunReportRequest) async throws -> RunReportResult {
        let run = try loadRun(request.runId)
        let events = try queries.events(runId: run.id, after: 0)
        let history = try history(run.id)
        let reader = RunDiffReader(workspace: options.workspace, environment: options.environment)
        let stat = await (try? Self.offActor { try reader.diffStat(run: run, history: history) }) ?? nil
        let markdown = RunReport.markdown(run: run, events: events, diffStat: stat)
        guard run.status.isTerminal else { return RunReportResult(runId: run.id, markdown: markdown) }
        let file = try layout.reportFile(runId: run.id)
        try await Self.offActor { try Self.save(markdown, to: file) }
        return RunReportResult(runId: run.id, markdown: markdown, path: file)
    }

    private func save(_ markdown: String, to file: String) throws { try Self.save(markdown, to: file) }

    nonisolated static func save(_ markdown: String, to file: String) throws {
        try PrivateFiles.replaceFile(file, contents: markdown)
    }
}
