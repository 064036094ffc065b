import Foundation
import Synchronization

/// Threads for blocking work that wait for the next piece of work when done, instead of exiting: the
/// work does not wait for a thread to be created (a stack mapped, a clone, Foundation's thread set-up)
/// and the engine does not pay for creating and tearing one down each time. The engine's clients
/// (`EngineDaemon`) and every agent attempt's I/O thread (`ProcessLauncher`) run on them.
///
/// Idle threads are kept for the life of the process: at most as many as pieces of work ever ran at
/// once (clients connected, attempts alive).
package final class ReusedThreads: Sendable {
    private struct State {
        /// Threads waiting on `wake`, not yet promised work.
        var idle = 0
        /// Work handed to idle threads, one per `wake` signal.
        var pending: [@Sendable () -> Void] = []
    }

    private let name: String
    private let stackSize: Int?
    private let prepare: (@Sendable () -> Void)?
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)

    /// - Parameters:
    ///   - stackSize: the bytes of stack for each thread; nil for the system's default.
    ///   - prepare: run once on each new thread before its first piece of work, for what every piece
    ///     needs of the thread (a signal mask), so the work does not set it again each time.
    package init(name: String, stackSize: Int? = nil, prepare: (@Sendable () -> Void)? = nil) {
        self.name = name
        self.stackSize = stackSize
        self.prepare = prepare
    }

    /// How many threads wait for work.
    package var idleThreads: Int { state.withLock { $0.idle } }

    /// Runs `work` on an idle thread, or on a new one if none is idle.
    package func run(_ work: @escaping @Sendable () -> Void) {
        // Every piece of work goes through `pending`; each is taken by exactly one thread: an idle one
        // woken for it, or the new one started for it.
        let handed = state.withLock { state -> Bool in
            state.pending.append(work)
            guard state.idle > 0 else { return false }
            state.idle -= 1
            return true
        }
        if handed {
            wake.signal()
            return
        }
        let thread = Thread { [self] in
            prepare?()
            while true {
                do {
                    // Scoped, so the work and what it captured are released before the thread waits.
                    let next = state.withLock { $0.pending.removeFirst() }
                    next()
                }
                state.withLock { $0.idle += 1 }
                wake.wait()
            }
        }
        thread.name = name
        if let stackSize { thread.stackSize = stackSize }
        thread.start()
    }
}
