import Foundation
import Testing

/// The built-in `implement-reviewed` pipeline over the real binary and real git, with fake agents in its
/// roles: a large estimate → plan → architecture review (reworks the plan once) → impl → tests (the
/// implementer fixes them) → code review (reworks impl once) → the approval shows the passing review.
@Suite("End to end: the implement-reviewed pipeline")
struct ImplementReviewedEndToEndTests {
    static var agents: [String: Any] { ["agents": [
        "planner": ["driver": "fake", "script": [[["result": #"{"size": "large", "files": ["answer.txt"], "reason": "{{env.DROVER_STEP_ID}}"}"#]]]],
        "implementer": ["driver": "fake", "script": [
            [["write": ["path": "answer.txt", "text": "41\n"]], ["result": "wrote answer.txt"]],
            [["write": ["path": "answer.txt", "text": "42\n"]], ["result": "the answer is 42 now. I was asked:\n{{prompt}}"]],
        ]],
        "reviewer": ["driver": "fake", "script": [
            [["result": #"{"score": 0.5, "findings": ["split it into smaller steps"]}"#]],
            [["result": #"{"score": 0.9, "findings": []}"#]],
        ]],
    ]] }

    @Test("large: the plan and the implementation are each reworked once by their reviewers, then the approval shows the code review")
    func largeChange() async throws {
        let workspace = try await GitFixture.workspace(config: Self.agents, files: ["Makefile": CodingLoopEndToEndTests.makefile])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("implement-reviewed", task: "make the answer 42").string("id")

        let approval = try await drover.event(runId, "approval.requested", timeout: .seconds(60)).data
        #expect(approval.string("stepId") == "impl")
        let review = approval.object("review")
        #expect(review.string("stepId") == "code-review" && review["round"] as? Int == 2 && review["passed"] as? Bool == true, "\(approval)")
        let events = try await drover.storedEvents(runId)
        let verdicts = events.filter { $0.string("type") == "review.verdict" }.map { "\($0.data.string("stepId")) \($0.data["round"] as? Int ?? 0) \($0.data["passed"] as? Bool == true)" }
        #expect(verdicts == ["architecture 1 false", "architecture 2 true", "code-review 1 false", "code-review 2 true"], "\(verdicts)")
        #expect(!events.contains { $0.string("type") == "step.skipped" }, "a large change gets its architecture review")
        #expect(approval.string("proposal").contains("review 'code-review' (round 1) scored it 0.5")
                && approval.string("proposal").contains("- split it into smaller steps"), "impl re-ran with the findings:\n\(approval.string("proposal"))")

        try await drover.call("step/approve", ["runId": runId, "approvalId": approval.string("approvalId")])
        try await drover.event(runId, "run.completed")
        let run = try await drover.getRun(runId)
        #expect((run["steps"] as? [[String: Any]])?.map { $0.string("id") } == ["estimate", "plan", "architecture", "impl", "tests", "code-review"])
        #expect(run.step("tests").string("state") == "done")
        #expect(GitFixture.read(workspace.path + "/answer.txt") == nil, "all of it happened in the run's worktree")
    }
}
