import Foundation

/// Reads stdout as plain text: every line is shown, and on exit 0 all of stdout (trimmed) is the output.
/// The reader of `command` and `tests` steps, whose programs know nothing of drover.
public final class PlainOutputReader: AgentOutputReader {
    private var collected = AgentCollectedOutput()

    public init() {}

    public func readStdout(_ line: String) -> [AgentEvent] {
        collected.appendText(line)
        return [.log(.agent, line)]
    }

    public func readStderr(_ line: String) -> [AgentEvent] {
        collected.appendStderr(line)
        return [.log(.stderr, line)]
    }

    public func outcome(exit status: AgentExitStatus) -> AgentOutcome {
        collected.failure(status) ?? .completed(output: collected.text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
