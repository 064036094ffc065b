import DroverProtocol
import Foundation

/// A `RunStore` in memory, with the same contract as the SQLite store (the conformance suite runs
/// both): for tests, and for an engine whose runs need not outlive it.
///
/// `@unchecked Sendable`: every stored property is read and written only while `lock` is held,
/// so tests may inspect it while an engine owns it.
public final class InMemoryRunStore: RunStore, @unchecked Sendable {
    private let lock = NSLock()
    private var snapshots: [String: Run] = [:]
    private var logs: [String: [Event]] = [:]

    public init() {}

    public func append(_ events: [Event], snapshot: Run) throws {
        try AppendRules.checkBatch(events, of: snapshot.id)
        try lock.withLock {
            var log = logs[snapshot.id] ?? []
            if let first = events.first {
                try AppendRules.checkContinuation(firstSeq: first.seq, stored: log.last?.seq ?? 0, runId: snapshot.id)
            }
            log += events
            logs[snapshot.id] = log
            snapshots[snapshot.id] = snapshot
        }
    }

    public func events(runId: String, afterSeq: Int, limit: Int) throws -> [Event] {
        guard limit > 0 else { return [] }
        return lock.withLock {
            // Seqs are 1, 2, 3…: the events after `afterSeq` start at index `afterSeq`.
            let log = logs[runId] ?? []
            let start = min(max(afterSeq, 0), log.count)
            return Array(log[start...].prefix(limit))
        }
    }

    public func run(id: String) throws -> Run? {
        lock.withLock { snapshots[id] }
    }

    public func runs(statuses: Set<RunStatus>?, afterRunId: String?, limit: Int) throws -> [Run] {
        guard limit > 0 else { return [] }
        return try lock.withLock {
            var all = snapshots.values.filter { statuses?.contains($0.status) ?? true }
            if let afterRunId {
                guard let cursor = snapshots[afterRunId] else { throw StoreError.unknownCursor(afterRunId) }
                all = all.filter { ($0.createdAt, $0.id) < (cursor.createdAt, cursor.id) }
            }
            return Array(all.sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }.prefix(limit))
        }
    }
}
