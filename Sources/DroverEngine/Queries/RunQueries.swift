import DroverProtocol
import DroverStore
import Foundation

/// The read side of a workspace's runs: what `run/list`, `run/get`, `run/events`, `inbox/list` and
/// `step/log` answer, and the change feed that followers poll, over a store and the log files.
///
/// The engine answers those methods through it; the CLI's read-only commands use it directly on a
/// store opened read-only, so they work beside an engine that drives the workspace. It writes nothing.
public struct RunQueries {
    let store: any RunStore
    let layout: StoreLayout

    /// - Parameters:
    ///   - store: read only; the engine passes its own, a reader a read-only one.
    ///   - workspace: where the attempts' log files are (`.drover/logs/`).
    public init(store: any RunStore, workspace: URL) {
        self.store = store
        self.layout = StoreLayout(workspace: workspace)
    }

    /// How many runs one `run/list` page may hold, and how many it holds when not told.
    public static let runPageSizes = 1...500
    public static let defaultRunPageSize = 50

    /// `run/get`: the run with this id, or a not-found error.
    public func run(_ runId: String) throws -> Run {
        guard let run = try store.run(id: runId) else { throw EngineError.notFound("run", runId) }
        return run
    }

    /// `run/list`: newest first, without step outputs; `limit` within `runPageSizes`.
    public func runs(_ request: RunListRequest) throws -> RunListResult {
        let limit = request.limit ?? Self.defaultRunPageSize
        guard Self.runPageSizes.contains(limit) else {
            throw EngineError.invalid(
                "limit must be between \(Self.runPageSizes.lowerBound) and \(Self.runPageSizes.upperBound), got \(limit)")
        }
        if let cursor = request.cursor, try store.run(id: cursor) == nil {
            throw EngineError.invalid("cursor '\(cursor)' is not a nextCursor from an earlier run/list")
        }
        let page = try store.runs(statuses: request.status.map(Set.init), afterRunId: request.cursor, limit: limit + 1)
        let runs = Array(page.prefix(limit))
        return RunListResult(runs: runs.map(\.summary), nextCursor: page.count > limit ? runs.last?.id : nil)
    }

    /// Every run in one of `statuses`, newest first, read page by page.
    public func allRuns(statuses: Set<RunStatus>) throws -> [Run] {
        var runs: [Run] = []
        while true {
            let page = try store.runs(statuses: statuses, afterRunId: runs.last?.id, limit: 200)
            runs += page
            if page.count < 200 { return runs }
        }
    }

    /// How many runs have one of `statuses` (the scheduler's count of running runs).
    public func countRuns(statuses: Set<RunStatus>) throws -> Int {
        try store.countRuns(statuses: statuses)
    }

    /// `run/events`: events after `afterSeq` (default 0), at most `limit` (default 1000, max 10000).
    public func events(_ request: RunEventsRequest) throws -> RunEventsResult {
        try events(request, of: run(request.runId))
    }

    /// `run/events` of a run the caller has loaded already (the engine's snapshot).
    func events(_ request: RunEventsRequest, of run: Run) throws -> RunEventsResult {
        let limit = request.limit ?? 1000
        guard (1...10_000).contains(limit) else { throw EngineError.invalid("limit must be between 1 and 10000, got \(limit)") }
        let afterSeq = request.afterSeq ?? 0
        guard afterSeq >= 0 else { throw EngineError.invalid("afterSeq must be 0 or more, got \(afterSeq)") }
        let page = try store.events(runId: run.id, afterSeq: afterSeq, limit: limit + 1)
        return RunEventsResult(events: Array(page.prefix(limit)), lastSeq: run.lastSeq, more: page.count > limit)
    }

    /// Every event of a run after `afterSeq` up to `throughSeq`, ascending, read page by page.
    public func events(runId: String, after afterSeq: Int, through throughSeq: Int = .max) throws -> [Event] {
        var events: [Event] = []
        var after = afterSeq
        while after < throughSeq {
            let page = try store.events(runId: runId, afterSeq: after, limit: 1000)
            events += page.prefix { $0.seq <= throughSeq }
            guard let last = page.last, page.count == 1000 else { break }
            after = last.seq
        }
        return events
    }

    /// A run's gate and failure history, folded from its whole event log.
    public func history(_ runId: String) throws -> RunHistory {
        var history = RunHistory()
        for event in try events(runId: runId, after: 0) { history.apply(event) }
        return history
    }
}
