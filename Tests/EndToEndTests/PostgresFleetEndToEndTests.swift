// Only with the PostgreSQL trait (on by default), which links the PostgreSQL store.
#if PostgreSQL
import Foundation
import PostgresTestServer
import Testing

/// Two workspaces, each with its own engine, on one PostgreSQL store: what one engine commits reaches
/// the other's clients live (LISTEN/NOTIFY, caught up through the store), and a gate answered through
/// the other engine reaches the engine that drives the run. Skipped, saying why, without PostgreSQL.
@Suite("End to end: engines sharing a PostgreSQL store", .enabled(ifBlocking: { PostgresTestServer.skipReason == nil }, "needs PostgreSQL (apt-get install postgresql)"))
struct PostgresFleetEndToEndTests {
    /// When an event was committed, by its `at`.
    private func committedAt(_ event: [String: Any]) -> Date? {
        let format = ISO8601DateFormatter()
        format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return format.date(from: event.string("at"))
    }

    /// The seqs of `runId` a client was sent, in arrival order.
    private func notifiedSeqs(_ client: DroverProcess, _ runId: String) -> [Int] {
        client.notifiedEvents(runId).compactMap { $0["seq"] as? Int }
    }

    @Test("a run driven by engine A is seen live by a client of engine B, and B's answers to its gates unblock it on A")
    func gatesAnsweredFromAnotherEngine() async throws {
        let server = try await PostgresTestServer.shared()
        let url = try await server.createDatabase("drover_fleet_gates")
        let (workspaceA, workspaceB) = (try EngineWorkspace(), try EngineWorkspace())
        let clientA = try await workspaceA.server(arguments: ["--store", url])
        let clientB = try await workspaceB.server(arguments: ["--store", url])
        try await clientB.call("run/list")  // B's engine is open and following the store

        let runId = try await clientA.startRun("demo", task: "Add a greeting").string("id")
        // Live: B's client is sent A's event without asking. How fast is a figure (a loaded machine
        // makes any bound flaky); this bound only tells a notification from something much later.
        let asked = try await clientB.event(runId, "decision.requested")
        let seenAfter = Date().timeIntervalSince(try #require(committedAt(asked)))
        #expect(seenAfter < 10, "B's client saw A's event \(seenAfter) s after it was committed")

        // Answered through B: the answer is stored by B, and A (which holds the run) goes on with it.
        let decision = asked.object("data").string("decisionId")
        let resolved = try await clientB.call("decision/resolve", ["runId": runId, "decisionId": decision, "choice": "quick"])
        #expect(resolved.object("run").string("status") == "running", "\(resolved)")
        try await clientA.event(runId, "decision.resolved")
        try await clientA.event(runId, "step.started", where: { $0.object("data")["attempt"] as? Int == 2 })
        let approval = try await clientB.event(runId, "approval.requested").object("data").string("approvalId")
        try await clientB.call("step/approve", ["runId": runId, "approvalId": approval])
        try await clientA.event(runId, "run.completed")
        try await clientB.event(runId, "run.completed")

        // Both clients got the whole log once, in order, whichever engine wrote each event.
        let stored = try await clientB.storedEvents(runId)
        #expect(notifiedSeqs(clientA, runId) == Array(1...stored.count))
        #expect(notifiedSeqs(clientB, runId) == Array(1...stored.count))
        // The steps ran in A's workspace; A held the lease and gave it up at the end.
        let logsOfRun = { (workspace: String) in
            ((try? FileManager.default.contentsOfDirectory(atPath: workspace + "/.drover/logs")) ?? []).filter { $0.hasPrefix("\(runId)@") }
        }
        #expect(!logsOfRun(workspaceA.path).isEmpty)
        #expect(logsOfRun(workspaceB.path).isEmpty)
        #expect(try await server.sql("SELECT count(*) FROM run_claims", database: "drover_fleet_gates") == "0")
        _ = try await clientA.shutdownAndExit()
        _ = try await clientB.shutdownAndExit()
    }

    @Test("a tool permission A's live agent waits on, answered through engine B, reaches that agent: the same attempt goes on",
          .enabled(ifBlocking: { ScriptedACPAgent.available }, ScriptedACPAgent.missingReason))
    func permissionAnsweredFromAnotherEngine() async throws {
        let server = try await PostgresTestServer.shared()
        let url = try await server.createDatabase("drover_fleet_permission")
        let scratch = try TempFolder()
        let coder = try ScriptedACPAgent.role([
            ["run": "make build"],
            ["write": "hello.txt", "content": "hello\n"],
            ["say": "Done."],
        ], in: scratch.url, extra: ["permissionMode": "ask"])
        let step: [String: Any] = ["id": "code", "kind": "agent", "role": "coder", "prompt": "Please {{task}}"]
        let workspaceA = try EngineWorkspace(pipelines: ["solo": FakePipeline.pipeline([step])], config: ["agents": ["coder": coder]])
        let workspaceB = try EngineWorkspace()
        let clientA = try await workspaceA.server(arguments: ["--store", url])
        let clientB = try await workspaceB.server(arguments: ["--store", url])
        try await clientB.call("run/list")

        let runId = try await clientA.startRun("solo").string("id")
        let asked = try await clientB.event(runId, "decision.requested", timeout: .seconds(30))
        #expect(asked.data["attempt"] as? Int == 1)
        try await clientB.call("decision/resolve", ["runId": runId, "decisionId": asked.data.string("decisionId"), "choice": "Allow"])
        let second = try await clientB.event(runId, "decision.requested", timeout: .seconds(30))
        #expect(second.data.object("permission").string("input") == "Write hello.txt", "\(second.data)")
        try await clientB.call("decision/resolve", ["runId": runId, "decisionId": second.data.string("decisionId"),
                                                    "choice": "Reject", "reason": "not from B"])
        let completed = try await clientA.event(runId, "step.completed", timeout: .seconds(30))
        #expect(completed.data.string("output").contains("Not allowed to write"), "A's agent heard B's reject: \(completed.data)")
        #expect(completed.data["attempt"] as? Int == 1, "the same attempt went on: \(completed.data)")
        try await clientB.event(runId, "run.completed", timeout: .seconds(30))
        let resolved = clientA.notifiedEvents(runId).filter { $0.string("type") == "decision.resolved" }
        #expect(resolved.map { $0.data["attempt"] as? Int } == [1, 1], "\(resolved)")
        _ = try await clientA.shutdownAndExit()
        _ = try await clientB.shutdownAndExit()
    }

    @Test("an engine whose LISTEN connection is cut again and again reconnects and catches up: its client misses no event")
    func listenConnectionCut() async throws {
        let server = try await PostgresTestServer.shared()
        let database = "drover_fleet_cut"
        let url = try await server.createDatabase(database)
        let (workspaceA, workspaceB) = (try EngineWorkspace(), try EngineWorkspace())
        let clientA = try await workspaceA.server(arguments: ["--store", url])
        let clientB = try await workspaceB.server(arguments: ["--store", url])
        try await clientB.call("run/list")

        let runId = try await clientA.startRun("demo").string("id")
        let decision = try await clientB.event(runId, "decision.requested").object("data").string("decisionId")

        let terminate = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'drover-listen'"
        // A first cut before the run goes on: on a loaded machine the run could otherwise reach its approval
        // before the cutter's first psql had answered, and nothing would have been cut.
        var firstCuts = 0
        for _ in 0..<200 where firstCuts == 0 {
            firstCuts = Int(try await server.sql(terminate, database: database)) ?? 0
            if firstCuts == 0 { try await Task.sleep(for: .milliseconds(30)) }  // a listener still connecting: try again
        }
        #expect(firstCuts > 0, "no listening connection was cut")
        // Then cut every listening connection over and over while A drives the run to its approval.
        let cutting = Task.detached {
            while !Task.isCancelled {
                _ = try? await server.sql(terminate, database: database)
                try? await Task.sleep(for: .milliseconds(30))
            }
        }
        try await clientA.call("decision/resolve", ["runId": runId, "decisionId": decision, "choice": "thorough"])
        let approval = try await clientA.event(runId, "approval.requested").object("data").string("approvalId")
        cutting.cancel()
        await cutting.value

        try await clientB.event(runId, "approval.requested", timeout: .seconds(30))
        try await clientA.call("step/approve", ["runId": runId, "approvalId": approval])
        try await clientB.event(runId, "run.completed", timeout: .seconds(30))
        let stored = try await clientA.storedEvents(runId)
        #expect(notifiedSeqs(clientB, runId) == Array(1...stored.count), "B's client missed or repeated events")
        let log = (try? String(contentsOf: workspaceB.url.appendingPathComponent(".drover/engine.log"), encoding: .utf8)) ?? ""
        #expect(log.contains("listening to the PostgreSQL store") && log.contains("again; caught up"), "\(log)")
        #expect(!log.contains("secret"), "\(log)")
        _ = try await clientA.shutdownAndExit()
        _ = try await clientB.shutdownAndExit()
    }
}
#endif
