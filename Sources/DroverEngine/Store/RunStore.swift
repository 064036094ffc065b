import DroverProtocol

/// Durable storage of runs: an append-only event log per run plus the latest snapshot.
///
/// Implementations are owned by one actor (the engine) or one command; they need not be thread-safe.
public protocol RunStore: AnyObject {
    /// Appends `events` (all of `snapshot.id`, consecutive seqs after the stored ones) and replaces the
    /// run's snapshot, in one transaction. Throws if a seq is already taken.
    func append(_ events: [Event], snapshot: Run) throws

    /// Events of a run with `seq > afterSeq`, ascending, at most `limit`.
    func events(runId: String, afterSeq: Int, limit: Int) throws -> [Event]

    /// The latest snapshot of a run, or nil if there is no such run.
    func run(id: String) throws -> Run?

    /// Snapshots newest first (by creation, then id), optionally filtered by status, starting after
    /// the run whose id is `afterRunId` (the paging cursor), at most `limit`.
    func runs(statuses: Set<RunStatus>?, afterRunId: String?, limit: Int) throws -> [Run]
}
