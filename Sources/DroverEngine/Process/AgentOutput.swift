import DroverProtocol
import DroverSupport
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Something an agent reported while it ran.
public enum AgentEvent: Sendable, Hashable {
    /// A line of output for people (agent text on `.agent`, stderr lines on `.stderr`).
    case log(LogStream, String)
    case progress(fraction: Double?, message: String?)
    /// Tokens used (and the agent's own cost figure, if any): the engine prices and records them.
    case usage(AgentUsage)
    /// The agent's own session id, with which a later attempt can resume the conversation.
    case session(id: String)
    /// The agent waits, while it runs, for permission to use a tool: the engine raises it as a decision
    /// and answers through `AgentPermissionRequest.reply`.
    case permission(AgentPermissionRequest)
}

/// How an agent attempt ended.
public enum AgentOutcome: Sendable, Hashable {
    /// Success: the agent's final output.
    case completed(output: String)
    /// The agent raised a question and ended; the step parks until it is answered.
    case decision(question: String, options: [String])
    /// Non-zero exit or a launch error; `message` holds the last stderr lines or the reason.
    case failed(message: String, exitCode: Int32?)
    /// The agent gave up because its model API rate limited it (429, overloaded, a usage limit): not a
    /// failure. The run waits queued and the step re-runs at `retryAt` (when the agent said when), else
    /// after the engine's backoff (`Engine+RateLimits`). `message` is what the agent said.
    case rateLimited(retryAt: Date?, message: String)
    /// Killed after `timeout`.
    case timedOut
    /// Killed because `terminate()` was called.
    case terminated
}

/// Reads one attempt's output for its driver: lines in, reports out, and at the end the outcome.
///
/// One reader per attempt, called only on the attempt's I/O thread, in output order, so it may keep
/// state without locks. Every line is in the log file already; the reader decides what it means.
public protocol AgentOutputReader: AnyObject {
    /// A line of stdout (without its newline or a trailing `\r`); returns what it reports.
    func readStdout(_ line: String) -> [AgentEvent]
    /// A line of stderr; returns what it reports.
    func readStderr(_ line: String) -> [AgentEvent]
    /// How the attempt ended, once its process exited on its own with `status` (a kill the engine
    /// asked for is decided by the launcher, not here).
    func outcome(exit status: AgentExitStatus) -> AgentOutcome
    /// Called once before the first line when the invocation keeps stdin open: the channel for
    /// answering the agent while it runs.
    func attach(input: AgentInput)
}

extension AgentOutputReader {
    public func attach(input: AgentInput) {}
}

/// How the process leading an attempt ended.
public enum AgentExitStatus: Sendable, Hashable {
    case exited(Int32)
    case signaled(Int32)
    /// The status was lost (someone else reaped the child); carries an explanation.
    case unknown(String)

    init(waitStatus status: Int32) {
        // The W* macros are not imported into Swift; these are their glibc/Darwin definitions.
        let low = status & 0x7f
        if low == 0 {
            self = .exited((status >> 8) & 0xff)
        } else if low != 0x7f {
            self = .signaled(low)
        } else {
            self = .unknown("stopped with wait status \(status)")
        }
    }

    /// The failure this status stands for, explained by the agent's last stderr lines when there are
    /// any; nil for exit 0.
    public func failure(stderrTail: String) -> AgentOutcome? {
        // Foundation's trimming is costly on Linux; a success, every attempt's usual end, needs none.
        if case .exited(0) = self { return nil }
        let tail = stderrTail.trimmingCharacters(in: .whitespacesAndNewlines)
        switch self {
        case .exited(let code):
            return .failed(message: tail.isEmpty ? "exited with status \(code)" : tail, exitCode: code)
        case .signaled(let signal):
            let name = strsignal(signal).map { String(cString: $0) } ?? "signal \(signal)"
            return .failed(message: tail.isEmpty ? "killed by signal \(signal) (\(name))" : tail, exitCode: nil)
        case .unknown(let reason):
            return .failed(message: tail.isEmpty ? reason : tail, exitCode: nil)
        }
    }
}

/// Writes to a running agent's stdin after its prompt: how a driver answers a permission request or a
/// question while the agent waits. Thread-safe; what is sent is written in order by the I/O thread.
public final class AgentInput: Sendable {
    private struct State {
        var pending: [UInt8] = []
        var closeRequested = false
    }
    private let state = Mutex(State())
    /// Written to wake the I/O thread's poll when something was queued; owned by this object, so its
    /// descriptors stay valid for as long as anyone can still `send`.
    let wake: (read: Int32, write: Int32)

    init() throws {
        wake = try makeCloseOnExecPipe()
        for fd in [wake.read, wake.write] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
    }

    deinit {
        closeAll(wake.read, wake.write)
    }

    /// Queues `text` for the agent's stdin.
    public func send(_ text: String) {
        state.withLock { $0.pending += Array(text.utf8) }
        poke()
    }

    /// Closes the agent's stdin once everything queued is written.
    public func close() {
        state.withLock { $0.closeRequested = true }
        poke()
    }

    /// What the I/O thread should write next, and whether to close stdin after it.
    func take() -> (bytes: [UInt8], close: Bool) {
        state.withLock { state in
            defer { state.pending.removeAll() }
            return (state.pending, state.closeRequested)
        }
    }

    private func poke() {
        // The write end is non-blocking: when the pipe is full the I/O thread is awake anyway.
        writeAll(wake.write, [1])
    }
}
