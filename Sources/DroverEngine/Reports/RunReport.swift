import DroverProtocol
import Foundation

/// A run told as a Markdown page: task, pipeline, outcome, each step (attempts, duration, usage), test
/// runs, decisions and approvals, the commits and the diffstat, the failure with its hint. Pure: built
/// from the run and its events (plus a `git diff --stat` when the caller has one), so `run/report` (also into
/// `.drover/reports/<run-id>.md`, which the engine then keeps true), and `drover report` say the same.
public enum RunReport {
    /// The report of `run`, whose whole event log is `events`.
    public static func markdown(run: Run, events: [Event], diffStat: String? = nil) -> String {
        var lines: [String] = []
        lines.append("# Run \(run.id): \(run.pipelineId)")
        lines.append("")
        lines.append("- **Task:** \(oneLine(run.task))")
        lines.append("- **Outcome:** \(outcome(run))")
        if let took = duration(from: run.createdAt, to: run.status.isTerminal ? run.updatedAt : nil) {
            lines.append("- **Time:** started \(run.createdAt), took \(took)")
        }
        if let workspace = run.workspace { lines.append("- **Workspace:** \(describe(workspace))") }
        lines.append("- **Usage:** \(usage(run.usage.inputTokens, run.usage.outputTokens, run.usage.costUSD))")

        lines += ["", "## Steps", "", "| step | kind / role | state | attempts | time | usage |", "|---|---|---|---|---|---|"]
        var usageByStep: [String: (input: Int, output: Int, cost: Double)] = [:]
        for case .usageRecorded(let data) in events.map(\.body) {
            let sum = usageByStep[data.stepId] ?? (0, 0, 0)
            usageByStep[data.stepId] = (sum.input + data.inputTokens, sum.output + data.outputTokens, sum.cost + data.costUSD)
        }
        for step in run.steps {
            let time = duration(from: step.startedAt, to: step.finishedAt) ?? ""
            let spent = usageByStep[step.id].map { usage($0.input, $0.output, $0.cost) } ?? ""
            lines.append("| \(step.id) | \(step.role ?? step.kind.rawValue) | \(step.state.rawValue) | \(step.attempts) | \(time) | \(spent) |")
        }

        let tests = events.compactMap { event -> (String, EventBody.TestsFinished)? in
            if case .testsFinished(let data) = event.body { return (event.at, data) } else { return nil }
        }
        if !tests.isEmpty {
            lines += ["", "## Tests", ""]
            for (at, data) in tests {
                var head = "- `\(data.stepId)` attempt \(data.attempt) (\(at)): " + (data.passed ? "**passed**" : "**failed**")
                if let code = data.exitCode, !data.passed { head += ", exit \(code)" }
                if let left = data.fixesLeft { head += left > 0 ? ", handed to the fixer (\(left) round(s) left)" : ", no fixer round left" }
                lines.append(head)
                let tail = data.summary.split(separator: "\n", omittingEmptySubsequences: false).suffix(12).joined(separator: "\n")
                if !tail.isEmpty { lines += ["", "  ```", tail.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"), "  ```"] }
            }
        }

        let gates = gateLines(events)
        if !gates.isEmpty { lines += ["", "## Decisions and approvals", ""] + gates }

        let commits = events.compactMap { event -> EventBody.StepCommitted? in
            if case .stepCommitted(let data) = event.body { return data } else { return nil }
        }
        if !commits.isEmpty || diffStat != nil {
            lines += ["", "## Changes", ""]
            for commit in commits {
                lines.append("- `\(commit.sha.prefix(10))` step `\(commit.stepId)` attempt \(commit.attempt): "
                             + "\(commit.files) file(s), +\(commit.insertions) -\(commit.deletions)")
            }
            if let diffStat, !diffStat.isEmpty { lines += ["", "```", diffStat, "```"] }
        }

        if let failure = run.failure {
            lines += ["", "## Failure", "", "- **Kind:** \(failure.kind.rawValue)" + (failure.stepId.map { " (step `\($0)`)" } ?? ""),
                      "- **Message:** \(oneLine(failure.message))", "- **Hint:** \(failure.hint)"]
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func outcome(_ run: Run) -> String {
        var text = run.status.rawValue
        if let failure = run.failure, run.status != .done { text += " (\(failure.kind.rawValue))" }
        if let applied = run.workspace?.applied {
            text += "; applied (\(applied.strategy.rawValue))" + (applied.into.map { " into \($0)" } ?? "")
                + (applied.commit.map { " as \($0.prefix(10))" } ?? "")
        }
        if run.workspace?.discarded == true { text += "; discarded" }
        return text
    }

    static func describe(_ workspace: RunWorkspace) -> String {
        switch workspace.isolation {
        case .worktree:
            return "worktree on branch `\(workspace.branch ?? "?")` from \(workspace.base ?? "HEAD")"
                + (workspace.baseCommit.map { " (`\($0.prefix(10))`)" } ?? "")
        case .snapshot: return "snapshot copy `\(workspace.path)`"
        case .none: return "in place, `\(workspace.path)`"
        }
    }

    /// Every decision and approval with its answer, in order; who answered is not recorded, when is.
    static func gateLines(_ events: [Event]) -> [String] {
        var questions: [String: String] = [:]
        var lines: [String] = []
        for event in events {
            switch event.body {
            case .decisionRequested(let data):
                questions[data.decisionId] = data.question
            case .decisionResolved(let data):
                lines.append("- `\(data.stepId)` decision: \(oneLine(questions[data.decisionId] ?? data.decisionId)) → **\(data.choice)** (\(event.at))")
            case .approvalResolved(let data):
                let verdict: String
                switch data.status {
                case .approved: verdict = data.proposal == nil ? "approved" : "approved with edits"
                case .changesRequested: verdict = "changes requested"
                case .rejected: verdict = "rejected"
                case .pending: verdict = "pending"
                }
                lines.append("- `\(data.stepId)` approval: **\(verdict)** (\(event.at))" + (data.feedback.map { ": \(oneLine($0))" } ?? ""))
            default:
                break
            }
        }
        return lines
    }

    static func usage(_ input: Int, _ output: Int, _ cost: Double) -> String {
        "\(input) in / \(output) out tokens" + (cost > 0 ? String(format: ", $%.4f", cost) : "")
    }

    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).joined(separator: " ").replacingOccurrences(of: "|", with: "\\|")
    }

    static func duration(from start: String?, to end: String?) -> String? {
        guard let start = start.flatMap(date), let end = end.flatMap(date) else { return nil }
        let seconds = max(0, end.timeIntervalSince(start))
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        let whole = Int(seconds.rounded())
        return whole < 3600 ? "\(whole / 60)m\(String(format: "%02d", whole % 60))s" : "\(whole / 3600)h\(String(format: "%02d", (whole % 3600) / 60))m"
    }

    static func date(_ timestamp: String) -> Date? {
        if let date = Timestamp.date(timestamp) { return date }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: timestamp) ?? ISO8601DateFormatter().date(from: timestamp)
    }
}
