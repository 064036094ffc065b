import DroverStore

extension StoreBackend {
    /// The PostgreSQL store at `url`, shared by every engine and command that names it. Runs are
    /// driven by whoever holds the workspace lock (`WorkspaceLockOwnership`), as with SQLite; agent
    /// logs stay in the workspace's `.drover/logs/`.
    /// - Throws: `StoreError` `.invalidURL` if `url` is not a PostgreSQL URL libpq can read.
    public static func postgres(url: String) throws -> StoreBackend {
        .postgres(url: try PostgresURL(url))
    }

    /// The PostgreSQL store at `url` (see `postgres(url:)` with a string).
    public static func postgres(url: PostgresURL) -> StoreBackend {
        StoreBackend(
            name: "postgres",
            claimOwnership: { try WorkspaceLockOwnership(layout: $0) },
            openStore: { _ in try PostgresRunStore(url: url) })
    }
}
