import DroverStore
import Foundation

extension PostgresRunOwnership: WorkerLeases, RunLeaseFence {
    /// Takes the oldest queued run this worker can drive (its drivers all in `drivers`; nil: any),
    /// not in `excluding`, that is `queued` or `running` and leased by nobody (never leased,
    /// released, or expired: its worker died or was cut off), with a new lease generation. Nil when
    /// there is none.
    ///
    /// One statement: the queue row is locked `FOR UPDATE SKIP LOCKED`, so concurrent workers each
    /// skip the rows the others are taking, and the lease row is inserted or taken over only if it
    /// has expired, so an engine that claimed the run meanwhile (to record a gate answer) keeps it.
    public func claimNext(drivers: [String]?, excluding: [String] = []) throws -> ClaimedRun? {
        try lock.withLock {
            let started = ContinuousClock.now
            let taken = try statement("(next in the worker queue)") {
                try connection.execute(
                    """
                    WITH candidate AS (
                        SELECT q.run_id FROM worker_queue q JOIN runs r ON r.id = q.run_id
                        WHERE r.status IN ('queued', 'running')
                          AND ($4::text[] IS NULL OR q.drivers <@ $4::text[])
                          AND q.run_id <> ALL($5::text[])
                          AND NOT EXISTS (SELECT 1 FROM run_claims c WHERE c.run_id = q.run_id AND c.expires_at >= clock_timestamp())
                        ORDER BY q.queued_at, q.run_id
                        LIMIT 1
                        FOR UPDATE OF q SKIP LOCKED
                    )
                    INSERT INTO run_claims AS claim (run_id, owner_host, owner_pid, generation, expires_at)
                    SELECT run_id, $1, $2, 1, clock_timestamp() + $3 * interval '1 millisecond' FROM candidate
                    ON CONFLICT (run_id) DO UPDATE SET
                        owner_host = excluded.owner_host, owner_pid = excluded.owner_pid,
                        generation = claim.generation + 1, expires_at = excluded.expires_at
                    WHERE claim.expires_at < clock_timestamp()
                    RETURNING run_id, generation, (SELECT workspace FROM worker_queue WHERE run_id = claim.run_id)
                    """,
                    [owner.hostId, String(owner.pid), leaseMilliseconds, drivers.map(Self.arrayLiteral), Self.arrayLiteral(excluding)])
            }
            guard let runId = taken.text(0, 0), let generation = taken.int(0, 1), let workspace = taken.text(0, 2) else {
                return nil
            }
            held[runId] = (generation, started + leaseDuration)
            return ClaimedRun(runId: runId, workspace: workspace)
        }
    }

    /// The generation of our lease on `runId` while it runs by our own clock, for the store to
    /// check inside its append transaction.
    public func fencingGeneration(runId: String) -> Int? {
        lock.withLock { held[runId].flatMap { $0.expires > .now ? $0.generation : nil } }
    }

    /// The runs we hold a lease on now.
    public var heldRuns: [String] {
        lock.withLock { held.filter { $0.value.expires > .now }.map(\.key) }
    }

    /// `{"a","b"}`: a PostgreSQL text array literal (driver names hold no quotes or backslashes,
    /// but they are escaped all the same).
    static func arrayLiteral(_ values: [String]) -> String {
        "{" + values.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "}"
    }
}

/// The ownership whose lease generation `PostgresRunStore.append` checks in its own transaction.
public protocol RunLeaseFence: AnyObject, Sendable {
    /// Our lease's generation on `runId`, or nil if we hold none (the append is then refused).
    func fencingGeneration(runId: String) -> Int?
}

/// `WorkerQueue` on the PostgreSQL store: the `worker_queue` table, through a connection of its own
/// (opened on first use, reopened when dropped). A run's row is written once, by the engine that
/// created it: a gate answered from another workspace leaves the run's home as it was.
public final class PostgresWorkerQueue: WorkerQueue, @unchecked Sendable {
    // @unchecked Sendable: `connection` is only touched under `lock`.
    private let url: PostgresURL
    private let lock = NSLock()
    private var connection: PostgresConnection?

    public init(url: PostgresURL) {
        self.url = url
    }

    public func handOver(runId: String, workspace: String, drivers: [String]) throws {
        try lock.withLock {
            let connection = try self.connection ?? PostgresConnection(url: url)
            self.connection = connection
            do {
                // The notification wakes the workers (and is harmless to engines following the
                // store: it names the run's current last seq, which they have already heard).
                try connection.execute(
                    """
                    WITH queued AS (
                        INSERT INTO worker_queue (run_id, workspace, drivers) VALUES ($1, $2, $3::text[])
                        ON CONFLICT (run_id) DO NOTHING
                    )
                    SELECT pg_notify('\(PostgresRunStore.eventsChannel)',
                                     $1 || ' ' || (SELECT coalesce(max(seq), 0) FROM events WHERE run_id = $1))
                    """,
                    [runId, workspace, PostgresRunOwnership.arrayLiteral(drivers.sorted())])
            } catch let error as PostgresError {
                throw StoreError(.unavailable, "cannot leave run '\(runId)' to workers in the PostgreSQL store \(url): \(error)")
            }
        }
    }
}
