import DroverProtocol
import DroverStore
import Foundation

/// The read-only methods: answered by `RunQueries` and `PipelineQueries` (the same code the CLI's
/// read-only commands run), with this engine's cached snapshots and histories where it has them.
extension Engine {
    /// The read side over this engine's store.
    var queries: RunQueries { ledger.queries }

    /// `pipeline/list`: every pipeline, broken ones with their errors.
    public func listPipelines() -> [PipelineInfo] {
        PipelineQueries(workspace: options.workspace, configDirectory: options.configDirectory).pipelines()
    }

    /// `run/list`: newest first, without step outputs.
    public func listRuns(_ request: RunListRequest) throws -> RunListResult { try queries.runs(request) }

    /// `run/get`.
    public func getRun(_ runId: String) throws -> Run { try loadRun(runId) }

    /// `run/events`: a page of a run's events after a seq.
    public func events(_ request: RunEventsRequest) throws -> RunEventsResult {
        try queries.events(request, of: loadRun(request.runId))
    }

    /// `inbox/list`: every open gate of every blocked run and every wait on fan-out children, oldest first.
    public func inbox() throws -> InboxListResult { try queries.inbox { try ledger.history(of: $0) } }

    /// `step/log`: a slice of an attempt's log file.
    public func stepLog(_ request: StepLogRequest) throws -> StepLogResult {
        try queries.stepLog(request, of: loadRun(request.runId))
    }

    /// `workspace/trust`: records the user's answer; returns the new state.
    public func setTrust(_ trusted: Bool) throws -> Bool {
        try trustStore.setTrusted(options.workspace, trusted)
        turnReads?.trusted = nil
        return isTrusted()
    }
}
