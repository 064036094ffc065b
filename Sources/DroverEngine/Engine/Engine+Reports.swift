import DroverProtocol
import DroverStore
import Foundation

/// Run reports: `run/report` tells an ended run as Markdown with its net `git diff --stat` and writes it
/// to `.drover/reports/<run-id>.md`; a report written that way is kept true when the run changes again
/// (applied, discarded, retried and ended again).
extension Engine {
    /// Rewrites the report file of an ended run that has one, from its events alone (git is never run on
    /// the actor; the diffstat comes with `run/report`). A run nobody asked about gets no file: building and
    /// creating it was a fifth of the engine's CPU per run when many instant runs ended. A failure is
    /// logged: the report can always be asked for again.
    func refreshReport(of run: Run) {
        guard run.status.isTerminal, let file = try? layout.reportFile(runId: run.id), access(file, F_OK) == 0 else { return }
        do {
            let events = try queries.events(runId: run.id, after: 0)
            try save(RunReport.markdown(run: run, events: events), to: file)
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
