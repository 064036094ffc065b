import DroverProtocol
import DroverStore
import Foundation

/// The `RunStore` on a PostgreSQL server: the same `runs` and `events` tables as the SQLite store,
/// shared by every engine and command that opens the same URL, on any machine.
///
/// One instance is one blocking connection and belongs to one owner (see `RunStore`); it is not
/// thread-safe. Appends are one transaction; two writers of one seq are told apart by the primary
/// key (run_id, seq), so the second gets `StoreError.seqConflict` even when both passed the check.
/// Each append announces itself on the channel `drover_events` (`NOTIFY`, sent at commit) with the
/// payload `<run id> <last seq>`, for engines that follow the store.
public final class PostgresRunStore: RunStore {
    /// The channel appends are announced on.
    public static let eventsChannel = "drover_events"

    /// Where the store is (`user@host:port/database`, no password).
    public let url: PostgresURL
    /// Whether this store refuses writes (it never creates or migrates the schema).
    public let isReadOnly: Bool

    let connection: PostgresConnection
    private let codec = EventCodec()
    private let snapshots = SnapshotEncoder()
    /// Whose lease every append checks, inside its transaction (nil: no check, for a store used
    /// without ownership, such as the conformance suite's).
    var fence: (any RunLeaseFence)?

    /// Connects to `url`. A writable store creates or upgrades the schema; a read-only one needs an
    /// existing store and throws `StoreError` `.notFound` otherwise, so `drover runs` can say there
    /// is nothing yet.
    /// - Throws: `StoreError` `.unavailable` (server down, wrong password, no such database: the
    ///   message names host, port and database, never the password), `.unsupportedSchema`.
    public init(url: PostgresURL, readOnly: Bool = false) throws {
        self.url = url
        self.isReadOnly = readOnly
        connection = try PostgresConnection(url: url)
        do {
            if readOnly {
                try connection.execute("SET default_transaction_read_only = on")
                guard let version = try PostgresSchema.version(connection), version > 0 else {
                    throw StoreError(.notFound, "no drover store in the PostgreSQL database \(url) (nothing has run there yet)")
                }
                try PostgresSchema.check(version, url: url)
            } else {
                try PostgresSchema.migrate(connection)
            }
        } catch let error as PostgresError {
            throw StoreError(.unavailable, "cannot prepare the PostgreSQL store \(url): \(error)")
        }
    }

    /// Connects to the store at `url` (see `init(url:readOnly:)`).
    public convenience init(url: String, readOnly: Bool = false) throws {
        try self.init(url: try PostgresURL(url), readOnly: readOnly)
    }

    // MARK: Writing

    /// Rows per INSERT: far below the protocol's 65535 parameters, far above a commit's batch.
    private static let rowsPerInsert = 1000

    /// Appends `events` and replaces the snapshot in one transaction (see `RunStore.append`).
    /// With a fence, the writer's lease is checked inside the transaction (`checkLease`).
    /// - Throws: `StoreError` `.seqConflict`, `.invalidAppend`, `.readOnly`, `.unavailable`;
    ///   `RunOwnershipError` `.lost` when the lease is not the writer's; nothing is written when it throws.
    public func append(_ events: [Event], snapshot: Run) throws {
        try append(events, snapshot: snapshot, checkingLease: true)
    }

    /// `append` without the lease check: a gate answer stored by an engine that does not drive the
    /// run (see `RunStore.appendAsGuest`); the driver hears it and acts on it.
    public func appendAsGuest(_ events: [Event], snapshot: Run) throws {
        try append(events, snapshot: snapshot, checkingLease: false)
    }

    private func append(_ events: [Event], snapshot: Run, checkingLease: Bool) throws {
        guard !isReadOnly else { throw StoreError(.readOnly, "the PostgreSQL store \(url) is open read-only") }
        try AppendRules.checkBatch(events, of: snapshot.id)
        let rows = try events.map { [$0.runId, String($0.seq), $0.type, $0.at, String(decoding: try codec.encodeData(of: $0.body), as: UTF8.self)] }
        let snapshotJSON = String(decoding: try snapshots.encode(snapshot), as: UTF8.self)
        let lastSeq = events.last?.seq ?? snapshot.lastSeq

        try storeErrors(runId: snapshot.id) {
            try connection.transaction {
                if checkingLease { try checkLease(runId: snapshot.id) }
                if let first = events.first {
                    let stored = try self.lastSeq(runId: snapshot.id)
                    try AppendRules.checkContinuation(firstSeq: first.seq, stored: stored, runId: snapshot.id)
                    for chunk in stride(from: 0, to: rows.count, by: Self.rowsPerInsert) {
                        let batch = rows[chunk..<min(chunk + Self.rowsPerInsert, rows.count)]
                        let values = batch.indices.map { row in
                            let base = (row - chunk) * 5
                            return "($\(base + 1), $\(base + 2)::bigint, $\(base + 3), $\(base + 4), $\(base + 5)::json)"
                        }
                        do {
                            try connection.execute(
                                "INSERT INTO events (run_id, seq, type, at, data) VALUES " + values.joined(separator: ", "),
                                batch.flatMap { $0 })
                        } catch let error as PostgresError where error.isUniqueViolation {
                            // Another writer committed these seqs after the check above.
                            throw StoreError.seqConflict(runId: snapshot.id, seq: first.seq, stored: stored)
                        }
                    }
                }
                try connection.execute(
                    """
                    WITH stored AS (
                        INSERT INTO runs (id, pipeline_id, status, created_at, updated_at, snapshot)
                        VALUES ($1, $2, $3, $4, $5, $6::json)
                        ON CONFLICT (id) DO UPDATE SET
                            pipeline_id = excluded.pipeline_id, status = excluded.status, created_at = excluded.created_at,
                            updated_at = excluded.updated_at, snapshot = excluded.snapshot
                        RETURNING id
                    )
                    SELECT pg_notify('\(Self.eventsChannel)', id || ' ' || $7) FROM stored
                    """,
                    [snapshot.id, snapshot.pipelineId, snapshot.status.rawValue, snapshot.createdAt, snapshot.updatedAt,
                     snapshotJSON, String(lastSeq)])
            }
        }
    }

