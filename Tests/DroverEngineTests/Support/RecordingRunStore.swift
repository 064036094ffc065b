import DroverProtocol
import DroverStore
import Foundation

/// The store as a test's engine sees it: an `InMemoryRunStore` whose appends (one per commit) are
/// recorded, so a test can tell how events were grouped into transactions.
///
/// `@unchecked Sendable`: `commits` is only read and written under `lock`; the inner store is Sendable.
final class RecordingRunStore: RunStore, @unchecked Sendable {
    /// One append: its event types and the snapshot's status after it.
    struct Commit: Sendable, Hashable {
        var types: [String]
        var status: RunStatus
    }

    let inner: InMemoryRunStore
    private let lock = NSLock()
    private var recorded: [String: [Commit]] = [:]

    init(_ inner: InMemoryRunStore) {
        self.inner = inner
    }

    /// The commits of `runId` so far, oldest first.
    func commits(of runId: String) -> [Commit] {
        lock.withLock { recorded[runId] ?? [] }
    }

    func append(_ events: [Event], snapshot: Run) throws {
        try inner.append(events, snapshot: snapshot)
        lock.withLock { recorded[snapshot.id, default: []].append(Commit(types: events.map(\.type), status: snapshot.status)) }
    }

    func events(runId: String, afterSeq: Int, limit: Int) throws -> [Event] {
        try inner.events(runId: runId, afterSeq: afterSeq, limit: limit)
    }

    func run(id: String) throws -> Run? { try inner.run(id: id) }

    func runs(statuses: Set<RunStatus>?, afterRunId: String?, limit: Int) throws -> [Run] {
        try inner.runs(statuses: statuses, afterRunId: afterRunId, limit: limit)
    }
}
