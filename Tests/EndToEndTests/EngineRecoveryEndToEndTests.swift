import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Durability over the wire: the event log is the same in notifications, in `run/events` and after
/// a restart; runs survive kill -9 and end of input; blocked runs stay blocked across restarts.
/// Each test starts several `drover serve` processes, one after the other, on one workspace.
@Suite("End to end: engine recovery")
struct EngineRecoveryEndToEndTests {
    /// `work` sleeps in its first attempt (long enough to be killed mid-step) and is instant after.
    private static var sleepyPipeline: [String: Any] {
        FakePipeline.pipeline([
            FakePipeline.step("work", prompt: "Work on {{task}}", turns: [
                [["say": "working"], ["sleep": 30], ["result": "never"]],
                [["say": "again"], ["result": "second {{attempt}}"]],
            ]),
            FakePipeline.step("after", prompt: "After {{previous.output}}", turns: [[["result": "after: {{prompt}}"]]]),
        ])
    }

    private static func canonical(_ value: Any) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    private static func seqs(_ events: [[String: Any]]) -> [Int] { events.map { $0["seq"] as? Int ?? -1 } }

    @Test("the event log is identical in notifications, in run/events pages and after a server restart")
    func eventLogIdentity() async throws {
        let pipeline = FakePipeline.pipeline([
            FakePipeline.step("plan", prompt: "Plan {{task}}", turns: [
                [["usage": ["model": "fake-s", "input": 10, "output": 5]], ["ask": ["question": "How?", "options": ["fast", "slow"]]]],
                [["say": "planning"], ["usage": ["model": "fake-s", "input": 20, "output": 7]], ["result": "plan#{{attempt}}"]],
            ], requiresApproval: true),
            FakePipeline.step("impl", prompt: "Do {{steps.plan.output}}", turns: [[["result": "impl done"]]]),
        ])
        let workspace = try EngineWorkspace(pipelines: ["log": pipeline])
        let first = try await workspace.server(daemon: false)
        let runId = try await first.startRun("log", task: "the log").string("id")
        try await first.event(runId, "decision.requested")
        try await first.call("decision/resolve", ["runId": runId, "decisionId": "d-plan-1", "choice": "slow"])
        try await first.event(runId, "approval.requested")
        try await first.call("step/requestChanges", ["runId": runId, "approvalId": "a-plan-1", "feedback": "shorter"])
        try await first.event(runId, "approval.requested") { $0.data.string("approvalId") == "a-plan-2" }
        try await first.call("step/approve", ["runId": runId, "approvalId": "a-plan-2", "proposal": "the edited plan"])
        try await first.event(runId, "run.completed")
        let run = try await first.getRun(runId)
        let lastSeq = try #require(run["lastSeq"] as? Int)

        let notified = first.notifiedEvents(runId)
        #expect(Self.seqs(notified) == Array(1...lastSeq), "notifications: seq from 1 without gaps or duplicates")
        #expect(notified.first?.string("type") == "run.created")
        #expect(notified.last?.string("type") == "run.completed")
        #expect(Set(notified.map { $0.string("type") }).isSuperset(of: [
            "run.started", "step.started", "usage.recorded", "decision.requested", "decision.resolved",
            "approval.requested", "approval.resolved", "step.completed"]))

        let stored = try await first.storedEvents(runId)
        #expect(stored.map(Self.canonical) == notified.map(Self.canonical), "run/events equals the notifications")

        // Paging: limit 3, afterSeq = the last seq received, `more` until the end; lastSeq is the run's.
        var paged: [[String: Any]] = []
        var after = 0
        var pages = 0
        while true {
            let page = try await first.call("run/events", ["runId": runId, "afterSeq": after, "limit": 3])
            let events = page["events"] as? [[String: Any]] ?? []
            pages += 1
            #expect(events.count <= 3)
            #expect(page["lastSeq"] as? Int == lastSeq)
            paged += events
            let more = page["more"] as? Bool ?? false
            #expect(more == ((events.last?["seq"] as? Int ?? lastSeq) < lastSeq), "more at afterSeq \(after)")
            guard more, let last = events.last?["seq"] as? Int else { break }
            after = last
        }
        #expect(pages == (lastSeq + 2) / 3)
        #expect(paged.map(Self.canonical) == notified.map(Self.canonical), "pages of 3 equal the notifications")
        let middle = try await first.call("run/events", ["runId": runId, "afterSeq": 4, "limit": 2])
        #expect(Self.seqs(middle["events"] as? [[String: Any]] ?? []) == [5, 6])
        let end = try await first.call("run/events", ["runId": runId, "afterSeq": lastSeq])
        #expect((end["events"] as? [Any])?.isEmpty == true)
        #expect(end["more"] as? Bool == false)

        // While the first server drives the workspace, another one is refused, naming its pid.
        let intruder = try DroverProcess(arguments: ["serve", "--no-daemon"], directory: workspace.url)
        let refused = try await intruder.request("initialize", ["protocolVersion": 1, "workspace": workspace.path])
        let refusal = refused["error"] as? [String: Any] ?? [:]
        #expect(refusal["code"] as? Int == -33002, "\(refused)")
        #expect((refusal["message"] as? String ?? "").contains("\(first.pid)"), "\(refused)")
        intruder.closeStdin()
        _ = try await intruder.waitForExit()

        #expect(try await first.shutdownAndExit() == 0)
        let second = try await workspace.server(daemon: false)
        let replayed = try await second.storedEvents(runId)
        #expect(replayed.map(Self.canonical) == notified.map(Self.canonical), "the log after a restart is the same")
        #expect(Self.canonical(try await second.getRun(runId)) == Self.canonical(run), "so is the run")
        let listed = try await second.call("run/list", ["status": ["done"]])["runs"] as? [[String: Any]] ?? []
        #expect(listed.map { $0.string("id") } == [runId])
        #expect(second.notifiedEvents(runId).isEmpty, "a done run gets no new events")
        #expect(try await second.shutdownAndExit() == 0)
        #expect(first.protocolViolations.isEmpty && second.protocolViolations.isEmpty)
    }

    @Test("kill -9 of the server mid-step: the next server kills the orphaned agent, re-runs the step and completes the run")
    func killNineRecovery() async throws {
        let workspace = try EngineWorkspace(pipelines: ["sleepy": Self.sleepyPipeline])
        let first = try await workspace.server(daemon: false)
        let runId = try await first.startRun("sleepy", task: "survive").string("id")
        try await first.logLine(runId, "working")
        let agents = try await workspace.waitForAgents()
        let seqBefore = try await first.getRun(runId)["lastSeq"] as? Int
        let logs = workspace.url.appendingPathComponent(".drover/logs")
        let table = workspace.url.appendingPathComponent(".drover/agents").path
        #expect(agentRecords(workspace: workspace.url.path) == ["\(runId) work 1"], "the running agent is recorded")
        #expect((try? FileManager.default.attributesOfItem(atPath: table)[.posixPermissions] as? Int) == 0o600,
                "readable by the user only")

        kill(first.pid, SIGKILL)
        #expect(try await first.waitForExit() != 0)
        // The agent runs in its own process group, so it outlives a server killed without warning
        // (it sleeps 30 s); the next server must kill it before it re-runs the step.
        #expect(await workspace.scanAgentProcesses() == agents, "the agent is orphaned, not killed with the server")

        let second = try await workspace.server(daemon: false)
        let interrupted = try await second.event(runId, "step.interrupted")
        // Nothing but the second server kills the orphan, and it does so before it records step.interrupted.
        #expect(agents.allSatisfy { processState($0) == nil || processState($0) == "Z" },
                "the orphan is gone before the step re-runs")
        #expect(await second.stderrContains("left behind by a previous engine with SIGTERM"), "\(second.stderrText)")
        #expect(interrupted.data.string("stepId") == "work")
        #expect(interrupted.data["attempt"] as? Int == 1)
        #expect(interrupted["seq"] as? Int == (seqBefore ?? 0) + 1, "the log goes on where the killed server left it")
        try await second.event(runId, "step.started") { $0.data.string("stepId") == "work" && $0.data["attempt"] as? Int == 2 }
        let work = try await second.event(runId, "step.completed") { $0.data.string("stepId") == "work" }
        #expect(work.data.string("output") == "second 2")
        try await second.event(runId, "run.completed")

        let events = try await second.storedEvents(runId)
        #expect(Self.seqs(events) == Array(1...events.count))
        let workEvents = events.filter { $0.data.string("stepId") == "work" && $0.string("type").hasPrefix("step.") }
        #expect(workEvents.map { "\($0.string("type")) \($0.data["attempt"] as? Int ?? 0)" }
                == ["step.started 1", "step.interrupted 1", "step.started 2", "step.completed 2"])
        let done = try await second.getRun(runId)
        #expect(done.string("status") == "done")
        #expect(done.step("work")["attempts"] as? Int == 2)
        #expect(done.step("after").string("output") == "after: After second 2")
        #expect(try FileManager.default.contentsOfDirectory(atPath: logs.path).sorted()
                == ["\(runId)@after.1.log", "\(runId)@work.1.log", "\(runId)@work.2.log"], "a log per attempt and nothing else")
        #expect(agentRecords(workspace: workspace.url.path).isEmpty, "records go with their attempts")
        #expect(try await second.shutdownAndExit() == 0)
        #expect(await workspace.scanAgentProcesses().isEmpty)
    }

    @Test("kill -9 before the agent's record was written: the next server still finds and kills it, so a step never has two agents")
    func killNineBeforeTheRecord() async throws {
        let workspace = try EngineWorkspace(pipelines: ["sleepy": Self.sleepyPipeline])
        let first = try await workspace.server(daemon: false)
        let runId = try await first.startRun("sleepy", task: "survive").string("id")
        try await first.logLine(runId, "working")
        let agents = try await workspace.waitForAgents()
        // What a server killed between the spawn and the record's write leaves: an agent and no record.
        #expect(truncate(workspace.url.appendingPathComponent(".drover/agents").path, 0) == 0)
        kill(first.pid, SIGKILL)
        #expect(try await first.waitForExit() != 0)
        #expect(await workspace.scanAgentProcesses() == agents, "the agent outlives the server")

        let second = try await workspace.server(daemon: false)
        try await second.event(runId, "step.interrupted")
        #expect(agents.allSatisfy { processState($0) == nil || processState($0) == "Z" },
                "the unrecorded orphan is gone before the step re-runs: \(second.stderrText)")
        try await second.event(runId, "step.started") { $0.data["attempt"] as? Int == 2 }
        try await second.event(runId, "run.completed")
        #expect(try await second.shutdownAndExit() == 0)
        #expect(await workspace.scanAgentProcesses().isEmpty)
    }

    @Test("end of input, a closed stdout, SIGTERM or SIGHUP mid-step: the server exits 1, the step is interrupted, no agent is left; the next server completes the run",
          arguments: ["end of input", "stdout closed", "SIGTERM", "SIGHUP"])
    func orderlyStopRecovery(_ how: String) async throws {
        let workspace = try EngineWorkspace(pipelines: ["sleepy": Self.sleepyPipeline])
        let first = try await workspace.server(daemon: false)
        let runId = try await first.startRun("sleepy").string("id")
        try await first.logLine(runId, "working")
        _ = try await workspace.waitForAgents()

        switch how {
        case "SIGTERM": kill(first.pid, SIGTERM)
        case "SIGHUP": kill(first.pid, SIGHUP)
        case "stdout closed":
            try await first.closeStdout()
            first.send(["jsonrpc": "2.0", "id": "after-close", "method": "run/list", "params": [String: Any]()])  // its answer fails to go out
        default: first.closeStdin()
        }
        #expect(try await first.waitForExit() == 1)
        #expect(await workspace.scanAgentProcesses().isEmpty, "the server stopped its agents before exiting")
        if how != "stdout closed" {
            let interrupted = first.notifiedEvents(runId).filter { $0.string("type") == "step.interrupted" }
            #expect(interrupted.count == 1, "step.interrupted was notified before the exit")
            #expect(interrupted.first?.data["attempt"] as? Int == 1)
        }
        #expect(first.protocolViolations.isEmpty)

        let second = try await workspace.server(daemon: false)
        try await second.event(runId, "step.started") { $0.data.string("stepId") == "work" && $0.data["attempt"] as? Int == 2 }
        try await second.event(runId, "run.completed")
        let events = try await second.storedEvents(runId)
        #expect(Self.seqs(events) == Array(1...events.count))
        #expect(events.filter { $0.string("type") == "step.interrupted" }.count == 1, "interrupted once, not again by the resume")
        let firstNotified = first.notifiedEvents(runId)
        #expect(events.prefix(firstNotified.count).map(Self.canonical) == firstNotified.map(Self.canonical),
                "the first server's notifications are the start of the log")
        #expect(try await second.getRun(runId).step("work").string("output") == "second 2")
        #expect(try await second.shutdownAndExit() == 0)
    }

    @Test("blocked runs stay blocked across a restart; the new server lists and answers their gates")
    func blockedAcrossRestart() async throws {
        let asking = FakePipeline.pipeline([
            FakePipeline.step("ask", prompt: "Ask", turns: [
                [["ask": ["question": "Proceed?", "options": ["yes", "no"]]]], [["result": "went {{prompt}}"]],
            ]),
        ])
        let gated = FakePipeline.pipeline([
            FakePipeline.step("draft", prompt: "Draft", turns: [[["result": "draft v{{attempt}}"]]], requiresApproval: true),
            FakePipeline.step("publish", prompt: "Publish {{steps.draft.output}}", turns: [[["result": "{{prompt}}"]]]),
        ])
        let workspace = try EngineWorkspace(pipelines: ["asking": asking, "gated": gated])
        let first = try await workspace.server()
        let decisionRun = try await first.startRun("asking").string("id")
        let approvalRun = try await first.startRun("gated").string("id")
        try await first.event(decisionRun, "decision.requested")
        try await first.event(approvalRun, "approval.requested")
        let decisionSeq = try await first.getRun(decisionRun)["lastSeq"] as? Int
        let approvalSeq = try await first.getRun(approvalRun)["lastSeq"] as? Int
        #expect(try await first.shutdownAndExit() == 0)

        let second = try await workspace.server()
        let inbox = try await second.call("inbox/list")["items"] as? [[String: Any]] ?? []
        #expect(inbox.count == 2, "\(inbox)")
        let decision = try #require(inbox.first { $0.string("runId") == decisionRun })
        #expect(decision.string("kind") == "decision" && decision.string("id") == "d-ask-1")
        #expect(decision.string("question") == "Proceed?" && decision["options"] as? [String] == ["yes", "no"])
        #expect(!decision.string("since").isEmpty)
        let approval = try #require(inbox.first { $0.string("runId") == approvalRun })
        #expect(approval.string("kind") == "approval" && approval.string("id") == "a-draft-1")
        #expect(approval.string("proposal") == "draft v1")
        for (runId, seq) in [(decisionRun, decisionSeq), (approvalRun, approvalSeq)] {
            let run = try await second.getRun(runId)
            #expect(run.string("status") == "blocked")
            #expect(run["lastSeq"] as? Int == seq, "no event was added to a blocked run by the restart")
        }

        try await second.call("decision/resolve", ["runId": decisionRun, "decisionId": "d-ask-1", "choice": "yes"])
        try await second.call("step/approve", ["runId": approvalRun, "approvalId": "a-draft-1"])
        let went = try await second.event(decisionRun, "step.completed")
        #expect(went.data.string("output").contains("Proceed? → yes"), "\(went)")
        try await second.event(decisionRun, "run.completed")
        let published = try await second.event(approvalRun, "step.completed") { $0.data.string("stepId") == "publish" }
        #expect(published.data.string("output") == "Publish draft v1")
        try await second.event(approvalRun, "run.completed")
        #expect((try await second.call("inbox/list")["items"] as? [Any])?.isEmpty == true)
        #expect(try await second.shutdownAndExit() == 0)
    }
}
