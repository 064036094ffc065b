import Foundation
import Testing

/// A reviewer's later rounds resume the agent session of its earlier ones (`DROVER_RESUME_SESSION`,
/// a driver's `--resume`), so round 2 remembers what round 1 said.
extension ReviewStepsEndToEndTests {
    @Test("round 2 of a review resumes the reviewer's session from round 1, with the whole review request (the reworked output) as its prompt")
    func reviewerResumesItsSession() async throws {
        let impl = FakePipeline.step("impl", prompt: "Implement: {{task}}", turns: [[["result": "IMPL attempt {{attempt}}"]]])
        let review: [String: Any] = [
            "id": "review", "kind": "review", "reviews": "impl", "threshold": 0.8, "prompt": "Review this change",
            "agent": ["driver": "fake", "script": [
                [["session": "reviewer-conv"], ["result": Self.low]],
                // Round 2 logs its prompt, and its verdict says which session it was given.
                [["say": "PROMPT {{prompt}}"], ["result": #"{"score": 0.9, "findings": ["resumed [{{env.DROVER_RESUME_SESSION}}]"]}"#]],
            ]],
        ]
        let workspace = try EngineWorkspace(pipelines: ["reviewed": FakePipeline.pipeline([impl, review])])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("reviewed").string("id")
        let session = try await drover.event(runId, "agent.session").data
        #expect(session.string("stepId") == "review" && session.string("sessionId") == "reviewer-conv")
        let second = try await drover.event(runId, "review.verdict") { $0.data["round"] as? Int == 2 }.data
        #expect(second["findings"] as? [String] == ["resumed [reviewer-conv]"], "\(second)")
        try await drover.event(runId, "run.completed")
        let prompt = try await drover.call("step/log", ["runId": runId, "stepId": "review", "attempt": 2]).string("text")
        #expect(prompt.contains("Review this change") && prompt.contains("IMPL attempt 2")
                && prompt.contains("Your review of round 1 scored it 0.4"), "the whole request, with the rework: \(prompt)")
    }
}
