import DroverEngine
import DroverProtocol
import Foundation
import PostgresTestServer

/// An `AgentLauncher` whose processes are played by the test: each launch yields a
/// `ScriptedHandle` that emits events and ends when the test says so.
///
/// `@unchecked Sendable` (both classes): all mutable state is behind `lock`.
final class ScriptedLauncher: AgentLauncher, @unchecked Sendable {
    struct Launch: Sendable {
        var invocation: AgentInvocation
        var handle: ScriptedHandle
    }

    private let lock = NSLock()
    private var launches: [Launch] = []
    private var taken = 0
    private let condition = AsyncCondition()
    /// When set, every launch is answered at once with this outcome (nil: the test drives it).
    private let autoReply: (@Sendable (AgentInvocation) -> AgentOutcome?)?
    /// When set, `launch` throws this.
    var launchError: (any Error)? {
        get { lock.withLock { _launchError } }
        set { lock.withLock { _launchError = newValue } }
    }
    private var _launchError: (any Error)?

    init(autoReply: (@Sendable (AgentInvocation) -> AgentOutcome?)? = nil) {
        self.autoReply = autoReply
    }

    func launch(_ invocation: AgentInvocation, onReport: @escaping @Sendable (AgentReport) -> Void) throws -> any AgentHandle {
        if let error = launchError { throw error }
        let handle = ScriptedHandle(pid: Int32(1000 + lock.withLock { launches.count }), onReport: onReport)
        lock.withLock { launches.append(Launch(invocation: invocation, handle: handle)) }
        condition.signalAll()
        if let outcome = autoReply?(invocation) { handle.finish(outcome) }
        return handle
    }

    /// All launches so far.
    var all: [Launch] { lock.withLock { launches } }

    /// The next launch not yet taken by this method, waiting for it up to `timeout`.
    func next(timeout: Duration = hangBound) async throws -> Launch {
        let deadline = ContinuousClock.now + timeout
        while true {
            let found: Launch? = lock.withLock {
                guard taken < launches.count else { return nil }
                taken += 1
                return launches[taken - 1]
            }
            if let found { return found }
            guard ContinuousClock.now < deadline else { throw TestTimeout(what: "an agent launch") }
            await condition.wait(until: deadline) { [self] in lock.withLock { taken < launches.count } }
        }
    }
}

/// A pretend process: the test emits its events and decides its outcome.
final class ScriptedHandle: AgentHandle, @unchecked Sendable {
    let pid: Int32
    private let onReport: @Sendable (AgentReport) -> Void
    private var nextLogOffset = 0
    private let lock = NSLock()
    private var outcome: AgentOutcome?
    private var waiters: [CheckedContinuation<AgentOutcome, Never>] = []
    private(set) var terminateCount = 0

    init(pid: Int32, onReport: @escaping @Sendable (AgentReport) -> Void) {
        self.pid = pid
        self.onReport = onReport
    }

    var wasTerminated: Bool { lock.withLock { terminateCount > 0 } }

    /// Reports an event, as the process would while running.
    /// Each event stands for one 10-byte line of the log file.
    func emit(_ event: AgentEvent) {
        let offset = lock.withLock { defer { nextLogOffset += 10 }; return nextLogOffset }
        onReport(AgentReport(event, logOffset: offset))
    }

    /// Ends the process with `outcome` (later calls are ignored, like a process that already exited).
    func finish(_ outcome: AgentOutcome) {
        let resumed: [CheckedContinuation<AgentOutcome, Never>] = lock.withLock {
            guard self.outcome == nil else { return [] }
            self.outcome = outcome
            defer { waiters = [] }
            return waiters
        }
        for waiter in resumed { waiter.resume(returning: outcome) }
    }

    func wait() async -> AgentOutcome {
        await withCheckedContinuation { continuation in
            let done: AgentOutcome? = lock.withLock {
                if let outcome { return outcome }
                waiters.append(continuation)
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }

    func terminate(grace: Duration) {
        lock.withLock { terminateCount += 1 }
        finish(.terminated)
    }
}

struct TestTimeout: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Wakes waiters when their owner's state changes; a waiter also wakes at its deadline.
///
/// `@unchecked Sendable`: `waiters` is only touched while `lock` is held.
final class AsyncCondition: @unchecked Sendable {
    private let lock = NSLock()
    private var waiters: [UUID: CheckedContinuation<Void, Never>] = [:]

    /// Returns once `ready()` is true, `signalAll()` is called, or `deadline` passes.
    func wait(until deadline: ContinuousClock.Instant, ready: @escaping () -> Bool) async {
        let id = UUID()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let immediate = lock.withLock { () -> Bool in
                if ready() { return true }
                waiters[id] = continuation
                return false
            }
            if immediate { continuation.resume(); return }
            Task {
                try? await Task.sleep(until: deadline, clock: .continuous)
                self.lock.withLock { self.waiters.removeValue(forKey: id) }?.resume()
            }
        }
    }

    /// Wakes every waiter.
    func signalAll() {
        let all = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            defer { waiters = [:] }
            return Array(waiters.values)
        }
        for waiter in all { waiter.resume() }
    }
}
