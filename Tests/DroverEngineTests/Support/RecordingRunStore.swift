import DroverProtocol
import DroverStore
import Foundation
import PostgresTestServer

/// The store as a test's engine sees it: an `InMemoryRunStore` whose appends (one per commit) are
/// recorded, so a test can tell how events were grouped into transactions, and which can be told to
/// refuse appends, as a full disk does.
///
/// `@unchecked Sendable`: `recorded`, `refusal`, `refused` and `eventReads` are only touched under `lock`; the inner
/// store is Sendable.
final class RecordingRunStore: RunStore, @unchecked Sendable {
    /// One append: its event types and the snapshot's status after it.
    struct Commit: Sendable, Hashable {
        var types: [String]
        var status: RunStatus
    }

    let inner: InMemoryRunStore
    private let lock = NSLock()
    private var recorded: [String: [Commit]] = [:]
    private var refusal: StoreError?
    private var refused = 0
    private var eventReads: [String: Int] = [:]
    private let refusedChanged = AsyncCondition()

    init(_ inner: InMemoryRunStore) {
        self.inner = inner
    }

    /// The commits of `runId` so far, oldest first.
    func commits(of runId: String) -> [Commit] {
        lock.withLock { recorded[runId] ?? [] }
    }

    /// How many times `runId`'s events were read.
    func eventReads(of runId: String) -> Int {
        lock.withLock { eventReads[runId] ?? 0 }
    }

    /// From now on appends fail with `error` (nothing written), or succeed again when nil.
    func refuseAppends(_ error: StoreError?) {
        lock.withLock { refusal = error }
    }

    /// Waits until at least `count` appends were refused, up to `timeout`.
    func waitForRefusals(_ count: Int, timeout: Duration = hangBound) async throws {
        let deadline = ContinuousClock.now + timeout
        while lock.withLock({ refused }) < count {
            guard ContinuousClock.now < deadline else { throw TestTimeout(what: "\(count) refused appends") }
            await refusedChanged.wait(until: deadline) { [self] in lock.withLock { refused >= count } }
        }
    }

    func append(_ events: [Event], snapshot: Run) throws {
        if let refusal = lock.withLock({ () -> StoreError? in
            if refusal != nil { refused += 1 }
            return refusal
        }) {
            refusedChanged.signalAll()
            throw refusal
        }
        try inner.append(events, snapshot: snapshot)
        lock.withLock { recorded[snapshot.id, default: []].append(Commit(types: events.map(\.type), status: snapshot.status)) }
    }

    func events(runId: String, afterSeq: Int, limit: Int) throws -> [Event] {
        lock.withLock { eventReads[runId, default: 0] += 1 }
        return try inner.events(runId: runId, afterSeq: afterSeq, limit: limit)
    }

    func run(id: String) throws -> Run? { try inner.run(id: id) }

    func runs(statuses: Set<RunStatus>?, afterRunId: String?, limit: Int) throws -> [Run] {
        try inner.runs(statuses: statuses, afterRunId: afterRunId, limit: limit)
    }
}
