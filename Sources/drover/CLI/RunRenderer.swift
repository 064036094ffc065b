import DroverEngine
import DroverProtocol
import Foundation

/// Turns one run's engine output into live terminal lines: step starts and ends with durations,
/// agent output indented under its step, usage, gates, and the run's outcome.
///
/// Confined to the task that drives the run; every line goes through `Console`.
final class RunRenderer {
    let terminal: Terminal
    /// Step outputs longer than this many lines are cut (the full text is in `drover status`).
    let outputLineLimit = 30
    private var stepStarted: [String: Date] = [:]
    /// When a step that needs approval proposed its output: its agent time ends there.
    private var stepProposed: [String: Date] = [:]
    /// The last proposal of each step, so an approved output is not printed twice.
    private var proposals: [String: String] = [:]
    private var runStarted: Date?
    private var roles: [String: String] = [:]

    init(terminal: Terminal) { self.terminal = terminal }

    private var t: Terminal { terminal }

    /// The first lines of a run: what runs where.
    func header(run: Run, workspace: URL) {
        runStarted = Format.date(run.createdAt)
        for step in run.steps { roles[step.id] = step.role }
        let steps = run.steps.map(\.id).joined(separator: " \(t.arrow) ")
        Console.line(t.bold("Run \(run.id)") + t.separator + "pipeline \(run.pipelineId)" + t.separator + steps)
        Console.line(t.dim("  workspace: \(workspace.path)"))
        Console.line(t.dim("  task: \(Format.firstLine(run.task, limit: 100))"))
    }

    /// Picks up a run already under way (`drover attach`, after its state was printed): later
    /// lines time its steps from when they really started.
    func follow(run: Run) {
        runStarted = Format.date(run.createdAt)
        for step in run.steps {
            roles[step.id] = step.role
            if step.state == .working || step.state == .waiting { stepStarted[step.id] = Format.date(step.startedAt) }
        }
        Console.line("")
        Console.line(t.dim("Following run \(run.id) live (Ctrl-C cancels it)"))
    }

    /// A gate that was already open when the session began, shown as when it was raised.
    func pending(_ gate: OpenGate) {
        switch gate {
        case .decision(let stepId, _, _):
            // Its question and options are in the state printed just before.
            Console.line("\(t.gate) \(t.bold(stepId)) waits for your decision")
        case .approval(let stepId, _, let proposal):
            proposals[stepId] = proposal
            Console.line("\(t.gate) \(t.bold(stepId)) needs approval. Proposal:")
            Console.line(Format.indent(proposal, "    \(bar) "))
        }
    }

    /// Renders one output of the engine for this run.
    func render(_ output: EngineOutput) {
        switch output {
        case .log(let log):
            let line = Format.indent(log.text, "    ")
            Console.line(log.stream == .stderr ? t.dim(line) : line)
        case .event(let event):
            render(event)
        }
    }

