import Foundation
import Testing

/// A reviewer its `when` skipped: the reviewed step's approval comes without a review, and changes
/// requested there go through every step up to the reviewer again, whose `when` is evaluated anew.
extension ReviewStepsEndToEndTests {
    /// impl (requiresApproval; answers `{"size": "small"}`, then `{"size": "large"}`) → check (quotes impl)
    /// → review (only when impl's size is large) → report.
    static var sizedReview: [String: Any] {
        var impl = FakePipeline.step("impl", prompt: "Implement: {{task}}",
                                     turns: [[["result": #"{"size": "small"}"#]], [["result": #"{"size": "large"}"#]]])
        impl["requiresApproval"] = true
        let check = FakePipeline.step("check", prompt: "{{steps.impl.output}}", turns: [[["result": "CHECKED {{prompt}}"]]])
        let review: [String: Any] = [
            "id": "review", "kind": "review", "reviews": "impl", "prompt": "Review it",
            "when": ["step": "impl", "path": "size", "in": ["large"]],
            "agent": ["driver": "fake", "script": [[["result": Self.high]]]],
        ]
        let report = FakePipeline.step("report", prompt: "done", turns: [[["result": "REPORT"]]])
        return FakePipeline.pipeline([impl, check, review, report])
    }

    @Test("reviewer skipped by its when: changes requested on the approval re-run the reviewed step and the steps up to the reviewer, whose when is evaluated again, and the approval is asked again")
    func changesAfterSkippedReview() async throws {
        let workspace = try EngineWorkspace(pipelines: ["sized": Self.sizedReview])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("sized").string("id")
        let skipped = try await drover.event(runId, "step.skipped").data
        #expect(skipped.string("stepId") == "review")
        let first = try await drover.event(runId, "approval.requested").data
        #expect(first.string("stepId") == "impl" && first["review"] == nil, "asked without a review: \(first)")

        try await drover.call("step/requestChanges", ["runId": runId, "approvalId": first.string("approvalId"), "feedback": "make it bigger"])
        let rework = try await drover.event(runId, "review.rework").data
        #expect(rework.string("stepId") == "review" && rework.string("reviews") == "impl")
        let verdict = try await drover.event(runId, "review.verdict").data
        #expect(verdict["passed"] as? Bool == true, "the reviewer's when holds for the rework, so it grades it")
        let second = try await drover.event(runId, "approval.requested") { $0.data.string("approvalId") != first.string("approvalId") }.data
        #expect(second.string("proposal") == #"{"size": "large"}"# && second.object("review").string("stepId") == "review")

        let waiting = try await drover.getRun(runId)
        #expect(waiting.step("check")["attempts"] as? Int == 2 && waiting.step("check").string("output") == #"CHECKED {"size": "large"}"#,
                "the step between them ran again on the rework: \(waiting.step("check"))")
        #expect(waiting.step("report").string("state") == "pending", "nothing after the reviewer ran before the approval")
        try await drover.call("step/approve", ["runId": runId, "approvalId": second.string("approvalId")])
        try await drover.event(runId, "run.completed")
    }
}
