/// `RunOwnership` for a store no other process can reach (an `InMemoryRunStore`): every claim succeeds.
public final class ProcessLocalOwnership: RunOwnership {
    public let owner = OwnerIdentity.current
    private let claimed = ClaimedRuns()

    public init() {}

    public func claim(runId: String) throws { claimed.insert(runId) }

    public func renew(runId: String) throws {
        guard holds(runId: runId) else { throw RunOwnershipError(.lost, runId: runId) }
    }

    public func release(runId: String) { claimed.remove(runId) }

    public func holds(runId: String) -> Bool { claimed.contains(runId) }
}
