import DroverEngine
import Synchronization

/// Collects what the engine tells its listener, so the benchmark can wait on events.
final class EventTap: Sendable {
    private struct Waiter {
        var type: String
        var count: Int
        var continuation: CheckedContinuation<Void, Never>
    }
    private struct State {
        var stamps: [(type: String, at: ContinuousClock.Instant)] = []
        var counts: [String: Int] = [:]
        var waiters: [Waiter] = []
    }
    private let state = Mutex(State())

    func record(_ output: EngineOutput) {
        guard case .event(let event) = output else { return }
        let now = ContinuousClock.now
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.stamps.append((event.type, now))
            state.counts[event.type, default: 0] += 1
            guard !state.waiters.isEmpty else { return [] }
            let seen = state.counts
            let matched = state.waiters.filter { seen[$0.type, default: 0] >= $0.count }.map(\.continuation)
            state.waiters.removeAll { seen[$0.type, default: 0] >= $0.count }
            return matched
        }
        ready.forEach { $0.resume() }
    }

    func reset() {
        state.withLock { state in
            state.stamps.removeAll()
            state.counts.removeAll()
        }
    }

    func stamps(_ type: String) -> [ContinuousClock.Instant] {
        state.withLock { $0.stamps.filter { $0.type == type }.map(\.at) }
    }

    /// Returns once `count` events of `type` have been recorded since the last `reset`. Waiting on the
    /// listener, not polling: a poll would run on the engine's process and be counted as its CPU.
    func wait(for type: String, count: Int = 1) async {
        await withCheckedContinuation { continuation in
            let already = state.withLock { state -> Bool in
                if state.counts[type, default: 0] >= count { return true }
                state.waiters.append(Waiter(type: type, count: count, continuation: continuation))
                return false
            }
            if already { continuation.resume() }
        }
    }
}
