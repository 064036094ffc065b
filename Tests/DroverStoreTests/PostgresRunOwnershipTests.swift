// Only with the PostgreSQL trait (on by default), which links the PostgreSQL store.
#if PostgreSQL
import DroverPostgres
import DroverStore
import Foundation
import PostgresTestServer
import Testing

/// Per-run leases in a shared store: one claimant wins a race, a lease that ran out is refused at
/// the next renewal (the engine renews before every commit, so it writes nothing more), a heartbeat
/// keeps a lease past its duration, and a crashed owner on this host need not be waited out.
@Suite(.enabled("needs a PostgreSQL server (see the reason printed above)") { await PostgresStoreTests.isAvailable() })
struct PostgresRunOwnershipTests {
    private func freshStore() async throws -> (url: PostgresURL, schema: String) {
        let schema = "o_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        return (try PostgresURL(try await PostgresTestServer.shared().createSchema(schema, in: PostgresStoreTests.database!)), schema)
    }

    /// Waits until `condition` holds, checking every 20 ms, for at most `timeout`.
    private func wait(for condition: () -> Bool, timeout: Duration = .seconds(10)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    @Test func twoClaimantsRaceAndExactlyOneWinsEachRun() async throws {
        let (url, _) = try await freshStore()
        let first = try PostgresRunOwnership(url: url)
        let second = try PostgresRunOwnership(url: url)
        for run in 1...20 {
            let runId = "race-\(run)"
            let outcomes = Outcomes()
            DispatchQueue.concurrentPerform(iterations: 2) { index in
                let claimant = index == 0 ? first : second
                do {
                    try claimant.claim(runId: runId)
                    outcomes.add("won")
                } catch let error as RunOwnershipError {
                    outcomes.add(error.kind == .heldElsewhere && error.holder == .current ? "lost" : "\(error)")
                } catch {
                    outcomes.add("\(error)")
                }
            }
            #expect(outcomes.all.sorted() == ["lost", "won"], "\(runId)")
            #expect(first.holds(runId: runId) != second.holds(runId: runId))
        }
    }

    @Test func aLeaseThatRanOutIsTakenAndItsOwnerMayNotWriteAgain() async throws {
        let (url, _) = try await freshStore()
        let stalled = try PostgresRunOwnership(url: url, leaseDuration: .milliseconds(300))
        let other = try PostgresRunOwnership(url: url)
        try stalled.claim(runId: "r1")
        let taken = #expect(throws: RunOwnershipError.self) { try other.claim(runId: "r1") }
        #expect(taken?.kind == .heldElsewhere)

        // The owner stalls (no renewal, no heartbeat) past its lease; another engine takes the run.
        #expect(try await wait { !stalled.holds(runId: "r1") })
        #expect(try await wait { (try? other.claim(runId: "r1")) != nil })

        // The stalled owner comes back: its renewal, which the engine makes before every commit, is refused.
        let lost = #expect(throws: RunOwnershipError.self) { try stalled.renew(runId: "r1") }
        #expect(lost?.kind == .lost)
        #expect(!stalled.holds(runId: "r1"))
        // And its release does not free the run from under the new owner.
        stalled.release(runId: "r1")
        try other.renew(runId: "r1")
        #expect(other.holds(runId: "r1"))
    }

    @Test func aHeartbeatKeepsTheLeasePastItsDuration() async throws {
        let (url, _) = try await freshStore()
        // A lease long enough that a heartbeat (every third of it) delayed by a loaded machine still
        // lands in time: at 1.5 s, a renewal 1 s late on a busy 2-core machine let the lease lapse (and a
        // lapsed lease is rightly not renewed). The test is about outliving lease durations, not the margin.
        let owner = try PostgresRunOwnership(url: url, leaseDuration: .seconds(3))
        let other = try PostgresRunOwnership(url: url)
        try owner.claim(runId: "r1")
        owner.startHeartbeat()
        try await Task.sleep(for: .milliseconds(6500))  // past two lease durations: what is under test
        #expect(owner.holds(runId: "r1"))
        #expect(throws: RunOwnershipError.self) { try other.claim(runId: "r1") }
        try owner.renew(runId: "r1")
    }

    @Test func aCrashedOwnerOnThisHostIsNotWaitedOut() async throws {
        let (url, schema) = try await freshStore()
        let owner = try PostgresRunOwnership(url: url)
        // A lease of an hour left by a process of this host that no longer exists.
        var deadPid: Int32 = 4_000_000
        while kill(deadPid, 0) == 0 || errno != ESRCH { deadPid -= 1 }
        try await PostgresTestServer.shared().sql(
            """
            INSERT INTO \(schema).run_claims VALUES ('r1', '\(OwnerIdentity.thisHost)', \(deadPid), 7, now() + interval '1 hour');
            INSERT INTO \(schema).run_claims VALUES ('r2', 'another-host', \(deadPid), 3, now() + interval '1 hour');
            """, database: PostgresStoreTests.database!)
        try owner.claim(runId: "r1")
        #expect(owner.holds(runId: "r1"))
        // A pid on another host means nothing here: that lease is waited out.
        let elsewhere = #expect(throws: RunOwnershipError.self) { try owner.claim(runId: "r2") }
        #expect(elsewhere?.holder == OwnerIdentity(hostId: "another-host", pid: deadPid))
    }
}

/// Results collected from concurrent claims.
private final class Outcomes: @unchecked Sendable {
    // @unchecked: `values` is only touched under `lock`.
    private let lock = NSLock()
    private var values: [String] = []
    func add(_ value: String) { lock.withLock { values.append(value) } }
    var all: [String] { lock.withLock { values } }
}
#endif
