import CSQLite
import DroverProtocol
import DroverStore
import Foundation

/// The `RunStore` on disk: one SQLite database (WAL) with a `runs` table of snapshots and an
/// append-only `events` table.
///
/// One instance belongs to one owner (the engine actor, or one CLI command); it is not thread-safe.
/// Other processes may read the same file at the same time through `readOnly` stores.
public final class SQLiteRunStore: RunStore {
    /// The schema this build reads and writes, kept in `PRAGMA user_version`.
    public static let schemaVersion = 1

    /// The database file.
    public let path: String
    /// Whether this store refuses writes (it never creates or migrates the database).
    public let isReadOnly: Bool

    let database: SQLiteDatabase
    private let codec = EventCodec()
    private let snapshots = SnapshotEncoder()
    /// Runs in unended statuses as this store's appends left them (`countRuns`); only a writable store keeps them.
    private var kept = KeptRunStatuses()

    /// Opens the store at `path`.
    ///
    /// A writable store creates the file (mode 0600) and its folder (0700) if missing, switches to WAL
    /// and creates the tables. A read-only store needs an existing store and throws
    /// `StoreError` of kind `.notFound` otherwise, so `drover runs` can say there is nothing yet.
    /// - Parameter readOnly: open for reading only, e.g. while another process drives the store.
    public init(path: String, readOnly: Bool = false) throws {
        self.path = path
        self.isReadOnly = readOnly
        try PrivateFiles.refuseSymlink(path)
        if readOnly {
            guard FileManager.default.fileExists(atPath: path) else {
                throw StoreError(.notFound, "no drover store at \(path) (nothing has run in this workspace yet)")
            }
        } else {
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
            if !FileManager.default.fileExists(atPath: folder) { try PrivateFiles.makeDirectory(folder) }
            // Create the file ourselves so it is user-only from its first byte; SQLite would use 0644.
            try PrivateFiles.createFile(path, mode: 0o600)
        }
        database = try SQLiteDatabase(path: path, readOnly: readOnly)
        if readOnly {
            try checkSchemaVersion(try database.scalarInt("PRAGMA user_version") ?? 0, allowEmpty: false)
        } else {
            _ = try database.scalarText("PRAGMA journal_mode = WAL")
            // In WAL mode NORMAL stays consistent after a crash and may only lose the last commits
            // on power loss; FULL would fsync on every append.
            try database.exec("PRAGMA synchronous = NORMAL")
            try migrate()
            // SQLite gives -wal and -shm the database's mode already; this holds if a build does not.
            try PrivateFiles.restrict(path + "-wal", mode: 0o600)
            try PrivateFiles.restrict(path + "-shm", mode: 0o600)
        }
    }

    // MARK: Schema

    private func migrate() throws {
        try database.transaction {
            let version = try database.scalarInt("PRAGMA user_version") ?? 0
            try checkSchemaVersion(version, allowEmpty: true)
            guard version < Self.schemaVersion else { return }
            try database.exec(
                """
                CREATE TABLE IF NOT EXISTS runs (
                    id TEXT PRIMARY KEY,
                    pipeline_id TEXT NOT NULL,
                    status TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    updated_at TEXT NOT NULL,
                    snapshot TEXT NOT NULL
                );
                CREATE INDEX IF NOT EXISTS runs_by_creation ON runs (created_at, id);
                CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, created_at, id);
                CREATE TABLE IF NOT EXISTS events (
                    run_id TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    type TEXT NOT NULL,
                    at TEXT NOT NULL,
                    data TEXT NOT NULL,
                    PRIMARY KEY (run_id, seq)
                ) WITHOUT ROWID;
                PRAGMA user_version = \(Self.schemaVersion);
                """)
        }
    }

    private func checkSchemaVersion(_ version: Int, allowEmpty: Bool) throws {
        if version > Self.schemaVersion {
            throw StoreError(
                .unsupportedSchema,
                "\(path) has schema version \(version) but this drover knows up to \(Self.schemaVersion); upgrade drover")
        }
        if version == 0, !allowEmpty {
            throw StoreError(.notFound, "no drover store at \(path) (the database is empty)")
        }
    }

    // MARK: Writing

