import DroverStore

/// The store's tables, created and upgraded by drover itself: numbered migrations, each applied once
/// in order, recorded in `drover_schema_migrations`.
///
/// All of a start's migrations run in one transaction that first takes a transaction-scoped advisory
/// lock, so two processes starting at once take turns: the second finds the work done. Tables are
/// unqualified, so a `search_path` in the URL (`?options=-csearch_path%3Dteam_a`) puts a store in its
/// own schema.
///
/// Text columns compared or ordered on use `COLLATE "C"` (byte order), so runs list in the same order
/// as on SQLite whatever the database's locale. Payloads are `json`, not `jsonb`: `json` keeps the
/// bytes as written and accepts `\u0000`, which jsonb refuses and agent output may contain.
package enum PostgresSchema {
    /// The newest schema this build knows.
    package static var latestVersion: Int { migrations.count }

    /// Migration n (1-based) brings the schema from version n-1 to n. Append only; never edit one
    /// that has shipped.
    static let migrations: [String] = [
        // 1: runs (snapshots) and their append-only event logs, as in the SQLite store.
        """
        CREATE TABLE runs (
            id text COLLATE "C" PRIMARY KEY,
            pipeline_id text NOT NULL,
            status text NOT NULL,
            created_at text COLLATE "C" NOT NULL,
            updated_at text NOT NULL,
            snapshot json NOT NULL
        );
        CREATE INDEX runs_by_creation ON runs (created_at, id);
        CREATE INDEX runs_by_status ON runs (status, created_at, id);
        CREATE TABLE events (
            run_id text COLLATE "C" NOT NULL,
            seq bigint NOT NULL,
            type text NOT NULL,
            at text NOT NULL,
            data json NOT NULL,
            PRIMARY KEY (run_id, seq)
        );
        """,
        // 2: who drives each run (leases renewed by heartbeat), for engines sharing the store.
        """
        CREATE TABLE run_claims (
            run_id text COLLATE "C" PRIMARY KEY,
            owner_host text NOT NULL,
            owner_pid integer NOT NULL,
            generation bigint NOT NULL,
            expires_at timestamptz NOT NULL
        );
        """,
        // 3: runs left to `drover worker`s: where each run's workspace is and which agent drivers
        // it needs; a worker claims the oldest one it can drive that is queued or running and
        // nobody leases (`PostgresRunOwnership.claimNext`).
        """
        CREATE TABLE worker_queue (
            run_id text COLLATE "C" PRIMARY KEY,
            workspace text NOT NULL,
            drivers text[] NOT NULL,
            queued_at timestamptz NOT NULL DEFAULT clock_timestamp()
        );
        CREATE INDEX worker_queue_by_age ON worker_queue (queued_at, run_id);
        """,
    ]

    /// Any constant shared by every drover build: the key of the migration lock.
    private static let migrationLockKey = 0x6472_6F76_6572  // "drover"

    /// Brings the schema up to `target` (default: the latest).
    /// - Throws: `StoreError` `.unsupportedSchema` if the database is newer than this build.
    static func migrate(_ connection: PostgresConnection, upTo target: Int = latestVersion) throws {
        try connection.transaction {
            try connection.execute("SELECT pg_advisory_xact_lock(\(migrationLockKey))")
            try connection.execute(
                """
                CREATE TABLE IF NOT EXISTS drover_schema_migrations (
                    version integer PRIMARY KEY,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """)
            let current = try version(connection) ?? 0
            try check(current, url: connection.url)
            for version in current..<max(current, target) {
                try connection.executeScript(migrations[version])
                try connection.execute("INSERT INTO drover_schema_migrations (version) VALUES ($1)", [String(version + 1)])
            }
        }
    }

    /// The applied version, or nil if the database has no drover schema.
    static func version(_ connection: PostgresConnection) throws -> Int? {
        let exists = try connection.execute("SELECT to_regclass('drover_schema_migrations') IS NOT NULL")
        guard exists.text(0, 0) == "t" else { return nil }
        return try connection.execute("SELECT coalesce(max(version), 0) FROM drover_schema_migrations").int(0, 0)
    }

    /// Brings the store at `url` to version `target` and no further: for tests of upgrades.
    package static func migrate(url: PostgresURL, upTo target: Int) throws {
        try migrate(try PostgresConnection(url: url), upTo: target)
    }

    /// The schema version of the store at `url` (nil: no drover schema there).
    package static func version(url: PostgresURL) throws -> Int? {
        try version(try PostgresConnection(url: url))
    }

    /// Refuses a schema newer than this build.
    static func check(_ version: Int, url: PostgresURL) throws {
        if version > latestVersion {
            throw StoreError(
                .unsupportedSchema,
                "the PostgreSQL store \(url) has schema version \(version) but this drover knows up to \(latestVersion); upgrade drover")
        }
    }
}
