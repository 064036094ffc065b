import Foundation
import Testing

/// Tool permissions as durable gates while the agent waits (`permissionMode: "ask"`), through `drover serve`:
/// the agent's permission request becomes a decision in the inbox, the agent process keeps waiting, and
/// `decision/resolve` sends the answer back to it — a deny with its reason. If the engine stops meanwhile,
/// the answer is kept and the step re-runs with it.
@Suite("End to end: tool permissions as gates")
struct PermissionGateEndToEndTests {
    private static func logTexts(_ drover: DroverProcess, _ runId: String) -> [String] {
        drover.notifiedLogs(runId).map { $0.string("text") }
    }

    /// A one-step pipeline `solo` running role `coder`.
    private static func workspace(coder: [String: Any]) throws -> EngineWorkspace {
        let step: [String: Any] = ["id": "code", "kind": "agent", "role": "coder", "prompt": "Please {{task}}"]
        return try EngineWorkspace(pipelines: ["solo": FakePipeline.pipeline([step])], config: ["agents": ["coder": coder]])
    }

    @Test("acp: a permission becomes a decision with the agent's own options; Allow and Reject reach it; one attempt",
          .enabled(ifBlocking: { ScriptedACPAgent.available }, ScriptedACPAgent.missingReason))
    func acpPermissionsAnsweredLive() async throws {
        let scratch = try TempFolder()
        let record = scratch.url.appendingPathComponent("answers.jsonl").path
        let coder = try ScriptedACPAgent.role([
            ["run": "make build"],
            ["write": "hello.txt", "content": "hello\n"],
            ["say": "Done."],
        ], in: scratch.url, extra: ["permissionMode": "ask"], record: record)
        let workspace = try Self.workspace(coder: coder)
        let drover = try await workspace.server()
        let runId = try await drover.startRun("solo").string("id")

        let asked = try await drover.event(runId, "decision.requested", timeout: .seconds(30))
        #expect(asked.data.string("question") == "Allow execute: `make build`?", "\(asked.data)")
        #expect(asked.data["options"] as? [String] == ["Always Allow", "Allow", "Reject"], "the agent's own options: \(asked.data)")
        #expect(asked.data["attempt"] as? Int == 1)
        let permission = asked.data.object("permission")
        #expect(permission.string("tool") == "execute")
        #expect(permission.string("input") == "make build")
        #expect(permission["optionKinds"] as? [String] == ["allow_always", "allow_once", "reject_once"], "\(permission)")
        let inbox = try await drover.call("inbox/list")["items"] as? [[String: Any]] ?? []
        #expect(inbox.count == 1, "\(inbox)")
        #expect(inbox.first?["options"] as? [String] == ["Always Allow", "Allow", "Reject"], "\(inbox)")
        #expect(inbox.first?.object("permission").string("input") == "make build", "\(inbox)")
        #expect(inbox.first?.object("permission")["optionKinds"] as? [String] == ["allow_always", "allow_once", "reject_once"])
        let run = try await drover.getRun(runId)
        #expect(run.string("status") == "blocked")
        let decision = (run["steps"] as? [[String: Any]])?.first?.object("decision") ?? [:]
        #expect(decision.object("permission")["optionKinds"] as? [String] == ["allow_always", "allow_once", "reject_once"], "run/get: \(decision)")
        #expect(try await workspace.waitForAgents().count >= 1, "the agent waits while the person decides")

        let resolved = try await drover.call("decision/resolve", ["runId": runId, "decisionId": asked.data.string("decisionId"),
                                                                  "choice": "Allow"])
        #expect(resolved.object("run").string("status") == "running")
        let second = try await drover.event(runId, "decision.requested", timeout: .seconds(30))
        #expect(second.data.object("permission").string("input") == "Write hello.txt", "\(second.data)")
        try await drover.call("decision/resolve", ["runId": runId, "decisionId": second.data.string("decisionId"),
                                                   "choice": "Reject", "reason": "not now"])
        let completed = try await drover.event(runId, "step.completed", timeout: .seconds(30))
        #expect(completed.data.string("output").contains("Not allowed to write"), "the agent heard the reject: \(completed.data)")
        #expect(completed.data["attempt"] as? Int == 1, "the same attempt went on: \(completed.data)")
        #expect(!FileManager.default.fileExists(atPath: workspace.path + "/hello.txt"))
        let answers = try ScriptedACPAgent.recorded(record)
        #expect(answers.map { $0["optionId"] as? String } == ["allow", "reject"], "the chosen options' ids reached the agent: \(answers)")
        let resolvedEvents = drover.notifiedEvents(runId).filter { $0.string("type") == "decision.resolved" }
        #expect(resolvedEvents.map { $0.data["attempt"] as? Int } == [1, 1], "\(resolvedEvents)")
        #expect(resolvedEvents.last?.data.string("reason") == "not now")
        let logs = Self.logTexts(drover, runId)
        #expect(logs.contains("asks permission: make build") && logs.contains("make build → completed"), "\(logs)")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("acp: run/cancel while a permission waits answers the agent session/cancel and `cancelled`, and leaves no process",
          .enabled(ifBlocking: { ScriptedACPAgent.available }, ScriptedACPAgent.missingReason))
    func acpCancelWhilePermissionWaits() async throws {
        let scratch = try TempFolder()
        let record = scratch.url.appendingPathComponent("answers.jsonl").path
        let coder = try ScriptedACPAgent.role([["run": "make build"], ["say": "Built."]], in: scratch.url,
                                              extra: ["permissionMode": "ask"], record: record, finishOnTerm: true)
        let workspace = try Self.workspace(coder: coder)
        let drover = try await workspace.server()
        let runId = try await drover.startRun("solo").string("id")
        try await drover.event(runId, "decision.requested", timeout: .seconds(30))
        try await drover.call("run/cancel", ["runId": runId])
        try await drover.event(runId, "run.cancelled", timeout: .seconds(30))
        #expect(await workspace.waitForNoAgents().isEmpty, "processes left after run/cancel")
        let answers = try ScriptedACPAgent.recorded(record)
        #expect(answers.first?["cancel"] != nil, "session/cancel first: \(answers)")
        #expect(answers.last?["permission"] as? String == "cancelled", "then the waiting request hears cancelled: \(answers)")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("acp: the engine stops while a permission waits; the answer is kept and the step re-runs with it (Always Allow applies)",
          .enabled(ifBlocking: { ScriptedACPAgent.available }, ScriptedACPAgent.missingReason))
    func acpAnswerAfterRestart() async throws {
        let scratch = try TempFolder()
        let coder = try ScriptedACPAgent.role([["run": "make build"], ["say": "Built."]], in: scratch.url,
                                              extra: ["permissionMode": "ask"])
        let workspace = try Self.workspace(coder: coder)
        // Servers with their own engine (--no-daemon): the first one's end stops its engine.
        let first = try await workspace.server(daemon: false)
        let runId = try await first.startRun("solo").string("id")
        let asked = try await first.event(runId, "decision.requested", timeout: .seconds(30))
        #expect(try await first.shutdownAndExit() == 0)
        #expect(await workspace.waitForNoAgents().isEmpty, "a stopped engine leaves no agent waiting")

        let second = try await workspace.server(daemon: false)
        let inbox = try await second.call("inbox/list")["items"] as? [[String: Any]] ?? []
        #expect(inbox.map { $0.string("id") } == [asked.data.string("decisionId")], "the permission is still open: \(inbox)")
        try await second.call("decision/resolve", ["runId": runId, "decisionId": asked.data.string("decisionId"),
                                                   "choice": "Always Allow"])
        let started = try await second.event(runId, "step.started", timeout: .seconds(30))
        #expect(started.data["attempt"] as? Int == 2)
        let completed = try await second.event(runId, "step.completed", timeout: .seconds(30))
        #expect(completed.data.string("output") == "Built.")
        let logs = Self.logTexts(second, runId)
        #expect(logs.contains { $0.hasPrefix("permission for make build: allowed") }, "allowed for the run, not asked again: \(logs)")
        let resolved = try await second.storedEvents(runId).first { $0.string("type") == "decision.resolved" }
        #expect(resolved?.data["attempt"] == nil, "nobody was waiting: the step re-ran")
        #expect(try await second.shutdownAndExit() == 0)
    }

