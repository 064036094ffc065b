// Only with the PostgreSQL trait (on by default), which links the PostgreSQL store.
#if PostgreSQL
import Foundation
import PostgresTestServer
import Testing

/// Fan-out where `drover worker`s drive the runs (`store.executor: workers` on PostgreSQL): not
/// supported yet, and refused saying so — at `run/start`, and by a worker that reaches such a step.
@Suite("End to end: fan-out with drover workers", .enabled(if: PostgresTestServer.skipReason == nil, "needs PostgreSQL (apt-get install postgresql)"))
struct WorkerFanOutEndToEndTests {
    /// `gate` (an approval) → `plan`, which fans out into `child` when `fansOut`.
    static func pipeline(fansOut: Bool) -> [String: Any] {
        var plan = FakePipeline.step("plan", prompt: "Split: {{task}}", turns: [[["result": #"["a", "b"]"#]]])
        if fansOut { plan["fanOut"] = ["pipeline": "child"] }
        return FakePipeline.pipeline([FakePipeline.step("gate", prompt: "go", turns: [[["result": "ok"]]], requiresApproval: true), plan])
    }

    static func fleet() async throws -> WorkerEndToEndTests.Fleet {
        let fleet = try await WorkerEndToEndTests.Fleet()
        try fleet.workspaces[0].writePipeline("split", Self.pipeline(fansOut: true))
        try fleet.workspaces[0].writePipeline("child", FakePipeline.pipeline([FakePipeline.step("work", prompt: "{{task}}", turns: [[["result": "did it"]]])]))
        return fleet
    }

    /// Polls the run's stored events until one has `type`; returns it.
    static func stored(_ client: DroverProcess, _ runId: String, _ type: String, timeout: Duration = .seconds(60)) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let event = try await client.storedEvents(runId).first(where: { $0.string("type") == type }) { return event }
            guard ContinuousClock.now < deadline else { throw DroverProcess.Timeout(description: "run \(runId) recorded no \(type)") }
            try await Task.sleep(for: .milliseconds(100))  // polling interval
        }
    }

    @Test("a client that leaves its runs to workers refuses run/start of a pipeline that fans out, saying why and what to do")
    func refusedAtStart() async throws {
        let fleet = try await Self.fleet()
        let client = try await fleet.client()
        let refused = try await client.callError("run/start", ["pipelineId": "split", "task": "t"])
        #expect(refused.code == -32602, "\(refused)")
        #expect(refused.message.contains("step 'plan' fans out into child runs") && refused.message.contains("store.executor \"workers\"")
                && refused.message.contains("drover workers do not run fan-out steps yet")
                && refused.message.contains("DROVER_STORE_EXECUTOR=engine"), "\(refused.message)")
        withExtendedLifetime(fleet) {}
    }

    @Test("a worker that reaches a fan-out step (the pipeline gained one after the run was recorded) fails it before its agent runs, saying why")
    func refusedByTheWorker() async throws {
        let fleet = try await Self.fleet()
        let workspace = fleet.workspaces[0]
        try workspace.writePipeline("split", Self.pipeline(fansOut: false))
        let client = try await fleet.client()
        let worker = try await fleet.worker()
        let runId = try await client.startRun("split").string("id")
        let approval = try await Self.stored(client, runId, "approval.requested").data.string("approvalId")
        try workspace.writePipeline("split", Self.pipeline(fansOut: true))
        try await client.call("step/approve", ["runId": runId, "approvalId": approval])
        try await Self.stored(client, runId, "run.failed")

        let run = try await client.getRun(runId)
        let failure = run.object("failure")
        #expect(failure.string("stepId") == "plan" && failure.string("kind") == "agent")
        #expect(failure.string("message").contains("Step 'plan' fans out, but drover workers do not run fan-out steps yet"), "\(failure)")
        #expect(failure.string("hint").contains("store.executor is \"engine\""), "\(failure)")
        #expect(try await client.call("step/log", ["runId": runId, "stepId": "plan"]).string("text").isEmpty, "its agent never ran")
        #expect(!(try await client.storedEvents(runId)).contains { $0.string("type") == "run.children" })
        withExtendedLifetime((fleet, worker)) {}
    }
}
#endif
