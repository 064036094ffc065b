import Foundation
import Synchronization

/// Threads for blocking work (an engine's clients) that wait for the next piece of work when done,
/// instead of exiting: a client that attaches does not wait for a thread to be created (an 8 MiB stack
/// mapped and a clone), which was a good part of the engine's share of `drover serve`'s start-up.
///
/// Idle threads are kept for the life of the process: at most as many as clients were ever connected
/// at once.
final class ReusedThreads: Sendable {
    private struct State {
        /// Threads waiting on `wake`, not yet promised work.
        var idle = 0
        /// Work handed to idle threads, one per `wake` signal.
        var pending: [@Sendable () -> Void] = []
    }

    private let name: String
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)

    init(name: String) {
        self.name = name
    }

    /// How many threads wait for work.
    var idleThreads: Int { state.withLock { $0.idle } }

    /// Runs `work` on an idle thread, or on a new one if none is idle.
    func run(_ work: @escaping @Sendable () -> Void) {
        let handed = state.withLock { state -> Bool in
            guard state.idle > 0 else { return false }
            state.idle -= 1
            state.pending.append(work)
            return true
        }
        if handed {
            wake.signal()
            return
        }
        let thread = Thread { [self] in
            var next = work
            while true {
                next()
                state.withLock { $0.idle += 1 }
                wake.wait()
                next = state.withLock { $0.pending.removeFirst() }
            }
        }
        thread.name = name
        thread.start()
    }
}
