import Foundation

/// Reads stdout as the agent line protocol (see `AgentLine`): the reader of the `fake` and `command` drivers.
///
/// Outcome on exit 0: the last `result`, `decision` or `rate_limited` line decides; with neither, `.completed` with the
/// printed text (non-protocol lines and `log` texts, newline-joined, trimmed). A non-zero exit is
/// `.failed` with the last stderr lines.
public final class LineProtocolReader: AgentOutputReader {
    private var collected = AgentCollectedOutput()
    private let now: @Sendable () -> Date

    public init(now: @escaping @Sendable () -> Date = { Date() }) {
        self.now = now
    }

    public func readStdout(_ line: String) -> [AgentEvent] {
        switch AgentLine.parse(line) {
        case .log(let text):
            collected.appendText(text)
            return [.log(.agent, text)]
        case .progress(let fraction, let message):
            return [.progress(fraction: fraction, message: message)]
        case .usage(let model, let inputTokens, let outputTokens, let costUSD):
            return [.usage(AgentUsage(model: model, inputTokens: inputTokens, outputTokens: outputTokens, reportedCostUSD: costUSD))]
        case .decision(let question, let options):
            collected.final = .decision(question: question, options: options)
        case .result(let output):
            collected.final = .completed(output: output)
        case .session(let id):
            return [.session(id: id)]
        case .rateLimited(let message, let retryAfterSeconds):
            collected.final = .rateLimited(retryAt: retryAfterSeconds.map { now().addingTimeInterval($0) }, message: message ?? "")
        }
        return []
    }

    public func readStderr(_ line: String) -> [AgentEvent] {
        collected.appendStderr(line)
        return [.log(.stderr, line)]
    }

    public func outcome(exit status: AgentExitStatus) -> AgentOutcome {
        if let failure = collected.failure(status) { return failure }
        return collected.final ?? .completed(output: collected.text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
