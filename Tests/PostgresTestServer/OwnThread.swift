import Foundation

/// Runs blocking `work` (waiting for a child process, reading its output, starting a server) on a
/// thread of its own and awaits its result.
///
/// Test code must not block on the Swift concurrency pool: it has one thread per core (two on a 2-core
/// CI runner), and on Linux Dispatch's global queues run on those same threads, so a wait there (or in
/// `DispatchQueue.global().async`) stalls every suite running beside it until Dispatch's monitor adds
/// a thread, seconds later. Shared by the test targets (this module is the one they all may import).
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}
