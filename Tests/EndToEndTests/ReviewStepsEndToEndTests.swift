import Foundation
import Testing

/// Review steps over the real binary with fake agents: a reviewer grades the implementer's output,
/// sends it back with its findings below the threshold, and a person decides when the rounds are spent.
@Suite("End to end: review steps")
struct ReviewStepsEndToEndTests {
    /// impl (its reply quotes its prompt) → review (plays `verdicts`, one per attempt).
    static func pipeline(verdicts: [String], implApproval: Bool = false, maxRounds: Int = 2) -> [String: Any] {
        var impl = FakePipeline.step("impl", prompt: "Implement: {{task}}",
                                     turns: [[["result": "IMPL attempt {{attempt}}\n{{prompt}}"]]])
        if implApproval { impl["requiresApproval"] = true }
        let review: [String: Any] = [
            "id": "review", "kind": "review", "reviews": "impl", "threshold": 0.8, "maxRounds": maxRounds,
            "prompt": "Review this change to: {{task}}",
            "agent": ["driver": "fake", "script": verdicts.map { [["result": $0]] }],
        ]
        let after = FakePipeline.step("report", prompt: "{{steps.review.output}}", turns: [[["result": "REPORT {{prompt}}"]]])
        return FakePipeline.pipeline([impl, review, after])
    }

    static let low = #"{"score": 0.4, "findings": ["the parser has no tests", {"file": "a.swift", "line": 3, "message": "off by one"}]}"#
    static let lower = #"Here is my verdict: ```json\n{"score": 0.5, "findings": ["still no tests"]}\n```"#
    static let high = #"{"score": 0.9, "findings": []}"#

