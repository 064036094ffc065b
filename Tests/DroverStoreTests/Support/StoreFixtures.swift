import DroverProtocol
import DroverStore
import Foundation
import Testing

/// Runs `body` with a fresh folder under the temporary directory and removes it afterwards.
func withTemporaryDirectory<T>(_ body: (URL) throws -> T) throws -> T {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("drover-store-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url)
}

/// The permission bits of `path` (without following a symlink).
func permissions(_ path: String) throws -> Int {
    var info = stat()
    guard lstat(path, &info) == 0 else { throw StoreError.io("stat", path, errno: errno) }
    return Int(info.st_mode & 0o777)
}

enum Fixtures {
    static let at = "2026-01-02T03:04:05.678Z"

    static func run(
        _ id: String, status: RunStatus = .running, createdAt: String = at, lastSeq: Int = 0, output: String? = nil
    ) -> Run {
        Run(
            id: id, pipelineId: "default", task: "fix the \"flaky\" test / ünïcødé ✓", inputs: ["branch": "main"],
            status: status, createdAt: createdAt, updatedAt: createdAt, currentStep: "plan",
            steps: [
                Step(id: "plan", kind: .agent, role: "planner", state: .done, attempts: 1, output: output,
                     startedAt: at, finishedAt: at, decision: Decision(id: "d1", question: "Which?", options: ["a", "b"], chosen: "a")),
                Step(id: "implement", kind: .agent, approval: Approval(id: "a1", status: .pending, proposal: "diff")),
                Step(id: "test", kind: .tests),
            ],
            failure: nil, usage: Usage(inputTokens: 10, outputTokens: 20, costUSD: 0.1), lastSeq: lastSeq)
    }

    /// One event of every type, in protocol order, with awkward strings and optional members both set and unset.
    static func everyBody() -> [EventBody] {
        let failure = Failure(kind: .tests, message: "2 tests failed\nsee log", hint: "run `swift test`", stepId: "test")
        return [
            .runCreated(.init(
                pipelineId: "default", task: "quotes \" and \\ and / and 😀", inputs: ["k": "v", "empty": ""],
                steps: [StepInfo(id: "plan", kind: .agent, role: "planner"), StepInfo(id: "test", kind: .tests)])),
            .runQueued(.init(reason: .capacity)),
            .runQueued(.init(reason: .rateLimit, retryAt: "2026-11-29T09:01:00.000Z", stepId: "s", message: "429")),
            .runStarted,
            .stepStarted(.init(stepId: "plan", attempt: 1)),
            .stepCompleted(.init(stepId: "plan", attempt: 1, output: "line 1\nline 2\t\u{0}end")),
            .stepFailed(.init(stepId: "test", attempt: 2, failure: failure)),
            .stepInterrupted(.init(stepId: "implement", attempt: 3)),
            .decisionRequested(.init(stepId: "plan", decisionId: "d1", question: "Which DB?", options: ["sqlite", "none"])),
            .decisionResolved(.init(stepId: "plan", decisionId: "d1", choice: "sqlite")),
            .approvalRequested(.init(stepId: "implement", approvalId: "a1", proposal: "+ added\n- removed")),
            .approvalResolved(.init(stepId: "implement", approvalId: "a1", status: .changesRequested, feedback: "smaller")),
            .approvalResolved(.init(stepId: "implement", approvalId: "a1", status: .approved, proposal: "v2")),
            .usageRecorded(.init(stepId: "plan", model: "m-1", inputTokens: 1234, outputTokens: 56, costUSD: 0.0123456789)),
            .agentSession(.init(stepId: "plan", attempt: 2, sessionId: "5f1c-thread")),
            .runRetried(.init(fromStep: "test")),
            .runRestarted(.init(fromStep: "plan")),
            .runCompleted,
            .runFailed(.init(failure: Failure(kind: .internal, message: "boom", hint: "report it"))),
            .runCancelled(.init(reason: "user asked")),
            .runWorkspace(.init(isolation: .worktree, path: "/w/.drover/worktrees/r1", branch: "drover/r1", base: "HEAD",
                                baseCommit: "0123abc", note: "carried 1 file", remote: "https://example.com/team/app.git")),
            .stepStarted(.init(stepId: "test", attempt: 2, role: "fixer")),
            .stepCommitted(.init(stepId: "test", attempt: 2, sha: "0123abc", files: 1, insertions: 2, deletions: 1)),
            .testsFinished(.init(stepId: "test", attempt: 3, passed: false, summary: "1 failed\nFAIL x", exitCode: 1, fixesLeft: 0)),
            .runApplied(.init(strategy: .merge, into: "main", commit: "4567def", worktreeRemoved: true)),
            .runPaused(.init(reason: "budget", spent: Usage(inputTokens: 1, outputTokens: 2, costUSD: 0.5), limit: RunBudget(maxUSD: 0.5))),
            .runResumed(.init(budget: RunBudget(maxUSD: 2))),
            .runDiscarded(.init(worktreeRemoved: false, branchDeleted: true)),
            .consensusCandidate(.init(stepId: "plan", attempt: 1, role: "claude", output: "A")),
            .consensusDecided(.init(stepId: "plan", strategy: .vote, winner: "claude", reasons: "2 of 3 answers agree", output: "A")),
            .stepSkipped(.init(stepId: "arch", reason: "estimate.size is \"small\"")),
            .runChildren(.init(stepId: "plan", attempt: 1, output: "[\"a\"]", children: [ChildRun(runId: "r2", task: "a")])),
            .childMerged(.init(stepId: "plan", childRunId: "r2", outcome: .merged, commit: "0123abc")),
            .reviewVerdict(.init(stepId: "review", reviews: "implement", round: 1, attempt: 1, score: 0.45, threshold: 0.8, passed: false,
                                 findings: ["no tests"])),
            .reviewRework(.init(stepId: "review", reviews: "implement", round: 2)),
            .reviewMalformed(.init(stepId: "review", attempt: 2, problem: "the reply is not JSON", text: "LGTM")),
        ]
    }

    static func events(_ runId: String, bodies: [EventBody], from first: Int = 1) -> [Event] {
        bodies.enumerated().map { Event(runId: runId, seq: first + $0.offset, at: at, body: $0.element) }
    }

    static func events(_ runId: String, count: Int, from first: Int = 1) -> [Event] {
        (0..<count).map { Event(runId: runId, seq: first + $0, at: at, body: .stepStarted(.init(stepId: "s", attempt: $0))) }
    }
}