    private func render(_ event: Event) {
        let at = Format.date(event.at) ?? Date()
        switch event.body {
        case .runCreated(let data):
            if let notice = data.notice { Console.line(t.yellow("note: ") + notice) }
        case .runStarted:
            break
        case .runQueued(let data):
            switch data.reason {
            case .capacity: Console.line(t.dim("  queued: as many runs as concurrency.maxRuns allows are working; it starts when one ends"))
            case .dependency: Console.line(t.dim("  queued: waiting for run \((data.waitingFor ?? []).joined(separator: ", ")) to be done"))
            case .draining: Console.line(t.dim("  queued: the engine is draining; the next engine starts it"))
            case .rateLimit:
                let step = data.stepId.map { "\(t.bold($0)) " } ?? ""
                Console.line("\(t.pending) \(step)\(Format.rateLimitWait(retryAt: data.retryAt))"
                             + (data.message.map { t.dim(": " + Format.firstLine($0, limit: 160)) } ?? ""))
            }
        case .stepStarted(let data):
            stepStarted[data.stepId] = at
            stepProposed[data.stepId] = nil
            let role = (data.role ?? roles[data.stepId]).map { t.dim(" (\($0))") } ?? ""
            let attempt = data.attempt > 1 ? t.dim(" attempt \(data.attempt)") : ""
            Console.line("\(t.running) \(t.bold(data.stepId))\(role) started\(attempt)")
        case .agentSession:
            break
        case .usageRecorded(let data):
            let usage = Format.usage(input: data.inputTokens, output: data.outputTokens,
                                     cached: data.cacheReadTokens + data.cacheWriteTokens, costUSD: data.costUSD)
            // Where the cost came from when it is not Drover's own price list, and the agent's figure beside it.
            let source: String? = switch data.priceSource {
            case .config: "price from config"
            case .reported: "the agent's own cost: no price for this model"
            case .none?: "no price for this model"
            case .table, nil: nil
            }
            let reported = data.reportedCostUSD.flatMap { data.priceSource == .reported ? nil : "the agent says " + Format.cost($0) }
            let notes = [source, reported].compactMap { $0 }
            Console.line(t.dim("    usage: \(data.model), " + usage + (notes.isEmpty ? "" : " (" + notes.joined(separator: "; ") + ")")))
        case .stepCompleted(let data):
            let end = stepProposed[data.stepId] ?? at
            Console.line("\(t.ok) \(t.bold(data.stepId)) done\(elapsed(data.stepId, until: end))")
            if proposals[data.stepId] != data.output { renderOutput(data.output) }
        case .stepFailed(let data):
            Console.line("\(t.failed) \(t.bold(data.stepId)) failed\(elapsed(data.stepId, until: at)) (\(data.failure.kind.rawValue)): \(data.failure.message)")
        case .stepInterrupted(let data):
            Console.line("\(t.failed) \(t.bold(data.stepId)) interrupted (attempt \(data.attempt))")
        case .reviewVerdict(let data):
            let outcome = data.passed ? "\(t.ok) passed" : "\(t.failed) below \(data.threshold)"
            Console.line("    review of \(t.bold(data.reviews)), round \(data.round): score \(data.score) \(outcome)")
            for finding in data.findings { Console.line("      - \(finding)") }
        case .reviewRework(let data):
            Console.line("\(t.running) \(t.bold(data.reviews)) goes back for rework (review round \(data.round) next)")
        case .reviewMalformed(let data):
            Console.line(t.dim("    the reviewer's reply is not a verdict (\(data.problem))"))
        case .stepSkipped(let data):
            Console.line(t.dim("  \(data.stepId) skipped: \(data.reason)"))
        case .decisionRequested(let data):
            Console.line("\(t.gate) \(t.bold(data.stepId)) asks\(t.dim(elapsed(data.stepId, until: at, style: .after))): \(t.bold(data.question))")
            for (index, option) in data.options.enumerated() { Console.line("    \(index + 1)) \(option)") }
        case .decisionResolved(let data):
            Console.line("    \(t.arrow) chose \(t.bold(data.choice))")
        case .approvalRequested(let data):
            stepProposed[data.stepId] = at
            proposals[data.stepId] = data.proposal
            Console.line("\(t.gate) \(t.bold(data.stepId)) needs approval\(t.dim(elapsed(data.stepId, until: at, style: .after))). Proposal:")
            Console.line(Format.indent(data.proposal, "    \(bar) "))
            if let review = data.review {
                Console.line("    review \(t.bold(review.stepId)) (round \(review.round)): score \(review.score), needs \(review.threshold)"
                             + (review.passed ? "" : ", accepted as is"))
                for finding in review.findings { Console.line("      - \(finding)") }
            }
        case .approvalResolved(let data):
            switch data.status {
            case .approved:
                Console.line("    \(t.ok) approved" + (data.proposal != nil ? " with your edits" : ""))
            case .changesRequested:
                Console.line("    \(t.arrow) changes requested: \(data.feedback ?? "")")
            case .rejected:
                Console.line("    \(t.failed) rejected" + (data.feedback.map { ": \($0)" } ?? ""))
            case .pending:
                break
            }
        case .runRetried(let data):
            Console.line("\(t.running) run retried from \(data.fromStep)")
        case .runRestarted(let data):
            Console.line("\(t.running) run restarted from \(data.fromStep)")
        case .runWorkspace(let data):
            // Only an isolated run says where it works: otherwise it is the folder the user is in.
            if data.isolation == .worktree {
                Console.line(t.dim("    working in \(data.path) on branch \(data.branch ?? "?")" + (data.note.map { "; \($0)" } ?? "")))
            } else if data.isolation == .snapshot {
                Console.line(t.dim("    working in a snapshot copy, \(data.path)"))
            }
        case .stepCommitted(let data):
            Console.line(t.dim("    committed \(data.sha.prefix(10)): \(data.files) file(s), +\(data.insertions) -\(data.deletions)"))
        case .testsFinished(let data):
            let outcome = data.passed ? "tests passed" : "tests failed" + (data.fixesLeft.map { $0 > 0 ? ", handing to the fixer" : ", no fixer rounds left" } ?? "")
            Console.line("    \(data.passed ? t.ok : t.failed) \(outcome)")
        case .runApplied(let data):
            Console.line("\(t.ok) applied (\(data.strategy.rawValue))" + (data.into.map { " into \($0)" } ?? ""))
        case .runPaused(let data) where data.reason == "daily_budget":
            Console.line("\(t.gate) paused: the workspace reached its daily budget, " + Format.usage(data.spent)
                         + " spent today; raise budgets.perDay in config.json, then `drover resume \(event.runId)`")
        case .runPaused(let data):
            Console.line("\(t.gate) paused: reached its \(data.reason), " + Format.usage(data.spent)
                         + " spent; raise it with `drover resume \(event.runId) --budget USD`")
        case .runResumed:
            Console.line("\(t.running) run resumed")
        case .runDiscarded(let data):
            Console.line("\(t.ok) discarded" + (data.branchDeleted ? " (branch deleted)" : " (branch kept)"))
        case .consensusCandidate(let data) where data.failure != nil:
            Console.line(t.dim("    \(data.role) gave no answer (attempt \(data.attempt)): \(data.failure?.message.prefix(200) ?? "")"))
        case .consensusCandidate(let data):
            Console.line(t.dim("    \(data.role) answered (attempt \(data.attempt))"))
        case .consensusDecided(let data):
            Console.line("    \(t.ok) \(data.strategy.rawValue): \(data.winner) wins" + (data.reasons.map { t.dim(" (\($0))") } ?? "")
                         + (data.changesFrom.map { t.dim("; the change of \($0) kept") } ?? ""))
        case .runChildren(let data):
            Console.line("\(t.gate) \(t.bold(data.stepId)) waits for \(data.children.count) child run(s): "
                         + data.children.map(\.runId).joined(separator: ", "))
        case .childMerged(let data):
            Console.line(t.dim("    child \(data.childRunId): \(data.outcome.rawValue)" + (data.commit.map { " (\($0.prefix(10)))" } ?? "")))
        case .runCompleted, .runFailed, .runCancelled:
            break // `finish(run:)` prints the outcome with the run's totals
        }
    }

