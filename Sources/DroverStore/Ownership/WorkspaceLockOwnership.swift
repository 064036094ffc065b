/// `RunOwnership` by one lock per workspace: the process holding `.drover/engine.lock` (a `StoreLock`)
/// owns every run of the workspace, and nobody else owns any.
///
/// Claims are kept per run all the same, so the engine's claim / renew / release are the ones a
/// per-run implementation would see. A claim holds while the lock does: after `releaseLock()` every
/// claim and renewal fails with `.lost`.
public final class WorkspaceLockOwnership: RunOwnership {
    /// The workspace lock the claims rest on.
    public let lock: StoreLock
    public let owner = OwnerIdentity.current
    private let claimed = ClaimedRuns()

    /// Takes the workspace lock of `layout` without waiting.
    /// - Throws: `StoreLockError` naming the holder if another engine has it.
    public convenience init(layout: StoreLayout) throws {
        self.init(lock: try StoreLock(layout: layout))
    }

    /// Owns runs for as long as `lock` is held.
    public init(lock: StoreLock) {
        self.lock = lock
    }

    public func claim(runId: String) throws {
        guard lock.isHeld else { throw RunOwnershipError(.lost, runId: runId) }
        claimed.insert(runId)
    }

    public func renew(runId: String) throws {
        guard holds(runId: runId) else { throw RunOwnershipError(.lost, runId: runId) }
    }

    public func release(runId: String) { claimed.remove(runId) }

    public func holds(runId: String) -> Bool { lock.isHeld && claimed.contains(runId) }

    /// Gives up the workspace lock, and with it every run.
    public func releaseLock() { lock.release() }
}
