import DroverStore
import Foundation

/// `RunOwnership` by per-run leases in the shared store (`run_claims`): one owner per run across every
/// engine and machine on the store, for as long as it renews its lease.
///
/// A claim inserts or takes over the run's row only if nobody holds it (no row, an expired lease, or
/// an owner on this host whose process is gone), raising its `generation`; the race between two
/// claimants is decided by the row lock, so exactly one gets the row. `renew` extends the lease only
/// if the row still carries this owner's generation and has not expired, so an owner that lost its
/// lease (stalled past the expiry, cut off from the server) is refused (`.lost`) and the engine,
/// which renews before every commit, writes nothing more: fencing by generation. `heartbeat()`
/// renews every held lease; `startHeartbeat` calls it on a thread of its own.
///
/// Thread-safe: its own connection, used under a lock, so the heartbeat and the engine can share it.
public final class PostgresRunOwnership: RunOwnership, @unchecked Sendable {
    // @unchecked Sendable: `connection`, `held` and `heartbeatStarted` are only touched under `lock`.
    public let owner = OwnerIdentity.current
    /// How long a lease lasts without renewal.
    public let leaseDuration: Duration
    let lock = NSLock()
    let connection: PostgresConnection
    /// Run id → (generation of our claim, when our lease ends by our own clock).
    var held: [String: (generation: Int, expires: ContinuousClock.Instant)] = [:]
    private var heartbeatStarted = false

    /// Connects to the store at `url` (migrating it if needed, as a store would).
    public init(url: PostgresURL, leaseDuration: Duration = .seconds(30)) throws {
        self.leaseDuration = leaseDuration
        connection = try PostgresConnection(url: url)
        do {
            try PostgresSchema.migrate(connection)
        } catch let error as PostgresError {
            throw StoreError(.unavailable, "cannot prepare the PostgreSQL store \(url): \(error)")
        }
    }

    var leaseMilliseconds: String {
        let (seconds, attoseconds) = leaseDuration.components
        return String(seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }

    public func claim(runId: String) throws {
        try lock.withLock {
            if let mine = held[runId], mine.expires > .now { return }
            let started = ContinuousClock.now
            let taken = try statement(runId) {
                try connection.execute(
                    """
                    INSERT INTO run_claims AS claim (run_id, owner_host, owner_pid, generation, expires_at)
                    VALUES ($1, $2, $3, 1, clock_timestamp() + $4 * interval '1 millisecond')
                    ON CONFLICT (run_id) DO UPDATE SET
                        owner_host = excluded.owner_host, owner_pid = excluded.owner_pid,
                        generation = claim.generation + 1, expires_at = excluded.expires_at
                    WHERE claim.expires_at < clock_timestamp() OR (claim.owner_host = $2 AND claim.owner_pid = ANY($5::int[]))
                    RETURNING generation
                    """,
                    [runId, owner.hostId, String(owner.pid), leaseMilliseconds, "{\(Self.deadLocalOwners(of: runId, connection: connection))}"])
            }
            guard let generation = taken.int(0, 0) else {
                held[runId] = nil
                throw RunOwnershipError(.heldElsewhere, runId: runId, holder: try? holder(of: runId))
            }
            held[runId] = (generation, started + leaseDuration)
        }
    }

    public func renew(runId: String) throws {
        try lock.withLock {
            guard let mine = held[runId] else { throw RunOwnershipError(.lost, runId: runId) }
            try extend(runId, generation: mine.generation)
        }
    }

    /// Extends our lease on `runId`, or forgets it and throws `.lost`. Call under `lock`.
    private func extend(_ runId: String, generation: Int) throws {
        let started = ContinuousClock.now
        let renewed: PostgresResult
        do {
            renewed = try statement(runId) {
                try connection.execute(
                    """
                    UPDATE run_claims SET expires_at = clock_timestamp() + $3 * interval '1 millisecond'
                    WHERE run_id = $1 AND generation = $2 AND expires_at > clock_timestamp()
                    RETURNING 1
                    """,
                    [runId, String(generation), leaseMilliseconds])
            }
        } catch {
            // Unreachable server: the lease may still hold there, but we cannot prove it; stop writing.
            held[runId] = nil
            throw RunOwnershipError(.lost, runId: runId)
        }
        guard renewed.rowCount == 1 else {
            held[runId] = nil
            throw RunOwnershipError(.lost, runId: runId, holder: try? holder(of: runId))
        }
        held[runId] = (generation, started + leaseDuration)
    }

    public func release(runId: String) {
        lock.withLock {
            guard let mine = held.removeValue(forKey: runId) else { return }
            _ = try? connection.execute(
                "DELETE FROM run_claims WHERE run_id = $1 AND generation = $2", [runId, String(mine.generation)])
        }
    }

    /// Whether our lease on `runId` is still running by our own clock (no round trip).
    public func holds(runId: String) -> Bool {
        lock.withLock { held[runId].map { $0.expires > .now } ?? false }
    }

    /// Renews every held lease; those that cannot be renewed are dropped (and `holds` turns false).
    public func heartbeat() {
        lock.withLock {
            for (runId, mine) in held { _ = try? extend(runId, generation: mine.generation) }
        }
    }

    /// Calls `heartbeat()` every third of the lease on a thread of its own; the thread keeps this
    /// object alive, so call it on an ownership meant to last as long as the process.
    public func startHeartbeat() {
        let start = lock.withLock { () -> Bool in
            defer { heartbeatStarted = true }
            return !heartbeatStarted
        }
        guard start else { return }
        let interval = leaseDuration / 3
        let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        let thread = Thread {
            while true {
                Thread.sleep(forTimeInterval: seconds)
                self.heartbeat()
            }
        }
        thread.name = "drover-lease-heartbeat"
        thread.start()
    }

    /// Who holds `runId` now, if anyone.
    private func holder(of runId: String) throws -> OwnerIdentity? {
        let row = try connection.execute("SELECT owner_host, owner_pid FROM run_claims WHERE run_id = $1", [runId])
        guard let host = row.text(0, 0), let pid = row.int(0, 1) else { return nil }
        return OwnerIdentity(hostId: host, pid: Int32(pid))
    }

    /// Pids of owners of `runId` recorded for this host whose process is gone (a crashed engine
    /// here): their lease need not be waited out. Comma-separated, for a Postgres array literal.
    private static func deadLocalOwners(of runId: String, connection: PostgresConnection) throws -> String {
        let row = try connection.execute(
            "SELECT owner_pid FROM run_claims WHERE run_id = $1 AND owner_host = $2", [runId, OwnerIdentity.thisHost])
        guard let pid = row.int(0, 0), pid != Int(getpid()), kill(pid_t(pid), 0) != 0, errno == ESRCH else { return "" }
        return String(pid)
    }

    /// Runs `body`, turning a refused statement into `StoreError` naming the run.
    func statement<T>(_ runId: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PostgresError {
            throw StoreError(.unavailable, "cannot claim run '\(runId)' in the PostgreSQL store \(connection.url): \(error)")
        }
    }
}