    /// Appends only while the run's lease is ours: its row still carries our generation and has not
    /// expired, checked inside the append's transaction and locked `FOR SHARE` until it commits, so
    /// a worker that takes the run over (a new generation) waits for this append or makes it fail.
    /// Renewing before the commit (the engine does) is not enough on its own: the lease can run out
    /// between the renewal and the append. Call inside the transaction.
    /// - Throws: `RunOwnershipError` `.lost` when the lease is not ours (any more).
    private func checkLease(runId: String) throws {
        guard let fence else { return }
        guard let generation = fence.fencingGeneration(runId: runId) else { throw RunOwnershipError(.lost, runId: runId) }
        let current = try connection.execute(
            """
            SELECT 1 FROM run_claims WHERE run_id = $1 AND generation = $2 AND expires_at > clock_timestamp() FOR SHARE
            """,
            [runId, String(generation)])
        guard current.rowCount == 1 else { throw RunOwnershipError(.lost, runId: runId) }
    }

    /// Makes every append check `leases`' lease on its run first (see `checkLease`): fencing for a
    /// worker, whose store and leases are separate objects.
    public func fence(with leases: any RunLeaseFence) {
        fence = leases
    }

    /// The highest stored seq of a run, 0 if it has no events.
    public func lastSeq(runId: String) throws -> Int {
        try storeErrors(runId: runId) {
            try connection.execute("SELECT coalesce(max(seq), 0) FROM events WHERE run_id = $1", [runId]).int(0, 0) ?? 0
        }
    }

    // MARK: Reading

    public func events(runId: String, afterSeq: Int, limit: Int) throws -> [Event] {
        guard limit > 0 else { return [] }
        let result = try storeErrors(runId: runId) {
            try connection.execute(
                "SELECT seq, type, at, data FROM events WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                [runId, String(afterSeq), String(limit)])
        }
        return try (0..<result.rowCount).map { row in
            let seq = result.int(row, 0) ?? 0
            let type = result.text(row, 1) ?? ""
            let body = try codec.decodeBody(type: type, data: result.data(row, 3) ?? Data(), runId: runId, seq: seq)
            return Event(runId: runId, seq: seq, at: result.text(row, 2) ?? "", body: body)
        }
    }

    public func run(id: String) throws -> Run? {
        let result = try storeErrors(runId: id) {
            try connection.execute("SELECT snapshot FROM runs WHERE id = $1", [id])
        }
        guard result.rowCount > 0 else { return nil }
        return try codec.decodeSnapshot(result.data(0, 0) ?? Data(), runId: id)
    }

    /// Snapshots newest first by (`createdAt`, `id`), as `SQLiteRunStore.runs`.
    public func runs(statuses: Set<RunStatus>?, afterRunId: String?, limit: Int) throws -> [Run] {
        guard limit > 0, statuses?.isEmpty != true else { return [] }
        var conditions: [String] = []
        var parameters: [String?] = []
        if let statuses {
            parameters.append("{" + statuses.map(\.rawValue).sorted().joined(separator: ",") + "}")
            conditions.append("status = ANY($\(parameters.count)::text[])")
        }
        if let afterRunId {
            parameters.append(afterRunId)
            let cursor = parameters.count
            let found = try storeErrors(runId: afterRunId) {
                try connection.execute("SELECT 1 FROM runs WHERE id = $1", [afterRunId])
            }
            guard found.rowCount > 0 else { throw StoreError.unknownCursor(afterRunId) }
            conditions.append("(created_at, id) < ((SELECT created_at FROM runs WHERE id = $\(cursor)), $\(cursor))")
        }
        parameters.append(String(limit))
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let result = try storeErrors(runId: afterRunId ?? "") {
            try connection.execute(
                "SELECT id, snapshot FROM runs \(filter) ORDER BY created_at DESC, id DESC LIMIT $\(parameters.count)",
                parameters)
        }
        return try (0..<result.rowCount).map { row in
            try codec.decodeSnapshot(result.data(row, 1) ?? Data(), runId: result.text(row, 0) ?? "")
        }
    }

    /// How many runs have one of `statuses` (no snapshot is read).
    public func countRuns(statuses: Set<RunStatus>) throws -> Int {
        guard !statuses.isEmpty else { return 0 }
        let result = try storeErrors(runId: "") {
            try connection.execute("SELECT count(*) FROM runs WHERE status = ANY($1::text[])",
                                   ["{" + statuses.map(\.rawValue).sorted().joined(separator: ",") + "}"])
        }
        return Int(result.text(0, 0) ?? "") ?? 0
    }

    /// Runs `body`, turning a statement the server refused into a `StoreError` that names the store.
    private func storeErrors<T>(runId: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PostgresError {
            throw StoreError(.unavailable, "the PostgreSQL store \(url) refused a statement (run '\(runId)'): \(error)")
        }
    }
}
