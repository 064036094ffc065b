// Only with the PostgreSQL trait (on by default), which links the PostgreSQL store.
#if PostgreSQL
import DroverPostgres
import DroverProtocol
import DroverStore
import Foundation
import PostgresTestServer
import Testing

/// The workers' queue and fencing on a real server: of two workers taking from one queue at once,
/// each run goes to exactly one; a worker takes only runs it has the drivers for, and only runs
/// that are queued or running and unleased; and an append by an owner whose lease was taken over
/// is refused inside the append's own transaction, even when the owner thinks it still holds it.
@Suite(.enabled("needs a PostgreSQL server (see the reason printed above)") { await PostgresStoreTests.isAvailable() })
struct PostgresWorkerQueueTests {
    private func freshStore() async throws -> (url: PostgresURL, store: PostgresRunStore) {
        let schema = "q_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let url = try PostgresURL(try await PostgresTestServer.shared().createSchema(schema, in: PostgresStoreTests.database!))
        return (url, try PostgresRunStore(url: url))
    }

    /// Stores run `id` as `status` (one `run.created` event) and leaves it to workers needing `drivers`.
    private func queue(_ id: String, status: RunStatus = .queued, drivers: [String] = ["fake"], store: PostgresRunStore, url: PostgresURL) throws {
        try store.append(Fixtures.events(id, count: 1), snapshot: Fixtures.run(id, status: status, lastSeq: 1))
        try PostgresWorkerQueue(url: url).handOver(runId: id, workspace: "/work/\(id)", drivers: drivers)
    }

    @Test func twoWorkersTakingAtOnceGetEachRunExactlyOnce() async throws {
        let (url, store) = try await freshStore()
        for index in 1...20 { try queue("run-\(index)", store: store, url: url) }
        let workers = [try PostgresRunOwnership(url: url), try PostgresRunOwnership(url: url)]
        let taken = Taken()
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            while let claimed = try? workers[index].claimNext(drivers: nil) { taken.add(claimed.runId, by: index) }
        }
        #expect(taken.runs.sorted() == (1...20).map { "run-\($0)" }.sorted(), "every run once: \(taken.runs)")
        for (runId, worker) in taken.byRun { #expect(workers[worker].holds(runId: runId)) }
    }

    @Test func aWorkerTakesOnlyRunsItCanDriveThatNobodyLeases() async throws {
        let (url, store) = try await freshStore()
        try queue("needs-claude", drivers: ["claude"], store: store, url: url)
        try queue("blocked", status: .blocked, store: store, url: url)
        try queue("leased", store: store, url: url)
        try queue("free", drivers: ["fake", "codex"], store: store, url: url)
        let engine = try PostgresRunOwnership(url: url)
        try engine.claim(runId: "leased")

        let worker = try PostgresRunOwnership(url: url)
        #expect(try worker.claimNext(drivers: ["fake", "codex"]) == ClaimedRun(runId: "free", workspace: "/work/free"))
        #expect(try worker.claimNext(drivers: ["fake", "codex"]) == nil, "claude runs, blocked runs and leased runs stay")
        #expect(try worker.claimNext(drivers: nil, excluding: ["needs-claude"]) == nil)
        #expect(try worker.claimNext(drivers: nil)?.runId == "needs-claude")
        // Released by the engine that held it: now it may be taken.
        engine.release(runId: "leased")
        #expect(try worker.claimNext(drivers: nil)?.runId == "leased")
    }

    @Test func anAppendAfterTheLeaseWasTakenOverIsRefusedInItsTransaction() async throws {
        let (url, store) = try await freshStore()
        try queue("r1", status: .running, store: store, url: url)
        // Long enough for the first append to land within it on a loaded machine; what follows waits it out.
        let stalled = try PostgresRunOwnership(url: url, leaseDuration: .seconds(3))
        #expect(try stalled.claimNext(drivers: nil)?.runId == "r1")
        let fenced = try PostgresRunStore(url: url)
        fenced.fence(with: stalled)
        try fenced.append(Fixtures.events("r1", count: 1, from: 2), snapshot: Fixtures.run("r1", lastSeq: 2))

        // The lease runs out and another worker takes the run over. The store, not the stalled
        // worker's clock, must refuse: make the stalled owner's own record say it still holds.
        let deadline = ContinuousClock.now + .seconds(60)
        let rescuer = try PostgresRunOwnership(url: url)
        var taken: ClaimedRun?
        while taken == nil, ContinuousClock.now < deadline {
            taken = try rescuer.claimNext(drivers: nil)
            if taken == nil { try await Task.sleep(for: .milliseconds(50)) }  // polling interval
        }
        #expect(taken?.runId == "r1")
        let pretending = Pretending(generation: 1)
        let stale = try PostgresRunStore(url: url)
        stale.fence(with: pretending)
        let refused = #expect(throws: RunOwnershipError.self) {
            try stale.append(Fixtures.events("r1", count: 1, from: 3), snapshot: Fixtures.run("r1", lastSeq: 3))
        }
        #expect(refused?.kind == .lost)
        #expect(try store.lastSeq(runId: "r1") == 2, "nothing of the refused append was stored")
        // The stalled worker's own store refuses too (its clock says the lease is over).
        #expect(throws: RunOwnershipError.self) {
            try fenced.append(Fixtures.events("r1", count: 1, from: 3), snapshot: Fixtures.run("r1", lastSeq: 3))
        }
        // The new holder appends.
        let current = try PostgresRunStore(url: url)
        current.fence(with: rescuer)
        try current.append(Fixtures.events("r1", count: 1, from: 3), snapshot: Fixtures.run("r1", lastSeq: 3))
    }
}

/// An owner whose own record still says it holds generation `generation`, whatever the store says.
private final class Pretending: RunLeaseFence {
    let generation: Int
    init(generation: Int) { self.generation = generation }
    func fencingGeneration(runId: String) -> Int? { generation }
}

/// Runs taken by each worker, collected from concurrent claims.
private final class Taken: @unchecked Sendable {
    // @unchecked: `values` is only touched under `lock`.
    private let lock = NSLock()
    private var values: [(String, Int)] = []
    func add(_ runId: String, by worker: Int) { lock.withLock { values.append((runId, worker)) } }
    var runs: [String] { lock.withLock { values.map(\.0) } }
    var byRun: [(String, Int)] { lock.withLock { values } }
}
#endif
