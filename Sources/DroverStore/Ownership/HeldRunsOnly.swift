/// A worker's engine's view of its worker's leases: it may commit to the runs the worker claimed
/// from the queue and gave it (`admit`), and may never claim a run by itself, so a run whose lease
/// was lost is not taken back behind the worker's back (the worker claims it again through the
/// queue, if at all), and an engine never acts on a run the worker gave another of its engines.
public final class HeldRunsOnly: RunOwnership {
    private let leases: any RunOwnership
    private let admitted = ClaimedRuns()

    public init(_ leases: any RunOwnership) {
        self.leases = leases
    }

    public var owner: OwnerIdentity { leases.owner }

    /// `runId`, just claimed by the worker, is this engine's to drive.
    public func admit(_ runId: String) { admitted.insert(runId) }

    /// `runId` is no longer this engine's (its lease is gone); the lease itself is not touched.
    public func dismiss(_ runId: String) { admitted.remove(runId) }

    public func claim(runId: String) throws {
        guard holds(runId: runId) else { throw RunOwnershipError(.lost, runId: runId) }
    }

    public func renew(runId: String) throws {
        guard admitted.contains(runId) else { throw RunOwnershipError(.lost, runId: runId) }
        try leases.renew(runId: runId)
    }

    public func release(runId: String) {
        guard admitted.contains(runId) else { return }
        admitted.remove(runId)
        leases.release(runId: runId)
    }

    public func holds(runId: String) -> Bool { admitted.contains(runId) && leases.holds(runId: runId) }
}
