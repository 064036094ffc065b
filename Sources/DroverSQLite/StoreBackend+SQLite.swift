import DroverStore

extension StoreBackend {
    /// `.drover/drover.db`, driven by whoever holds the workspace lock (`WorkspaceLockOwnership`).
    public static let sqlite = StoreBackend(
        name: "sqlite",
        claimOwnership: { try WorkspaceLockOwnership(layout: $0) },
        openStore: { layout, _ in try SQLiteRunStore(path: layout.databasePath) })
}
