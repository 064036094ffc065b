/// Where a workspace's runs are kept and how runs are owned: what an executable chooses and hands
/// to `EngineHost`, so the engine never names a database.
///
/// `drover` passes `.sqlite` (from `DroverSQLite`); a PostgreSQL backend would be one more value.
public struct StoreBackend: Sendable {
    /// A short name for messages ("sqlite").
    public var name: String
    /// Claims the right to drive the workspace's runs; called before the store opens, so a second
    /// engine is told at once that the workspace is taken.
    public var claimOwnership: @Sendable (StoreLayout) throws -> any RunOwnership
    /// Opens the workspace's store for the engine (reading and writing), given the ownership
    /// `claimOwnership` returned (a store that checks leases in its own transactions needs it).
    public var openStore: @Sendable (StoreLayout, any RunOwnership) throws -> any RunStore
    /// For a store other processes write to: starts hearing their commits, reporting trouble to the
    /// function given (nil: nobody else writes).
    public var followChanges: (@Sendable (_ log: @escaping @Sendable (String) -> Void) -> any StoreChangeFeed)?
    /// Set when engines leave the runs they record to `drover worker`s (`store.executor: "workers"`):
    /// opens the queue they hand runs over to. Nil: an engine drives the runs it starts.
    public var workerQueue: (@Sendable () throws -> any WorkerQueue)?

    public init(
        name: String, claimOwnership: @escaping @Sendable (StoreLayout) throws -> any RunOwnership,
        openStore: @escaping @Sendable (StoreLayout, any RunOwnership) throws -> any RunStore,
        followChanges: (@Sendable (_ log: @escaping @Sendable (String) -> Void) -> any StoreChangeFeed)? = nil,
        workerQueue: (@Sendable () throws -> any WorkerQueue)? = nil
    ) {
        self.name = name
        self.claimOwnership = claimOwnership
        self.openStore = openStore
        self.followChanges = followChanges
        self.workerQueue = workerQueue
    }
}
