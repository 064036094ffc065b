import DroverStore

extension StoreBackend {
    /// `.drover/drover.db`, driven by whoever holds the workspace lock (`WorkspaceLockOwnership`).
    public static let sqlite = StoreBackend(
        name: "sqlite",
        claimOwnership: { try WorkspaceLockOwnership(layout: $0) },
        openStore: { try SQLiteRunStore(path: $0.databasePath) })
}