    private enum SQL {
        static let lastSeq = "SELECT max(seq) FROM events WHERE run_id = ?1"
        static let insertEvent = "INSERT INTO events (run_id, seq, type, at, data) VALUES (?1, ?2, ?3, ?4, ?5)"
        /// A run's pipeline and creation time never change, so an update leaves them (and the index on
        /// `created_at`, which SQLite would otherwise rewrite at every append) alone.
        static let upsertRun = """
            INSERT INTO runs (id, pipeline_id, status, created_at, updated_at, snapshot)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6)
            ON CONFLICT (id) DO UPDATE SET
                status = excluded.status, updated_at = excluded.updated_at, snapshot = excluded.snapshot
            """
        static let events = """
            SELECT seq, type, at, data FROM events WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3
            """
        static let run = "SELECT snapshot FROM runs WHERE id = ?1"
        static let createdAt = "SELECT created_at FROM runs WHERE id = ?1"
        static let countOne = "SELECT count(*) FROM runs WHERE status IN (?)"
        static let idsInStatus = "SELECT id FROM runs WHERE status = ?1"
    }

    /// Appends `events` and replaces the snapshot in one transaction.
    ///
    /// Checks, before anything is written, that every event belongs to `snapshot.id` and that the seqs
    /// continue the stored ones without a gap (the first event of a run has seq 1).
    /// - Throws: `StoreError` `.seqConflict` if a seq is taken, `.invalidAppend` for a gap or another
    ///   run's event, `.readOnly` on a read-only store, `.full` when the disk is full, `.io` when the
    ///   file system fails. Nothing is written when it throws.
    public func append(_ events: [Event], snapshot: Run) throws {
        guard !isReadOnly else { throw StoreError(.readOnly, "the store at \(path) is open read-only") }
        try AppendRules.checkBatch(events, of: snapshot.id)
        // Encode before taking the write lock, so it is held only for the inserts.
        let rows = try events.map { (event: $0, data: try codec.encodeData(of: $0.body)) }
        let snapshotJSON = try snapshots.encode(snapshot)

        do {
            try insert(rows, snapshot: snapshot, snapshotJSON: snapshotJSON)
        } catch let error as SQLiteError {
            kept.forget()
            throw Self.writeFailure(error, path: path)
        } catch {
            kept.forget()
            throw error
        }
        kept.committed(snapshot.id, status: snapshot.status)
    }

    /// A failed write as a `StoreError` callers can act on: a full disk (`.full`) or an I/O error
    /// (`.io`) may go away, so the engine keeps what it could not store and tries again.
    static func writeFailure(_ error: SQLiteError, path: String) -> any Error {
        switch error.primaryCode {
        case SQLITE_FULL:
            return StoreError(.full, "the disk holding the store \(path) is full (\(error.message)); nothing was written: free some space")
        case SQLITE_IOERR:
            return StoreError(.io, "cannot write the store \(path) (\(error.message)); nothing was written")
        case SQLITE_READONLY:
            return StoreError(.readOnly, "cannot write the store \(path): it has become read-only (\(error.message))")
        default:
            return error
        }
    }

    private func insert(_ rows: [(event: Event, data: [UInt8])], snapshot: Run, snapshotJSON: [UInt8]) throws {
        try database.transaction {
            if let first = rows.first?.event {
                let stored = try lastSeq(runId: snapshot.id)
                try AppendRules.checkContinuation(firstSeq: first.seq, stored: stored, runId: snapshot.id)
                let insert = try database.cached(SQL.insertEvent)
                defer { insert.reset() }
                for row in rows {
                    try insert.bind(row.event.runId, at: 1)
                    try insert.bind(row.event.seq, at: 2)
                    try insert.bind(row.event.type, at: 3)
                    try insert.bind(row.event.at, at: 4)
                    try insert.bindText(row.data, at: 5)
                    do {
                        try insert.run()
                    } catch let error as SQLiteError where error.isConstraintViolation {
                        // Only reachable if another writer raced past the check above.
                        throw StoreError.seqConflict(runId: snapshot.id, seq: row.event.seq, stored: stored)
                    }
                }
            }
            let upsert = try database.cached(SQL.upsertRun)
            defer { upsert.reset() }
            try upsert.bind(snapshot.id, at: 1)
            try upsert.bind(snapshot.pipelineId, at: 2)
            try upsert.bind(snapshot.status.rawValue, at: 3)
            try upsert.bind(snapshot.createdAt, at: 4)
            try upsert.bind(snapshot.updatedAt, at: 5)
            try upsert.bindText(snapshotJSON, at: 6)
            try upsert.run()
        }
    }

    /// The highest stored seq of a run, 0 if it has no events.
    public func lastSeq(runId: String) throws -> Int {
        let statement = try database.cached(SQL.lastSeq)
        defer { statement.reset() }
        try statement.bind(runId, at: 1)
        guard try statement.step(), !statement.isNull(0) else { return 0 }
        return statement.int(0)
    }

    // MARK: Reading

