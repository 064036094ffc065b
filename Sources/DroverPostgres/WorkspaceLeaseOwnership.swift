import DroverStore
import Foundation

/// How an engine on a PostgreSQL store owns runs: the workspace lock (its folder, logs and agents are
/// local, as with SQLite) and, per run, a lease in the shared store (`PostgresRunOwnership`), so an
/// engine on another workspace or machine sharing the store cannot drive the same run meanwhile.
///
/// The lease connection opens at the first claim, not at `initialize`, so a server that is down is
/// reported by the store's open (every request fails, naming it) as with any store failure.
final class WorkspaceLeaseOwnership: RunOwnership, RunLeaseFence, @unchecked Sendable {
    // @unchecked Sendable: `opened` is only touched under `lock`; the rest is immutable and Sendable.
    let workspace: WorkspaceLockOwnership
    private let url: PostgresURL
    private let lock = NSLock()
    private var opened: PostgresRunOwnership?

    var owner: OwnerIdentity { workspace.owner }

    init(workspace: WorkspaceLockOwnership, url: PostgresURL) {
        self.workspace = workspace
        self.url = url
    }

    /// The lease side, connected (and its heartbeat started) on first use.
    private func leases() throws -> PostgresRunOwnership {
        try lock.withLock {
            if let opened { return opened }
            let leases = try PostgresRunOwnership(url: url)
            leases.startHeartbeat()
            opened = leases
            return leases
        }
    }

    func claim(runId: String) throws {
        try workspace.claim(runId: runId)
        do {
            try leases().claim(runId: runId)
        } catch {
            workspace.release(runId: runId)
            throw error
        }
    }

    func renew(runId: String) throws {
        try workspace.renew(runId: runId)
        try leases().renew(runId: runId)
    }

    func release(runId: String) {
        lock.withLock { opened }?.release(runId: runId)
        workspace.release(runId: runId)
    }

    public func fencingGeneration(runId: String) -> Int? {
        guard workspace.holds(runId: runId) else { return nil }
        return lock.withLock { opened }?.fencingGeneration(runId: runId)
    }

    func holds(runId: String) -> Bool {
        workspace.holds(runId: runId) && (lock.withLock { opened }?.holds(runId: runId) ?? false)
    }
}
