import Foundation
import Testing

/// Resume by session: an agent that reports its conversation (`agent.session`) gets it back on the
/// step's next attempt (`DROVER_RESUME_SESSION`, a driver's `--resume`) with a prompt that says only
/// what changed; an attempt after a failure starts afresh with the whole prompt.
@Suite("End to end: resuming an agent's session")
struct SessionResumeEndToEndTests {
    /// Turn 1 reports a session, then does `then`; turn 2 answers with what it was given.
    private static func pipeline(then: [String: Any]) -> [String: Any] {
        FakePipeline.pipeline([FakePipeline.step("work", prompt: "Work on {{task}}", turns: [
            [["session": "conv-{{attempt}}"], then],
            [["result": "resumed=[{{env.DROVER_RESUME_SESSION}}] prompt=[{{prompt}}]"]],
        ])])
    }

    @Test("a decision's re-run resumes the session with a prompt that says only what changed")
    func decisionReRunResumes() async throws {
        let workspace = try EngineWorkspace(pipelines: [
            "ask": Self.pipeline(then: ["ask": ["question": "Which database?", "options": ["sqlite", "postgres"]]]),
        ])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("ask", task: "store the runs").string("id")
        let session = try await drover.event(runId, "agent.session")
        #expect(session.data.string("sessionId") == "conv-1")
        #expect(session.data["attempt"] as? Int == 1)
        let asked = try await drover.event(runId, "decision.requested")
        try await drover.call("decision/resolve", ["runId": runId, "decisionId": asked.data.string("decisionId"), "choice": "postgres"])
        let output = try await drover.event(runId, "step.completed").data.string("output")
        #expect(output.contains("resumed=[conv-1]"), "\(output)")
        #expect(output.contains("Which database? → postgres"), "\(output)")
        #expect(!output.contains("Work on store the runs"), "a resumed session is not told the task again: \(output)")
        _ = try await drover.shutdownAndExit()
    }

    @Test("after a failure, run/retry starts a fresh session with the whole prompt and the failure")
    func retryAfterFailureStartsAfresh() async throws {
        let workspace = try EngineWorkspace(pipelines: ["fails": Self.pipeline(then: ["fail": "broke"])])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("fails", task: "store the runs").string("id")
        try await drover.event(runId, "agent.session")
        try await drover.event(runId, "run.failed")
        try await drover.call("run/retry", ["runId": runId])
        let output = try await drover.event(runId, "step.completed").data.string("output")
        #expect(output.contains("resumed=[]"), "\(output)")
        #expect(output.contains("Work on store the runs") && output.contains("broke"), "\(output)")
        _ = try await drover.shutdownAndExit()
    }
}
