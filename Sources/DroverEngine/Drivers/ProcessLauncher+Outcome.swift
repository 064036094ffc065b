import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ProcessLauncher {
    /// Decides how an attempt ended from how the leader exited and what it printed.
    ///
    /// - A kill we asked for wins: `.timedOut` / `.terminated`, whatever the exit status.
    /// - Exit 0: the last `result` or `decision` line decides (`.completed(output)` / `.decision`); with
    ///   neither, `.completed` with the printed text (plain lines and `log` texts, trimmed). For plain
    ///   `command` steps the output is all of stdout, trimmed.
    /// - Non-zero exit or death by signal: `.failed` with the last stderr lines, or a status sentence if
    ///   stderr was empty; `exitCode` is nil for a signal.
    static func outcome(status: AgentExitStatus, killReason: AgentKillReason?, collected: AgentCollectedOutput,
                        parsesLineProtocol: Bool) -> AgentOutcome {
        switch killReason {
        case .timedOut: return .timedOut
        case .terminated: return .terminated
        case nil: break
        }
        let tail = collected.stderrTail.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        switch status {
        case .exited(0):
            if parsesLineProtocol, let final = collected.final {
                return final
            }
            return .completed(output: collected.text.trimmingCharacters(in: .whitespacesAndNewlines))
        case .exited(let code):
            return .failed(message: tail.isEmpty ? "exited with status \(code)" : tail, exitCode: code)
        case .signaled(let signal):
            let name = signalName(signal)
            return .failed(message: tail.isEmpty ? "killed by signal \(signal) (\(name))" : tail, exitCode: nil)
        case .unknown(let reason):
            return .failed(message: tail.isEmpty ? reason : tail, exitCode: nil)
        }
    }

    private static func signalName(_ signal: Int32) -> String {
        guard let description = strsignal(signal) else { return "signal \(signal)" }
        return String(cString: description)
    }
}

/// Why we killed a process group (the first reason wins).
enum AgentKillReason: Sendable {
    case timedOut, terminated
}

/// How the group leader ended.
enum AgentExitStatus: Sendable, Hashable {
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
}

/// What the pump gathered from stdout/stderr for deciding the outcome.
struct AgentCollectedOutput: Sendable {
    /// Non-protocol stdout text (plain lines and `log` texts), newline-joined; all of stdout for `command` steps.
    var text = ""
    var textBytes = 0
    var textTruncated = false
    /// The last `result` or `decision` line.
    var final: AgentOutcome?
    var stderrTail: [String] = []

    /// Beyond this, printed text is dropped: a runaway agent must not grow the server without bound.
    static let textLimit = 16 << 20

    mutating func appendText(_ line: String) {
        guard !textTruncated else { return }
        let size = line.utf8.count + 1
        if textBytes + size > Self.textLimit {
            textTruncated = true
            text += "\n[output truncated after \(Self.textLimit >> 20) MiB]"
            return
        }
        if textBytes > 0 { text += "\n" }
        text += line
        textBytes += size
    }

    mutating func appendStderr(_ line: String, keep: Int) {
        // A single enormous line must not make the failure message enormous.
        stderrTail.append(line.count > 2000 ? String(line.suffix(2000)) : line)
        if stderrTail.count > keep { stderrTail.removeFirst(stderrTail.count - keep) }
    }
}
