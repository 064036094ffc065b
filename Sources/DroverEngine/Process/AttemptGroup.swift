import Synchronization

/// Several attempts that run at once (a consensus round's candidates) as one handle: stopping it stops
/// every one's process group, including one added after the stop, so a candidate launched while the
/// run is being cancelled never outlives it.
final class AttemptGroup: AgentHandle {
    private struct State {
        var handles: [any AgentHandle] = []
        /// Set once the group is stopped: the grace every handle, present or added later, gets.
        var stoppedWith: Duration?
    }

    private let state = Mutex(State())

    /// No one process: each candidate's own pid is recorded when it starts.
    var pid: Int32 { 0 }

    /// Adds a started attempt; stops it at once if the group is stopped already.
    func add(_ handle: any AgentHandle) {
        let grace = state.withLock { state in
            state.handles.append(handle)
            return state.stoppedWith
        }
        if let grace { handle.terminate(grace: grace) }
    }

    /// Waits for every attempt added so far; the group's outcome is `.terminated` (each attempt's own
    /// outcome goes to whoever follows it).
    func wait() async -> AgentOutcome {
        for handle in state.withLock({ $0.handles }) { _ = await handle.wait() }
        return .terminated
    }

    func terminate(grace: Duration) {
        let handles = state.withLock { state in
            state.stoppedWith = state.stoppedWith ?? grace
            return state.handles
        }
        for handle in handles { handle.terminate(grace: grace) }
    }
}
