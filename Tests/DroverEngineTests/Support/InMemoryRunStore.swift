import DroverEngine
import DroverProtocol
import Foundation

/// A `RunStore` in memory with the same contract as the SQLite store: seqs must follow on.
///
/// `@unchecked Sendable`: every stored property is read and written only while `lock` is held,
/// so tests may inspect it while the engine owns it.
final class InMemoryRunStore: RunStore, @unchecked Sendable {
    private let lock = NSLock()
    private var snapshots: [String: Run] = [:]
    private var logs: [String: [Event]] = [:]
    private(set) var appendCount = 0

    struct SeqConflict: Error {}

    func append(_ events: [Event], snapshot: Run) throws {
        try lock.withLock {
            var log = logs[snapshot.id] ?? []
            for event in events {
                guard event.runId == snapshot.id, event.seq == (log.last?.seq ?? 0) + 1 else { throw SeqConflict() }
                log.append(event)
            }
            logs[snapshot.id] = log
            snapshots[snapshot.id] = snapshot
            appendCount += 1
        }
    }

    func events(runId: String, afterSeq: Int, limit: Int) throws -> [Event] {
        lock.withLock { Array((logs[runId] ?? []).filter { $0.seq > afterSeq }.prefix(limit)) }
    }

    func run(id: String) throws -> Run? {
        lock.withLock { snapshots[id] }
    }

    func runs(statuses: Set<RunStatus>?, afterRunId: String?, limit: Int) throws -> [Run] {
        lock.withLock {
            var all = snapshots.values
                .filter { statuses?.contains($0.status) ?? true }
                .sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }
            if let afterRunId, let cursor = snapshots[afterRunId] {
                all = all.filter { ($0.createdAt, $0.id) < (cursor.createdAt, cursor.id) }
            }
            return Array(all.prefix(limit))
        }
    }

    /// Every event of a run (for assertions).
    func allEvents(_ runId: String) -> [Event] {
        lock.withLock { logs[runId] ?? [] }
    }
}
