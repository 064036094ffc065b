/// The right to commit to a run: one owner at a time per run, so an engine's cached snapshots stay
/// equal to the stored ones while it holds the run.
///
/// How the engine uses it: it claims a run before its first commit there, renews the claim before
/// every later commit, and releases it when the run ends. A commit happens only while the claim
/// holds; when it does not (a lock dropped, a lease expired, another owner got the run), the commit
/// is refused and nothing is stored. Stores check seqs as well (`StoreError.seqConflict`), so a
/// writer that slips past ownership still cannot fork a run's log; the engine then drops its caches
/// of the run and reloads it.
///
/// Implementations: `WorkspaceLockOwnership` (one `flock` per workspace: whoever holds it owns every
/// run there) today; a shared store (PostgreSQL) would keep per-run leases in the database.
public protocol RunOwnership: AnyObject, Sendable {
    /// Who this owner is, as recorded for others to see.
    var owner: OwnerIdentity { get }

    /// Takes `runId` for this owner; returns at once if it holds it already.
    /// - Throws: `RunOwnershipError` if another owner holds the run or this one can no longer own runs.
    func claim(runId: String) throws

    /// Confirms (and, for an owner whose claims expire, extends) the claim on `runId`.
    /// - Throws: `RunOwnershipError` `.lost` if the run is no longer this owner's.
    func renew(runId: String) throws

    /// Gives `runId` up; a run not held is fine.
    func release(runId: String)

    /// Whether this owner holds `runId` now.
    func holds(runId: String) -> Bool
}

/// Why a run could not be claimed or kept.
public struct RunOwnershipError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: String, Sendable, Hashable {
        /// Another owner holds the run.
        case heldElsewhere = "held_elsewhere"
        /// This owner held the run (or the right to own runs) and does not any more.
        case lost
    }

    public var kind: Kind
    public var runId: String
    /// The other owner, when known.
    public var holder: OwnerIdentity?

    public init(_ kind: Kind, runId: String, holder: OwnerIdentity? = nil) {
        self.kind = kind
        self.runId = runId
        self.holder = holder
    }

    public var description: String {
        switch kind {
        case .heldElsewhere:
            return "run \(runId) is driven by another drover engine (\(holder?.description ?? "pid unknown")); stop it or use read-only commands"
        case .lost:
            return "this engine no longer owns run \(runId), so it may not change it; reopen the workspace to drive it again"
        }
    }
}