    @Test("acp ask mode with claude-code-acp: the decision shows the agent's options; Allow reaches it and the command runs",
          .enabled(if: ClaudeCodeACP.path != nil, ClaudeCodeACP.missingReason))
    func claudeCodeACPPermissionOptions() async throws {
        let server = try await ScriptedModelServer()
        let coder: [String: Any] = ["driver": "acp", "command": ClaudeCodeACP.path ?? "claude-code-acp",
                                    "env": server.environment, "permissionMode": "ask"]
        let workspace = try Self.workspace(coder: coder)
        try server.play([
            ["content": [["type": "tool_use", "name": "Bash", "input": ["command": "echo ran > ran.txt", "description": "mark"]]]],
            ["content": [["type": "text", "text": "Ran it."]]],
        ])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("solo").string("id")

        let asked = try await drover.event(runId, "decision.requested", timeout: .seconds(90))
        let options = asked.data["options"] as? [String] ?? []
        #expect(options == ["Always Allow", "Allow", "Reject"], "claude-code-acp's own options: \(asked.data)")
        #expect(asked.data.object("permission")["optionKinds"] as? [String] == ["allow_always", "allow_once", "reject_once"])
        #expect(!FileManager.default.fileExists(atPath: workspace.path + "/ran.txt"), "nothing runs before the answer")
        try await drover.call("decision/resolve", ["runId": runId, "decisionId": asked.data.string("decisionId"), "choice": "Allow"])
        let completed = try await drover.event(runId, "step.completed", timeout: .seconds(90))
        #expect(completed.data["attempt"] as? Int == 1, "\(completed.data)")
        #expect(FileManager.default.fileExists(atPath: workspace.path + "/ran.txt"), "the allowed command ran")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("claude ask mode: a Bash permission is a decision; 'allow for this run' runs it and stops the asking; a deny's reason reaches the agent",
          .enabled(ifBlocking: { ClaudeCLI.path != nil }, ClaudeCLI.missingReason))
    func claudePermissions() async throws {
        let server = try await ScriptedModelServer()
        let workspace = try Self.workspace(coder: ["driver": "claude", "model": "claude-sonnet-4-5", "command": ClaudeCLI.path ?? "claude",
                                                   "permissionMode": "ask", "env": server.environment])
        try server.play([
            ["content": [["type": "tool_use", "name": "Bash", "input": ["command": "echo ran > ran.txt", "description": "mark"]]]],
            ["content": [["type": "tool_use", "name": "Bash", "input": ["command": "echo again > again.txt", "description": "mark"]]]],
            ["content": [["type": "tool_use", "name": "Write", "input": ["file_path": workspace.path + "/notes.txt", "content": "x"]]]],
            ["content": [["type": "text", "text": "Finished."]], "usage": ["input_tokens": 10, "output_tokens": 5]],
        ])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("solo").string("id")

        let asked = try await drover.event(runId, "decision.requested", timeout: .seconds(60))
        #expect(asked.data.string("question") == "Allow Bash: `echo ran > ran.txt`?", "\(asked.data)")
        #expect(asked.data.object("permission").string("tool") == "Bash")
        let inbox = try await drover.call("inbox/list")["items"] as? [[String: Any]] ?? []
        #expect(inbox.first?.string("id") == asked.data.string("decisionId"), "\(inbox)")
        #expect(!FileManager.default.fileExists(atPath: workspace.path + "/ran.txt"), "nothing runs before the answer")
        try await drover.call("decision/resolve", ["runId": runId, "decisionId": asked.data.string("decisionId"),
                                                   "choice": "allow for this run"])

        let second = try await drover.event(runId, "decision.requested", timeout: .seconds(60))
        #expect(second.data.object("permission").string("tool") == "Write", "Bash is not asked again: \(second.data)")
        #expect(FileManager.default.fileExists(atPath: workspace.path + "/ran.txt"), "the allowed command ran")
        #expect(FileManager.default.fileExists(atPath: workspace.path + "/again.txt"), "and the next Bash call without asking")
        try await drover.call("decision/resolve", ["runId": runId, "decisionId": second.data.string("decisionId"),
                                                   "choice": "deny", "reason": "no notes please"])
        let completed = try await drover.event(runId, "step.completed", timeout: .seconds(60))
        #expect(completed.data.string("output") == "Finished.", "a person's deny is an answer, not a failure")
        #expect(completed.data["attempt"] as? Int == 1)
        try await drover.event(runId, "run.completed")
        #expect(!FileManager.default.fileExists(atPath: workspace.path + "/notes.txt"))
        let lastTurn = "\(server.modelRequests().last?["messages"] ?? "")"
        #expect(lastTurn.contains("no notes please"), "the agent received the reason: \(lastTurn.suffix(600))")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    /// Claude's AskUserQuestion call with two questions (the second multi-select).
    private static let colorQuestion: [String: any Sendable] = [
        "question": "Which color?", "header": "Color", "multiSelect": false,
        "options": [["label": "Red", "description": "warm"], ["label": "Blue", "description": "cool"]]]
    private static let sizeQuestion: [String: any Sendable] = [
        "question": "Which sizes?", "header": "Size", "multiSelect": true, "options": [["label": "S", "description": "small"], ["label": "L", "description": "large"]]]

    @Test("claude, default permission mode: AskUserQuestion becomes one decision per question with its options; the answers reach Claude and the same attempt goes on",
          .enabled(ifBlocking: { ClaudeCLI.path != nil }, ClaudeCLI.missingReason))
    func claudeQuestions() async throws {
        let server = try await ScriptedModelServer()
        let workspace = try Self.workspace(coder: ["driver": "claude", "model": "claude-sonnet-4-5", "command": ClaudeCLI.path ?? "claude",
                                                   "env": server.environment])
        try server.play([
            ["content": [["type": "tool_use", "name": "AskUserQuestion", "input": ["questions": [Self.colorQuestion, Self.sizeQuestion]]]]],
            ["content": [["type": "text", "text": "Blue and L it is."]], "usage": ["input_tokens": 10, "output_tokens": 5]],
        ])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("solo").string("id")

        let first = try await drover.event(runId, "decision.requested", timeout: .seconds(60))
        #expect(first.data.string("question") == "Color: Which color?\n- Red: warm\n- Blue: cool", "\(first.data)")
        #expect(first.data["options"] as? [String] == ["Red", "Blue"])
        #expect(first.data["attempt"] as? Int == 1, "Claude waits for the answer")
        #expect(first.data["permission"] == nil, "a question, not a tool permission")
        let inbox = try await drover.call("inbox/list")["items"] as? [[String: Any]] ?? []
        #expect(inbox.first?["options"] as? [String] == ["Red", "Blue"], "\(inbox)")
        try await drover.call("decision/resolve", ["runId": runId, "decisionId": first.data.string("decisionId"), "choice": "Blue"])

        let second = try await drover.event(runId, "decision.requested", timeout: .seconds(60))
        #expect(second.data["options"] as? [String] == ["S", "L"], "\(second.data)")
        try await drover.call("decision/resolve", ["runId": runId, "decisionId": second.data.string("decisionId"), "choice": "L"])

        let completed = try await drover.event(runId, "step.completed", timeout: .seconds(60))
        #expect(completed.data.string("output") == "Blue and L it is.")
        #expect(completed.data["attempt"] as? Int == 1, "the same attempt went on")
        let toolResult = "\(server.modelRequests().last?["messages"] ?? "")"
        #expect(toolResult.contains(#"\"Which color?\"=\"Blue\""#) && toolResult.contains(#"\"Which sizes?\"=\"L\""#),
                "the tool_result carries the answers: \(toolResult.suffix(800))")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("claude: the engine stops while Claude's question waits; the answer is kept and the step resumes the session with it",
          .enabled(ifBlocking: { ClaudeCLI.path != nil }, ClaudeCLI.missingReason))
    func claudeQuestionAfterRestart() async throws {
        let server = try await ScriptedModelServer()
        let workspace = try Self.workspace(coder: ["driver": "claude", "model": "claude-sonnet-4-5", "command": ClaudeCLI.path ?? "claude",
                                                   "env": server.environment])
        try server.play([
            ["content": [["type": "tool_use", "name": "AskUserQuestion",
                          "input": ["questions": [Self.colorQuestion]]]]],
            ["content": [["type": "text", "text": "Going with blue."]], "usage": ["input_tokens": 10, "output_tokens": 5]],
        ])
        let first = try await workspace.server(daemon: false)
        let runId = try await first.startRun("solo").string("id")
        let asked = try await first.event(runId, "decision.requested", timeout: .seconds(60))
        #expect(try await first.shutdownAndExit() == 0)
        #expect(await workspace.waitForNoAgents().isEmpty, "a stopped engine leaves no agent waiting")

        let second = try await workspace.server(daemon: false)
        try await second.call("decision/resolve", ["runId": runId, "decisionId": asked.data.string("decisionId"), "choice": "Blue"])
        let started = try await second.event(runId, "step.started", timeout: .seconds(60))
        #expect(started.data["attempt"] as? Int == 2)
        let completed = try await second.event(runId, "step.completed", timeout: .seconds(60))
        #expect(completed.data.string("output") == "Going with blue.")
        let resumed = "\(server.modelRequests().last?["messages"] ?? "")"
        #expect(resumed.contains("AskUserQuestion"), "the session was resumed: the earlier turn is in the history")
        #expect(resumed.contains("Blue"), "the answer is in the re-run's prompt: \(resumed.suffix(800))")
        #expect(try await second.shutdownAndExit() == 0)
    }
}
