import DroverProtocol

/// Durable storage of runs: an append-only event log per run plus the latest snapshot.
///
/// Every backend (SQLite today, PostgreSQL later) implements this and passes the conformance suite in
/// `Tests/DroverStoreTests`; the bytes it keeps come from `EventCodec` and the checks on an append from
/// `AppendRules`, so backends agree on both.
///
/// Synchronous on purpose. The engine's one writer commits as fold → `append` → notify inside one
/// actor method with no suspension point, which is what keeps a run's seqs gapless and its events
/// published in order. An `async` append would let the actor run other messages between the fold and
/// the write (actor re-entrancy), so every commit would need a queue of its own and every method that
/// commits would become `async`. A backend whose calls wait on the network must therefore bring the
/// waiting behind this interface (a blocking client, bounded by a timeout); making the interface async
/// belongs with the engine's commit path becoming a serial queue, not here alone.
///
/// Rule for callers: one instance belongs to one owner (the engine actor, or one command) and is used
/// from one task at a time; implementations need not be thread-safe.
public protocol RunStore: AnyObject {
    /// Appends `events` (all of `snapshot.id`, consecutive seqs after the stored ones) and replaces the
    /// run's snapshot, in one transaction: all of it is stored or none of it.
    /// - Throws: `StoreError` `.seqConflict` if a seq is already taken (another writer got there first),
    ///   `.invalidAppend` for a gap or another run's event (see `AppendRules`).
    func append(_ events: [Event], snapshot: Run) throws

    /// `append` by a writer that does not drive the run: a person's gate answer stored by an engine
    /// other than the run's driver (the seqs still decide who was first). A store that checks the
    /// writer's lease in `append` (PostgreSQL's fencing) does not check it here.
    func appendAsGuest(_ events: [Event], snapshot: Run) throws

    /// Events of a run with `seq > afterSeq`, ascending, at most `limit` (none if `limit <= 0`);
    /// empty for an unknown run.
    func events(runId: String, afterSeq: Int, limit: Int) throws -> [Event]

    /// The latest snapshot of a run, or nil if there is no such run.
    func run(id: String) throws -> Run?

    /// Snapshots newest first (by creation, then id), optionally filtered by status, starting after
    /// the run whose id is `afterRunId` (the paging cursor), at most `limit`. An empty `statuses`
    /// matches nothing; `limit <= 0` returns nothing. The cursor may be a run the filter excludes.
    /// - Throws: `StoreError.unknownCursor` (kind `.notFound`) if `afterRunId` names no run.
    func runs(statuses: Set<RunStatus>?, afterRunId: String?, limit: Int) throws -> [Run]

    /// How many runs have one of `statuses`, without reading their snapshots (the scheduler asks on
    /// every admission). An empty `statuses` counts nothing.
    func countRuns(statuses: Set<RunStatus>) throws -> Int
}

extension RunStore {
    /// Counts by reading the snapshots page by page; a store that can count rows does so instead.
    public func countRuns(statuses: Set<RunStatus>) throws -> Int {
        var count = 0
        var last: String?
        while true {
            let page = try runs(statuses: statuses, afterRunId: last, limit: 500)
            count += page.count
            guard page.count == 500 else { return count }
            last = page.last?.id
        }
    }

    /// A store that checks no lease appends a guest's events as any others.
    public func appendAsGuest(_ events: [Event], snapshot: Run) throws {
        try append(events, snapshot: snapshot)
    }
}
