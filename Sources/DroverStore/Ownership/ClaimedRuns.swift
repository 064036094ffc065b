import Foundation

/// The runs an owner in this process has claimed: a set behind a lock, shared by the local
/// `RunOwnership` implementations.
final class ClaimedRuns: @unchecked Sendable {
    // @unchecked Sendable: `runs` is only read and written under `mutex`.
    private let mutex = NSLock()
    private var runs: Set<String> = []

    func insert(_ runId: String) { mutex.withLock { _ = runs.insert(runId) } }
    func remove(_ runId: String) { mutex.withLock { _ = runs.remove(runId) } }
    func contains(_ runId: String) -> Bool { mutex.withLock { runs.contains(runId) } }
}
