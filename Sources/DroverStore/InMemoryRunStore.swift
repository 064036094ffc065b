import DroverProtocol
import Foundation
import Synchronization

/// A `RunStore` in memory, with the same contract as the SQLite store (the conformance suite runs
/// both): for tests, and for an engine whose runs need not outlive it.
/// Thread-safe, so tests may inspect it while an engine owns it.
public final class InMemoryRunStore: RunStore, Sendable {
    private struct State {
        var snapshots: [String: Run] = [:]
        var logs: [String: [Event]] = [:]
    }
    private let state = Mutex(State())

    public init() {}

    public func append(_ events: [Event], snapshot: Run) throws {
        try AppendRules.checkBatch(events, of: snapshot.id)
        try state.withLock { state in
            var log = state.logs[snapshot.id] ?? []
            if let first = events.first {
                try AppendRules.checkContinuation(firstSeq: first.seq, stored: log.last?.seq ?? 0, runId: snapshot.id)
            }
            log += events
            state.logs[snapshot.id] = log
            state.snapshots[snapshot.id] = snapshot
        }
    }

    public func events(runId: String, afterSeq: Int, limit: Int) throws -> [Event] {
        guard limit > 0 else { return [] }
        return state.withLock { state in
            // Seqs are 1, 2, 3…: the events after `afterSeq` start at index `afterSeq`.
            let log = state.logs[runId] ?? []
            let start = min(max(afterSeq, 0), log.count)
            return Array(log[start...].prefix(limit))
        }
    }

    public func run(id: String) throws -> Run? {
        state.withLock { $0.snapshots[id] }
    }

    public func runs(statuses: Set<RunStatus>?, afterRunId: String?, limit: Int) throws -> [Run] {
        guard limit > 0 else { return [] }
        return try state.withLock { state in
            var all = state.snapshots.values.filter { statuses?.contains($0.status) ?? true }
            if let afterRunId {
                guard let cursor = state.snapshots[afterRunId] else { throw StoreError.unknownCursor(afterRunId) }
                all = all.filter { ($0.createdAt, $0.id) < (cursor.createdAt, cursor.id) }
            }
            return Array(all.sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }.prefix(limit))
        }
    }
}
