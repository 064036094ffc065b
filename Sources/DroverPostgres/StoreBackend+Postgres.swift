import DroverStore

extension StoreBackend {
    /// The PostgreSQL store at `url`, shared by every engine and command that names it. A run is
    /// driven by the engine holding both the workspace lock (as with SQLite; agent logs stay in the
    /// workspace's `.drover/logs/`) and the run's lease in the store (`PostgresRunOwnership`).
    /// - Throws: `StoreError` `.invalidURL` if `url` is not a PostgreSQL URL libpq can read.
    public static func postgres(url: String) throws -> StoreBackend {
        .postgres(url: try PostgresURL(url))
    }

    /// The PostgreSQL store at `url` (see `postgres(url:)` with a string). With `leaveRunsToWorkers`
    /// (`store.executor: "workers"`), engines record runs and gate answers but hand every run over to
    /// the `drover worker`s on the store (`PostgresWorkerQueue`) instead of driving it.
    public static func postgres(url: PostgresURL, leaveRunsToWorkers: Bool = false) -> StoreBackend {
        StoreBackend(
            name: "postgres",
            claimOwnership: { WorkspaceLeaseOwnership(workspace: try WorkspaceLockOwnership(layout: $0), url: url) },
            openStore: { _, ownership in
                let store = try PostgresRunStore(url: url)
                store.fence = ownership as? RunLeaseFence
                return store
            },
            followChanges: { PostgresChangeFeed(url: url, log: $0) },
            workerQueue: leaveRunsToWorkers ? { @Sendable in PostgresWorkerQueue(url: url) } : nil)
    }
}
