import DroverProtocol
import DroverStore
import Foundation

/// The test → fix → test loop of `tests` steps, and the run's diff in prompts.
///
/// A tests step's attempts alternate: the command runs (`tests.finished` records it); when it fails and
/// the step has a `fixer` with rounds left, the fixer's agent runs as the next attempt of the same step
/// (`step.started` with its `role`) in the same working directory, its change is committed, and the
/// command runs again as the attempt after. The step fails with kind `tests` once the rounds are spent.
extension Engine {
    /// Handles a finished attempt of a tests step; false when the generic outcome handling should go on.
    func finishTestsAttempt(_ outcome: AgentOutcome, run: Run, step: StepDefinition, attempt: Int) throws -> Bool {
        let loop = try history(run.id).testsLoops[step.id]
        if let fixerRole = loop?.lastStartedRole {
            switch outcome {
            case .completed:
                try startStep(run: run, stepId: step.id, attempt: attempt + 1, role: nil, resuming: false)
                return true
            case .failed(let message, _):
                try failRun(runId: run.id, stepId: step.id, attempt: attempt, roleFailed: "The fixer ('\(fixerRole)') of step '\(step.id)'",
                            message: message, fix: "fix the fixer's agent or config")
                return true
            case .decision, .timedOut, .terminated, .rateLimited:
                return false
            }
        }
        switch outcome {
        case .completed:
            try commit([.testsFinished(.init(stepId: step.id, attempt: attempt, passed: true,
                                             summary: testsSummary(runId: run.id, stepId: step.id, attempt: attempt), exitCode: 0))],
                       runId: run.id)
            return false
        case .failed(_, let exitCode):
            let summary = testsSummary(runId: run.id, stepId: step.id, attempt: attempt)
            let exitCode = exitCode.map(Int.init)
            guard let fixer = step.fixer else {
                try commit([.testsFinished(.init(stepId: step.id, attempt: attempt, passed: false, summary: summary, exitCode: exitCode))],
                           runId: run.id)
                return false
            }
            let left = max(0, fixer.maxAttempts - (loop?.fixRounds ?? 0))
            let current = try commit([.testsFinished(.init(stepId: step.id, attempt: attempt, passed: false, summary: summary,
                                                           exitCode: exitCode, fixesLeft: left))], runId: run.id)
            if left > 0 {
                try startStep(run: current, stepId: step.id, attempt: attempt + 1, role: fixer.role, resuming: false)
                return true
            }
            let place = current.workspace.map { " in \($0.path)" } ?? ""
            try failRun(runId: run.id, stepId: step.id, attempt: attempt, failure: Failure(
                kind: .tests,
                message: "The tests of step '\(step.id)' still fail after \(fixer.maxAttempts) fixer round(s):\n\(summary)",
                hint: Hints.fixThenRetry("See `drover logs \(run.id) \(step.id)`; fix the code\(place) by hand or raise 'fixer.maxAttempts'",
                                         runId: run.id),
                stepId: step.id))
            return true
        case .decision, .timedOut, .terminated, .rateLimited:
            return false
        }
    }

    /// The last lines of a tests attempt's output: what `tests.finished` records and the fixer is shown.
    func testsSummary(runId: String, stepId: String, attempt: Int, lines: Int = 40, characters: Int = 4000) -> String {
        guard let file = try? layout.existingLogFile(runId: runId, stepId: stepId, attempt: attempt),
              let text = try? String(contentsOf: file, encoding: .utf8) else { return "" }
        let tail = text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines + 1).joined(separator: "\n")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return tail.count > characters ? "…" + String(tail.suffix(characters)) : tail
    }

    /// The fixer's prompt: its own `prompt`, or one naming the command and quoting the failure.
    func fixerPrompt(step: StepDefinition, loop: RunHistory.TestsLoop?, run: Run) -> String {
        if let prompt = step.fixer?.prompt { return prompt }
        let command: String
        switch step.command {
        case .shell(let text)?: command = text
        case .argv(let argv)?: command = argv.joined(separator: " ")
        case .auto?: command = (try? TestCommandDetection.detect(in: run.workspace?.path ?? options.workspace.path).display) ?? "(detected from the project's files)"
        case nil: command = "(none)"
        }
        return """
            The tests of this change fail. Find the cause and fix the code in the working directory so that they pass; \
            do not weaken, skip or delete tests.

            Task: {{task}}

            Test command: \(command)

            Output of the failing run (last lines):
            {{tests.summary}}
            """
    }

    /// Fills `{{diff}}` and `{{diff.stat}}` when the template uses them and the run has a worktree.
    func addDiff(to context: inout Template.Context, template: String, run: Run, history: RunHistory) throws {
        // The run's workspace first: a run without a base commit has no diff, and reading the template costs more.
        guard let workspace = run.workspace, workspace.isolation != .none, let base = workspace.baseCommit else { return }
        let references = Template.references(in: template)
        guard references.contains(.diff) || references.contains(.diffStat) else { return }
        let git = RunDiffReader(workspace: options.workspace, environment: options.environment).repository(of: workspace)
        let tip = tip(of: workspace, history: history)
        if references.contains(.diff) { context.diff = try git.raw(["diff", "-M", "--no-color", "--no-ext-diff", base, tip]) }
        if references.contains(.diffStat) { context.diffStat = try git.checked(["diff", "--stat", "--no-color", base, tip]) }
    }
}
