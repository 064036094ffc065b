import Foundation

/// Cleanups a deinit starts on a thread of its own (scanning /proc for a test's agents and killing
/// them, waiting for a scripted server to exit, removing folders): a deinit runs on the test runner's
/// cooperative pool, which must not block. The test process waits for them when it exits (up to 10 s),
/// so none is cut short and no agent outlives the suite.
enum BackgroundCleanup {
    private static let pending = DispatchGroup()
    private static let waitAtExit: Void = {
        atexit { _ = BackgroundCleanup.pending.wait(timeout: .now() + 10) }
    }()

    static func run(_ work: @escaping @Sendable () -> Void) {
        _ = waitAtExit
        pending.enter()
        Thread.detachNewThread {
            work()
            pending.leave()
        }
    }
}
