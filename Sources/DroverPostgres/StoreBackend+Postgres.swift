import DroverStore

extension StoreBackend {
    /// The PostgreSQL store at `url`, shared by every engine and command that names it. A run is
    /// driven by the engine holding both the workspace lock (as with SQLite; agent logs stay in the
    /// workspace's `.drover/logs/`) and the run's lease in the store (`PostgresRunOwnership`).
    /// - Throws: `StoreError` `.invalidURL` if `url` is not a PostgreSQL URL libpq can read.
    public static func postgres(url: String) throws -> StoreBackend {
        .postgres(url: try PostgresURL(url))
    }

    /// The PostgreSQL store at `url` (see `postgres(url:)` with a string).
    public static func postgres(url: PostgresURL) -> StoreBackend {
        StoreBackend(
            name: "postgres",
            claimOwnership: { WorkspaceLeaseOwnership(workspace: try WorkspaceLockOwnership(layout: $0), url: url) },
            openStore: { _ in try PostgresRunStore(url: url) },
            followChanges: { PostgresChangeFeed(url: url, log: $0) })
    }
}
