import DroverEngine
import Synchronization

/// Collects what the engine tells its listener, so the benchmark can wait on events.
final class EventTap: Sendable {
    private struct State {
        var stamps: [(type: String, at: ContinuousClock.Instant)] = []
        var waiters: [(String, CheckedContinuation<Void, Never>)] = []
    }
    private let state = Mutex(State())

    func record(_ output: EngineOutput) {
        guard case .event(let event) = output else { return }
        let now = ContinuousClock.now
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.stamps.append((event.type, now))
            let matched = state.waiters.filter { $0.0 == event.type }.map(\.1)
            state.waiters.removeAll { $0.0 == event.type }
            return matched
        }
        ready.forEach { $0.resume() }
    }

    func reset() { state.withLock { $0.stamps.removeAll() } }

    func stamps(_ type: String) -> [ContinuousClock.Instant] {
        state.withLock { $0.stamps.filter { $0.type == type }.map(\.at) }
    }

    func wait(for type: String) async {
        await withCheckedContinuation { continuation in
            let already = state.withLock { state -> Bool in
                if state.stamps.contains(where: { $0.type == type }) { return true }
                state.waiters.append((type, continuation))
                return false
            }
            if already { continuation.resume() }
        }
    }
}