    @Test("below the threshold the implementer re-runs with the findings in its prompt, and the review passes on round 2")
    func reworkThenPass() async throws {
        let workspace = try EngineWorkspace(pipelines: ["reviewed": Self.pipeline(verdicts: [Self.low, Self.high])])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("reviewed", task: "parse dates").string("id")

        let first = try await drover.event(runId, "review.verdict").data
        #expect(first.string("stepId") == "review" && first.string("reviews") == "impl" && first["round"] as? Int == 1)
        #expect(first["score"] as? Double == 0.4 && first["passed"] as? Bool == false && first["threshold"] as? Double == 0.8)
        #expect(first["findings"] as? [String] == ["the parser has no tests", "a.swift:3 off by one"])
        let rework = try await drover.event(runId, "review.rework").data
        #expect(rework.string("reviews") == "impl" && rework["round"] as? Int == 2)
        let second = try await drover.event(runId, "review.verdict").data
        #expect(second["round"] as? Int == 2 && second["passed"] as? Bool == true)
        try await drover.event(runId, "run.completed")

        let run = try await drover.getRun(runId)
        let impl = run.step("impl").string("output")
        #expect(impl.hasPrefix("IMPL attempt 2"), "\(impl)")
        #expect(impl.contains("review 'review' (round 1) scored it 0.4, below the 0.8 needed") && impl.contains("- the parser has no tests")
                && impl.contains("- a.swift:3 off by one"), "the findings are in the re-run's prompt:\n\(impl)")
        #expect(impl.contains("Previous proposal:\nIMPL attempt 1"), "with the output they graded:\n\(impl)")
        let verdict = run.step("review").string("output")
        #expect(verdict.contains(#""score":0.9"#) && verdict.contains(#""findings":[]"#), "the review's output is its verdict: \(verdict)")
        #expect(run.step("review")["attempts"] as? Int == 2 && run.step("impl")["attempts"] as? Int == 2)
        #expect(run.step("report").string("output").contains(#""score":0.9"#), "later steps see the verdict")
    }

    @Test("rounds spent → a decision; \"grant another round\" reworks once more and the review passes; \"fail the run\" fails it with a hint")
    func roundsSpent() async throws {
        let workspace = try EngineWorkspace(pipelines: ["reviewed": Self.pipeline(verdicts: [Self.low, Self.lower, Self.high])])
        let drover = try await workspace.server()

        let granted = try await drover.startRun("reviewed").string("id")
        let decision = try await drover.event(granted, "decision.requested").data
        #expect(decision.string("stepId") == "review")
        #expect(decision["options"] as? [String] == ["grant another round", "accept as is", "fail the run"])
        #expect(decision.string("question").contains("still scores 0.5 (needs 0.8) after 2 round(s): still no tests"), "\(decision)")
        #expect(try await drover.getRun(granted).string("status") == "blocked")
        let inbox = try await drover.call("inbox/list")["items"] as? [[String: Any]] ?? []
        #expect(inbox.contains { $0.string("runId") == granted && $0.string("kind") == "decision" })
        try await drover.call("decision/resolve", ["runId": granted, "decisionId": decision.string("decisionId"), "choice": "grant another round"])
        let rework = try await drover.event(granted, "review.rework") { $0.data["round"] as? Int == 3 }.data
        #expect(rework.string("reviews") == "impl")
        let third = try await drover.event(granted, "review.verdict") { $0.data["round"] as? Int == 3 }.data
        #expect(third["passed"] as? Bool == true)
        try await drover.event(granted, "run.completed")
        #expect(try await drover.getRun(granted).step("impl").string("output").hasPrefix("IMPL attempt 3"))

        let failed = try await drover.startRun("reviewed").string("id")
        let second = try await drover.event(failed, "decision.requested").data
        try await drover.call("decision/resolve", ["runId": failed, "decisionId": second.string("decisionId"), "choice": "fail the run"])
        try await drover.event(failed, "run.failed")
        let failure = try await drover.getRun(failed).object("failure")
        #expect(failure.string("kind") == "rejected" && failure.string("stepId") == "review")
        #expect(failure.string("message").contains("still scored 0.5 (needs 0.8) after 2 round(s)"), "\(failure)")
        #expect(failure.string("hint").contains("drover restart \(failed) --from impl"), "\(failure)")
    }

    @Test("\"accept as is\" completes the review with its last verdict and the run goes on")
    func acceptAsIs() async throws {
        let workspace = try EngineWorkspace(pipelines: ["reviewed": Self.pipeline(verdicts: [Self.low], maxRounds: 1)])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("reviewed").string("id")
        let decision = try await drover.event(runId, "decision.requested").data
        try await drover.call("decision/resolve", ["runId": runId, "decisionId": decision.string("decisionId"), "choice": "accept as is"])
        try await drover.event(runId, "run.completed")
        let run = try await drover.getRun(runId)
        #expect(run.step("review").string("output").contains(#""score":0.4"#))
        #expect(run.step("impl")["attempts"] as? Int == 1, "no rework after accepting")
    }

    @Test("a reply that is not a verdict is asked again with a repair prompt; a second one fails the step with kind agent")
    func malformedVerdict() async throws {
        let workspace = try EngineWorkspace(pipelines: ["reviewed": Self.pipeline(verdicts: ["Looks good to me!", "{{prompt}}"])])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("reviewed").string("id")
        let first = try await drover.event(runId, "review.malformed").data
        #expect(first["attempt"] as? Int == 1 && first.string("problem") == "the reply is not JSON" && first.string("text") == "Looks good to me!")
        let second = try await drover.event(runId, "review.malformed").data
        #expect(second["attempt"] as? Int == 2)
        #expect(second.string("text").contains("Your previous reply could not be read as a verdict: the reply is not JSON. It was:\nLooks good to me!"),
                "the repair prompt quotes the reply:\n\(second.string("text"))")
        #expect(second.string("text").contains("The output of step 'impl' under review:\nIMPL attempt 1"))
        try await drover.event(runId, "run.failed")
        let run = try await drover.getRun(runId)
        let failure = run.object("failure")
        #expect(failure.string("kind") == "agent" && failure.string("stepId") == "review")
        #expect(failure.string("message").contains("did not reply with a verdict, also after a repair prompt"), "\(failure)")
        #expect(failure.string("hint").contains("drover logs \(runId) review"))
        #expect(!(try await drover.storedEvents(runId)).contains { $0.string("type") == "review.verdict" })
    }

    @Test("requiresApproval on the reviewed step: the approval comes after the review passes and shows it; changes requested go through the reviewer again")
    func approvalAfterReview() async throws {
        let workspace = try EngineWorkspace(pipelines: ["reviewed": Self.pipeline(verdicts: [Self.high], implApproval: true)])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("reviewed").string("id")
        let verdict = try await drover.event(runId, "review.verdict").data
        #expect(verdict["passed"] as? Bool == true)
        let approval = try await drover.event(runId, "approval.requested").data
        #expect(approval.string("stepId") == "impl" && approval.string("proposal").hasPrefix("IMPL attempt 1"))
        #expect(approval.object("review").string("stepId") == "review" && approval.object("review")["score"] as? Double == 0.9)
        let run = try await drover.getRun(runId)
        #expect(run.step("impl").object("approval").object("review")["passed"] as? Bool == true)
        #expect(run.step("review").string("state") == "done")
        let inbox = try await drover.call("inbox/list")["items"] as? [[String: Any]] ?? []
        #expect(inbox.first { $0.string("runId") == runId }?.object("review")["round"] as? Int == 1)

        try await drover.call("step/requestChanges", ["runId": runId, "approvalId": approval.string("approvalId"), "feedback": "name it better"])
        let rework = try await drover.event(runId, "review.rework").data
        #expect(rework["round"] as? Int == 1)
        let again = try await drover.event(runId, "approval.requested") { $0.data.string("approvalId") != approval.string("approvalId") }.data
        #expect(again.string("proposal").contains("name it better"), "the person's feedback reached the re-run")
        let events = try await drover.storedEvents(runId).map { $0.string("type") }
        #expect(events.filter { $0 == "review.verdict" }.count == 2, "the reviewer graded the rework: \(events)")
        try await drover.call("step/approve", ["runId": runId, "approvalId": again.string("approvalId")])
        try await drover.event(runId, "run.completed")
    }

    @Test("pipeline/list lists reviews of unknown, later or review steps, and bad thresholds")
    func validationErrors() async throws {
        func review(_ id: String, reviews: String, threshold: Any = 0.8) -> [String: Any] {
            ["id": id, "kind": "review", "reviews": reviews, "threshold": threshold, "prompt": "p",
             "agent": ["driver": "fake", "script": [[["result": Self.high]]]]]
        }
        let broken = FakePipeline.pipeline([
            review("early", reviews: "impl"),
            FakePipeline.step("impl", prompt: "p", turns: [[["result": "x"]]]),
            review("typo", reviews: "imp", threshold: 2),
            review("meta", reviews: "typo"),
        ])
        let workspace = try EngineWorkspace(pipelines: ["broken": broken])
        let drover = try await workspace.server()
        let pipelines = try await drover.call("pipeline/list")["pipelines"] as? [[String: Any]] ?? []
        let errors = pipelines.first { $0.string("id") == "broken" }?["errors"] as? [String] ?? []
        for expected in [
            "step 1 ('early'): field 'reviews': 'impl' is not an earlier step of this pipeline (there are none before this step)",
            "step 3 ('typo'): field 'reviews': 'imp' is not an earlier step of this pipeline (earlier steps: early, impl)",
            "step 3 ('typo'): field 'threshold' must be a number from 0 to 1",
            "step 4 ('meta'): field 'reviews': 'typo' is a review step",
        ] {
            #expect(errors.contains { $0.hasPrefix(expected) }, "\(expected) not in \(errors)")
        }
    }
}
