import DroverStore
import Synchronization

/// `WorkerWakeup` by a store's change feed: a worker's wait ends as soon as anything is committed
/// or handed over to the workers (PostgreSQL's `NOTIFY`), else after the poll interval.
///
/// A change heard while nobody waits is kept, so the next wait returns at once: a run handed over
/// between two looks at the queue is never left for a whole interval.
public final class FeedWakeup: WorkerWakeup, Sendable {
    private struct State {
        /// A change came while nobody waited.
        var pending = false
        /// The wait in progress: its number and continuation.
        var waiter: (id: Int, continuation: CheckedContinuation<Void, Never>)?
        var lastId = 0
        /// The number of a wait whose time ran out before it began waiting.
        var expired: Int?
    }

    private let state = Mutex(State())

    /// Wakes on every change `feed` announces (it keeps running until stopped).
    public init(feed: any StoreChangeFeed) {
        Task { [weak self] in
            for await _ in feed.changes {
                guard let self else { return }
                self.wake(id: nil)
            }
        }
    }

    public func wait(upTo interval: Duration) async {
        let id = state.withLock { state -> Int? in
            if state.pending {
                state.pending = false
                return nil
            }
            state.lastId += 1
            return state.lastId
        }
        guard let id else { return }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: interval)
            self?.wake(id: id)
        }
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                if state.pending || state.expired == id {
                    state.pending = false
                    return true
                }
                state.waiter = (id, continuation)
                return false
            }
            if now { continuation.resume() }
        }
        timer.cancel()
    }

    /// Ends the wait numbered `id` (its time ran out), or any wait (`nil`: a change).
    private func wake(id: Int?) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter, id == nil || waiter.id == id {
                state.waiter = nil
                return waiter.continuation
            }
            if let id { state.expired = id } else { state.pending = true }
            return nil
        }
        waiter?.resume()
    }
}
