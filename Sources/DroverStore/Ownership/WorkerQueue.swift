/// Where an engine leaves runs for `drover worker`s on a shared store, instead of driving them itself.
///
/// An engine configured with `store.executor: "workers"` records a run (`run.created`, a gate
/// answer, a retry) and then hands it over here and gives up its claim; a worker claims it from the
/// queue with a lease and drives it. A worker hands a run back the same way when it waits on a
/// person, so whoever answers can record the answer.
public protocol WorkerQueue: Sendable {
    /// Puts `runId` in the queue (again): its home `workspace` (pipelines, logs, agent records) and
    /// the agent `drivers` its steps need, so only a worker that has them takes it. A run already queued keeps its first home and drivers.
    func handOver(runId: String, workspace: String, drivers: [String]) throws
}

/// A run a worker took from the queue: it now holds the run's lease.
public struct ClaimedRun: Sendable, Hashable {
    public var runId: String
    /// The run's home workspace, as the engine that handed it over recorded it.
    public var workspace: String

    public init(runId: String, workspace: String) {
        self.runId = runId
        self.workspace = workspace
    }
}

/// A worker's leases on the shared store: `RunOwnership` for the runs it drives, plus taking the
/// next run from the queue.
public protocol WorkerLeases: RunOwnership {
    /// Takes the oldest queued run this worker can drive (every driver it needs is in `drivers`;
    /// nil: any), not in `excluding`, that is queued or running and leased by nobody; nil if none.
    func claimNext(drivers: [String]?, excluding: [String]) throws -> ClaimedRun?

    /// Keeps every held lease alive from now on (renewed well before it runs out); a lease that
    /// cannot be renewed is dropped, and `holds` turns false for its run.
    func startHeartbeat()
}

/// What a worker waits on between looks at the queue: a poll interval, or sooner when the store
/// says something changed (a `LISTEN` consumer can stand in for the plain timer).
public protocol WorkerWakeup: Sendable {
    /// Returns after `interval`, or earlier when there may be new work.
    func wait(upTo interval: Duration) async
}

/// `WorkerWakeup` by the clock alone.
public struct PollingWakeup: WorkerWakeup {
    public init() {}

    public func wait(upTo interval: Duration) async {
        try? await Task.sleep(for: interval)
    }
}
