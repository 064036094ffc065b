import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The handle of an attempt that never started; its outcome is already known.
struct FinishedAgentHandle: AgentHandle {
    let outcome: AgentOutcome
    var pid: Int32 { 0 }
    func wait() async -> AgentOutcome { outcome }
    func terminate(grace: Duration) {}
    func whenFinished(_ body: @escaping @Sendable (AgentOutcome) -> Void) { body(outcome) }
}

/// The handle of a spawned process: owns the right to signal its group and to reap it.
final class SpawnedProcessHandle: AgentHandle {
    let pid: Int32

    private struct State: Sendable {
        var leaderExited = false
        /// Once reaped, the pid (and so the group id) may belong to someone else: never signal again.
        var reaped = false
        var killReason: AgentKillReason?
        var outcome: AgentOutcome?
        var waiters: [CheckedContinuation<AgentOutcome, Never>] = []
        var onFinish: [@Sendable (AgentOutcome) -> Void] = []
    }

    private let state = Mutex(State())

    init(pid: Int32) {
        self.pid = pid
    }

    func wait() async -> AgentOutcome {
        await withCheckedContinuation { continuation in
            let known: AgentOutcome? = state.withLock { state in
                if let outcome = state.outcome { return outcome }
                state.waiters.append(continuation)
                return nil
            }
            if let known { continuation.resume(returning: known) }
        }
    }

    /// Called on the attempt's I/O thread when it reaps the leader, or here if that happened already.
    func whenFinished(_ body: @escaping @Sendable (AgentOutcome) -> Void) {
        let known: AgentOutcome? = state.withLock { state in
            if let outcome = state.outcome { return outcome }
            state.onFinish.append(body)
            return nil
        }
        if let known { body(known) }
    }

    func terminate(grace: Duration) {
        kill(reason: .terminated, grace: grace)
    }

    /// SIGTERM to the group now, SIGKILL after `grace` if the leader has not been reaped by then.
    func kill(reason: AgentKillReason, grace: Duration) {
        let signalled: Bool = state.withLock { state in
            guard !state.reaped else { return false }
            // A leader that already exited decided its own outcome; we only clean up its group.
            if !state.leaderExited, state.killReason == nil { state.killReason = reason }
            signalGroup(SIGTERM, state)
            return true
        }
        guard signalled else { return }
        DispatchQueue.global().asyncAfter(deadline: .now() + grace.dispatchInterval) { [self] in
            state.withLock { state in signalGroup(SIGKILL, state) }
        }
    }

    /// Blocks until the leader exits, without reaping it: an unreaped zombie keeps its pid, and so the
    /// group id, from being reused while we may still signal the group.
    func waitForLeaderExit() {
        var info = siginfo_t()
        var lost = false
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 {
            if errno == EINTR { continue }
            lost = true
            break
        }
        state.withLock { state in
            state.leaderExited = true
            if lost { state.reaped = true }
        }
    }

    /// Called by the pump once the leader exited: whatever is left of the group has no business running.
    func killGroupAfterLeaderExit() {
        state.withLock { state in signalGroup(SIGKILL, state) }
    }

    /// Reaps the leader and publishes the outcome to every waiter.
    func finish(_ decide: (AgentExitStatus, AgentKillReason?) -> AgentOutcome) {
        let (outcome, waiters, onFinish): (AgentOutcome, [CheckedContinuation<AgentOutcome, Never>], [@Sendable (AgentOutcome) -> Void])
            = state.withLock { state in
            var status: AgentExitStatus = .unknown("the agent's exit status was lost (reaped elsewhere)")
            if !state.reaped && !state.leaderExited {
                // Only after an internal error (poll failed): make sure the blocking waitpid below returns.
                signalGroup(SIGKILL, state)
            }
            if !state.reaped {
                var raw: Int32 = 0
                var result: pid_t
                repeat { result = waitpid(pid, &raw, 0) } while result < 0 && errno == EINTR
                if result == pid { status = AgentExitStatus(waitStatus: raw) }
                state.reaped = true
            }
            let outcome = decide(status, state.killReason)
            state.outcome = outcome
            defer {
                state.waiters = []
                state.onFinish = []
            }
            return (outcome, state.waiters, state.onFinish)
        }
        for body in onFinish { body(outcome) }
        for waiter in waiters { waiter.resume(returning: outcome) }
    }

    private func signalGroup(_ signal: Int32, _ state: State) {
        guard !state.reaped, pid > 0 else { return }
        _ = sendSignal(-pid, signal)
    }
}

/// Why we killed a process group (the first reason wins).
enum AgentKillReason: Sendable {
    case timedOut, terminated
}