    /// The last lines: the outcome, total time and usage; for a failure its kind, message and hint.
    func finish(run: Run) {
        let total = runStarted.map { Format.duration((Format.date(run.updatedAt) ?? Date()).timeIntervalSince($0)) }
        let hasUsage = run.usage.inputTokens + run.usage.outputTokens > 0 || run.usage.costUSD > 0
        let usage = hasUsage
            ? t.separator + Format.usage(run.usage) : ""
        switch run.status {
        case .done:
            Console.line("\(t.ok) " + t.bold("Run \(run.id) done") + (total.map { " in \($0)" } ?? "") + usage)
        case .failed:
            let failure = run.failure
            Console.line("\(t.failed) " + t.red(t.bold("Run \(run.id) failed")) + (failure.map { " (\($0.kind.rawValue))" } ?? "")
                + (failure?.stepId.map { " at step \($0)" } ?? ""))
            if let failure {
                Console.line("    \(failure.message)")
                Console.line("    hint: \(failure.hint)")
            }
        case .cancelled:
            Console.line("\(t.failed) " + t.bold("Run \(run.id) cancelled") + (run.failure.map { t.dim(" (\($0.message))") } ?? ""))
        default:
            Console.line("\(t.gate) Run \(run.id) is \(run.status.rawValue)")
        }
    }

    private var bar: String { t.styled ? t.dim("│") : "|" }

    private func renderOutput(_ output: String) {
        let trimmed = output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return }
        var lines = trimmed.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var more = 0
        if lines.count > outputLineLimit {
            more = lines.count - outputLineLimit
            lines = Array(lines.prefix(outputLineLimit))
        }
        Console.line(Format.indent(lines.joined(separator: "\n"), "    \(bar) "))
        if more > 0 { Console.line(t.dim("    … \(more) more lines (`drover status RUN --output` shows all)")) }
    }

    private enum ElapsedStyle { case inTime, after }

    /// ` in 0.4s` (or ` (after 0.4s)`) since the step started.
    private func elapsed(_ stepId: String, until end: Date, style: ElapsedStyle = .inTime) -> String {
        guard let start = stepStarted[stepId] else { return "" }
        let duration = Format.duration(end.timeIntervalSince(start))
        return style == .inTime ? " in \(duration)" : " (after \(duration))"
    }
}
