import DroverEngine
import Synchronization

/// The real launcher, with a stamp at each hand-off of an attempt: when the engine asked for the
/// launch, when the spawn returned (log file open, process started, its I/O thread running) and when
/// the outcome was known (the process gone, its output read). With the events' publication times
/// these split a step's wall time into the engine's part and the agent's. With `withoutProcesses` set, an
/// attempt ends at once with the answer the bench's fake agents give, and nothing is spawned: what the engine
/// then spends is its own work (records, admissions, commits, notifications), not the attempts' processes.
final class TimingLauncher: AgentLauncher {
    /// The stamps of one attempt.
    struct Attempt {
        var asked: ContinuousClock.Instant
        var spawned: ContinuousClock.Instant
        var finished: ContinuousClock.Instant?
    }

    private let inner = ProcessLauncher()
    private let attempts = Mutex<[Int: Attempt]>([:])
    private let next = Atomic<Int>(0)
    /// Attempts end at once, with no process (see above).
    let withoutProcesses = Atomic<Bool>(false)

    func launch(_ invocation: AgentInvocation, onReport: @escaping @Sendable (AgentReport) -> Void) throws -> any AgentHandle {
        if withoutProcesses.load(ordering: .relaxed) { return AnsweredHandle() }
        let asked = ContinuousClock.now
        let handle = try inner.launch(invocation, onReport: onReport)
        let index = next.add(1, ordering: .relaxed).oldValue
        attempts.withLock { $0[index] = Attempt(asked: asked, spawned: .now) }
        return TimedHandle(inner: handle) { self.finished(index) }
    }

    private func finished(_ index: Int) {
        // The first to learn the outcome stamps it (the engine's `whenFinished`, or a `wait()`).
        let now = ContinuousClock.now
        attempts.withLock { stamps in
            if stamps[index]?.finished == nil { stamps[index]?.finished = now }
        }
    }

    /// The attempts launched since the last `reset`, in launch order.
    func launched() -> [Attempt] {
        attempts.withLock { stamps in stamps.keys.sorted().compactMap { stamps[$0] } }
    }

    func reset() { attempts.withLock { $0.removeAll() } }
}

/// A handle that stamps when its outcome is known.
private struct TimedHandle: AgentHandle {
    let inner: any AgentHandle
    let onFinished: @Sendable () -> Void
    var pid: Int32 { inner.pid }

    func wait() async -> AgentOutcome {
        let outcome = await inner.wait()
        onFinished()
        return outcome
    }

    func terminate(grace: Duration) { inner.terminate(grace: grace) }

    func whenFinished(_ body: @escaping @Sendable (AgentOutcome) -> Void) {
        inner.whenFinished { outcome in
            onFinished()
            body(outcome)
        }
    }
}

/// An attempt without a process that answered as the bench's fake agents do (`{"result": "ok"}`).
private struct AnsweredHandle: AgentHandle {
    var pid: Int32 { 0 }  // no process: the engine records none
    func wait() async -> AgentOutcome { .completed(output: "ok") }
    func terminate(grace: Duration) {}
    func whenFinished(_ body: @escaping @Sendable (AgentOutcome) -> Void) { body(.completed(output: "ok")) }
}