    /// Events of a run with `seq > afterSeq`, ascending, at most `limit` (none if `limit <= 0`);
    /// empty for an unknown run.
    public func events(runId: String, afterSeq: Int, limit: Int) throws -> [Event] {
        guard limit > 0 else { return [] }
        let statement = try database.cached(SQL.events)
        defer { statement.reset() }
        try statement.bind(runId, at: 1)
        try statement.bind(afterSeq, at: 2)
        try statement.bind(limit, at: 3)
        var events: [Event] = []
        while try statement.step() {
            let seq = statement.int(0)
            let type = statement.text(1) ?? ""
            let at = statement.text(2) ?? ""
            let body = try codec.decodeBody(type: type, data: statement.textData(3) ?? Data(), runId: runId, seq: seq)
            events.append(Event(runId: runId, seq: seq, at: at, body: body))
        }
        return events
    }

    /// The latest snapshot of a run, or nil if there is no such run.
    public func run(id: String) throws -> Run? {
        let statement = try database.cached(SQL.run)
        defer { statement.reset() }
        try statement.bind(id, at: 1)
        guard try statement.step() else { return nil }
        return try codec.decodeSnapshot(statement.textData(0) ?? Data(), runId: id)
    }

    /// Snapshots newest first by (`createdAt`, `id`), optionally only those in `statuses`.
    ///
    /// Paging: pass the id of the last run of the previous page as `afterRunId` to get the runs
    /// strictly after it in this order; a page shorter than `limit` is the last. An empty `statuses`
    /// matches nothing; `limit <= 0` returns nothing.
    /// - Throws: `StoreError` `.notFound` if `afterRunId` names no run.
    public func runs(statuses: Set<RunStatus>?, afterRunId: String?, limit: Int) throws -> [Run] {
        guard limit > 0, statuses?.isEmpty != true else { return [] }
        var conditions: [String] = []
        var bindings: [String] = []
        if let statuses {
            let values = statuses.map(\.rawValue).sorted()
            conditions.append("status IN (\(values.map { _ in "?" }.joined(separator: ", ")))")
            bindings += values
        }
        if let afterRunId {
            let lookup = try database.cached(SQL.createdAt)
            defer { lookup.reset() }
            try lookup.bind(afterRunId, at: 1)
            guard try lookup.step(), let createdAt = lookup.text(0) else {
                throw StoreError.unknownCursor(afterRunId)
            }
            conditions.append("(created_at, id) < (?, ?)")
            bindings += [createdAt, afterRunId]
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let statement = try database.cached(
            "SELECT id, snapshot FROM runs \(filter) ORDER BY created_at DESC, id DESC LIMIT ?")
        defer { statement.reset() }
        for (offset, value) in bindings.enumerated() { try statement.bind(value, at: Int32(offset + 1)) }
        try statement.bind(limit, at: Int32(bindings.count + 1))
        var runs: [Run] = []
        while try statement.step() {
            runs.append(try codec.decodeSnapshot(statement.textData(1) ?? Data(), runId: statement.text(0) ?? ""))
        }
        return runs
    }

    /// How many runs have one of `statuses`: for unended statuses in a writable store, from the runs its
    /// appends keep (`KeptRunStatuses`: the engine counts its running runs at every admission); otherwise
    /// from the status index (no snapshot is read).
    public func countRuns(statuses: Set<RunStatus>) throws -> Int {
        guard !statuses.isEmpty else { return 0 }
        if !isReadOnly, statuses.allSatisfy(KeptRunStatuses.keeps) {
            return try statuses.reduce(0) { count, status in
                try count + kept.ids(in: status) { try storedIds(in: status) }.count
            }
        }
        let values = statuses.map(\.rawValue).sorted()
        // One status (the engine's count of running runs, at every admission) needs no SQL built to find its statement.
        let statement = try database.cached(
            values.count == 1 ? SQL.countOne : "SELECT count(*) FROM runs WHERE status IN (\(values.map { _ in "?" }.joined(separator: ", ")))")
        defer { statement.reset() }
        for (offset, value) in values.enumerated() { try statement.bind(value, at: Int32(offset + 1)) }
        guard try statement.step() else { return 0 }
        return statement.int(0)
    }

    /// The ids of the stored runs in `status`.
    private func storedIds(in status: RunStatus) throws -> Set<String> {
        let statement = try database.cached(SQL.idsInStatus)
        defer { statement.reset() }
        try statement.bind(status.rawValue, at: 1)
        var ids: Set<String> = []
        while try statement.step() { ids.insert(statement.text(0) ?? "") }
        return ids
    }
}
