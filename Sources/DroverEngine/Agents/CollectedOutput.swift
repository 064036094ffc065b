import Foundation

/// What a reader keeps of an attempt's output to decide its outcome: the printed text (bounded) and the
/// last stderr lines for a failure message. Shared by the readers of every driver.
struct AgentCollectedOutput: Sendable {
    /// How many trailing stderr lines a failure message keeps.
    static let stderrTailLines = 20

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

    /// The failure for a non-zero exit (nil for exit 0), explained by the kept stderr lines.
    func failure(_ status: AgentExitStatus) -> AgentOutcome? {
        status.failure(stderrTail: stderrTail.joined(separator: "\n"))
    }

    mutating func appendStderr(_ line: String, keep: Int = stderrTailLines) {
        // A single enormous line must not make the failure message enormous.
        stderrTail.append(line.count > 2000 ? String(line.suffix(2000)) : line)
        if stderrTail.count > keep { stderrTail.removeFirst(stderrTail.count - keep) }
    }
}

extension AgentExitStatus {
    /// The exit code, for a process that exited rather than was killed.
    var exitCode: Int32? {
        if case .exited(let code) = self { code } else { nil }
    }
}
