import Synchronization

/// The runs an owner in this process has claimed: a set behind a lock, shared by the local
/// `RunOwnership` implementations.
final class ClaimedRuns: Sendable {
    private let runs = Mutex<Set<String>>([])

    func insert(_ runId: String) { runs.withLock { _ = $0.insert(runId) } }
    func remove(_ runId: String) { runs.withLock { _ = $0.remove(runId) } }
    func contains(_ runId: String) -> Bool { runs.withLock { $0.contains(runId) } }
}
