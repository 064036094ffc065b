/// A worker's engine's view of its worker's leases: it may commit to the runs the worker claimed
/// from the queue and holds, and may never claim a run by itself, so a run whose lease was lost is
/// not taken back behind the worker's back (the worker claims it again through the queue, if at all).
public final class HeldRunsOnly: RunOwnership {
    private let leases: any RunOwnership

    public init(_ leases: any RunOwnership) {
        self.leases = leases
    }

    public var owner: OwnerIdentity { leases.owner }

    public func claim(runId: String) throws {
        guard leases.holds(runId: runId) else { throw RunOwnershipError(.lost, runId: runId) }
    }

    public func renew(runId: String) throws { try leases.renew(runId: runId) }

    public func release(runId: String) { leases.release(runId: runId) }

    public func holds(runId: String) -> Bool { leases.holds(runId: runId) }
}
