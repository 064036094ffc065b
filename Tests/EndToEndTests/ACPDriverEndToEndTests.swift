import Foundation
import Testing

/// The `acp` driver through `drover serve`, driving an agent the ACP Python SDK runs
/// (Tests/Agents/scripted_acp_agent.py): streamed answers, tool calls, permissions answered by the role's
/// policy, files written inside the working directory only, cancellation and an agent that dies.
@Suite("End to end: acp driver", .enabled(ifBlocking: { ScriptedACPAgent.available }, ScriptedACPAgent.missingReason))
struct ACPDriverEndToEndTests {
    /// A workspace whose one-step pipeline `solo` runs role `coder`, an acp role playing `actions`.
    private static func workspace(_ actions: [[String: Any]], scratch: TempFolder, role: [String: Any] = [:]) throws -> EngineWorkspace {
        let coder = try ScriptedACPAgent.role(actions, in: scratch.url, extra: role)
        let step: [String: Any] = ["id": "code", "kind": "agent", "role": "coder", "prompt": "Please {{task}}"]
        return try EngineWorkspace(pipelines: ["solo": FakePipeline.pipeline([step])], config: ["agents": ["coder": coder]])
    }

    private static func logTexts(_ drover: DroverProcess, _ runId: String) -> [String] {
        drover.notifiedLogs(runId).map { $0.string("text") }
    }

    @Test("streamed chunks are the output; a listed tool is allowed and writes its file; an unlisted one is rejected; usage recorded")
    func promptToolsAndPermissions() async throws {
        let scratch = try TempFolder()
        let workspace = try Self.workspace([
            ["plan": ["write hello", "check it"], "done": 1],
            ["say": "I will write hello.txt.\n"],
            ["write": "hello.txt", "content": "hello from acp\n"],
            ["run": "git push origin main"],
            ["usage": ["inputTokens": 120, "outputTokens": 30], "cost": 0.0042],
            ["say": "Done."],
        ], scratch: scratch, role: ["allowedTools": ["edit"], "allowDenials": true])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("solo", task: "write hello.txt").string("id")

        let usage = try await drover.event(runId, "usage.recorded", timeout: .seconds(30))
        #expect(usage.data["inputTokens"] as? Int == 120)
        #expect(usage.data["outputTokens"] as? Int == 30)
        #expect(abs((usage.data["costUSD"] as? Double ?? 0) - 0.0042) < 1e-12, "\(usage.data)")
        let completed = try await drover.event(runId, "step.completed", timeout: .seconds(30))
        #expect(completed.data.string("output") == "I will write hello.txt.\n\nNot allowed to run git push origin main.Done.")
        try await drover.event(runId, "run.completed")
        #expect(try String(contentsOfFile: workspace.path + "/hello.txt", encoding: .utf8) == "hello from acp\n")

        let logs = Self.logTexts(drover, runId)
        for expected in ["I will write hello.txt.", "Write hello.txt", "permission for Write hello.txt: allowed (Allow)",
                         "Write hello.txt → completed", "git push origin main",
                         "permission for git push origin main: rejected (Reject), not in the role's allowedTools",
                         "git push origin main → failed"] {
            #expect(logs.contains(expected), "\(expected) not in \(logs)")
        }
        #expect(logs.contains("progress 50% check it"), "the plan is progress: \(logs)")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("a rejected permission fails the step unless the role allows denials; a write outside the working directory is refused")
    func rejectionAndOutsideWrite() async throws {
        let scratch = try TempFolder()
        let outside = scratch.url.appendingPathComponent("outside.txt").path
        let workspace = try Self.workspace([
            ["write": outside, "content": "escaped"],
            ["run": "rm -rf build"],
            ["say": "Finished."],
        ], scratch: scratch, role: ["allowedTools": ["edit"]])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("solo").string("id")

        let failed = try await drover.event(runId, "step.failed", timeout: .seconds(30))
        let message = failed.data.object("failure").string("message")
        #expect(message.hasPrefix("the agent was refused a tool by the role's permissions: rm -rf build"), "\(message)")
        #expect(!FileManager.default.fileExists(atPath: outside), "nothing written outside the working directory")
        let logs = Self.logTexts(drover, runId)
        #expect(logs.contains("refused to write \(outside): \(outside) is outside the working directory"), "\(logs)")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("an agent that dies mid-turn fails the step with its stderr")
    func agentDies() async throws {
        let scratch = try TempFolder()
        let workspace = try Self.workspace([["say": "Working on it.\n"], ["crash": "agent crashed: out of memory"]], scratch: scratch)
        let drover = try await workspace.server()
        let runId = try await drover.startRun("solo").string("id")
        let failed = try await drover.event(runId, "step.failed", timeout: .seconds(30))
        #expect(failed.data.object("failure").string("message").contains("agent crashed: out of memory"), "\(failed.data)")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("run/cancel mid-turn leaves no process of the agent")
    func cancelMidTurn() async throws {
        let scratch = try TempFolder()
        let workspace = try Self.workspace([["say": "Working on it.\n"], ["sleep": 120]], scratch: scratch)
        let drover = try await workspace.server()
        let runId = try await drover.startRun("solo").string("id")
        try await drover.logLine(runId, "Working on it.")
        try await drover.call("run/cancel", ["runId": runId])
        try await drover.event(runId, "run.cancelled")
        let left = await workspace.waitForNoAgents()
        #expect(left.isEmpty, "processes left after run/cancel: \(left)")
        #expect(try await drover.shutdownAndExit() == 0)
    }
}

/// The `acp` driver driving `claude-code-acp`, an ACP agent we did not write, offline against the scripted
/// Messages API server: its permission requests answered by the role's policy, its commands really run.
@Suite("End to end: acp driver with claude-code-acp", .enabled(if: ClaudeCodeACP.path != nil, ClaudeCodeACP.missingReason))
struct ClaudeCodeACPEndToEndTests {
    @Test("a listed command is allowed and runs; an unlisted write is rejected, logged, and fails the step")
    func permissionsAllowedAndRejected() async throws {
        let server = try await ScriptedModelServer()
        let coder: [String: Any] = ["driver": "acp", "command": ClaudeCodeACP.path ?? "claude-code-acp",
                                    "env": server.environment, "allowedTools": ["Run: echo"]]
        let step: [String: Any] = ["id": "code", "kind": "agent", "role": "coder", "prompt": "Please {{task}}"]
        let workspace = try EngineWorkspace(pipelines: ["solo": FakePipeline.pipeline([step])], config: ["agents": ["coder": coder]])
        try server.play([
            ["content": [["type": "text", "text": "I will run it."],
                         ["type": "tool_use", "name": "Bash", "input": ["command": "echo ran > ran.txt", "description": "mark"]]]],
            ["content": [["type": "tool_use", "name": "Write",
                          "input": ["file_path": workspace.path + "/hello.txt", "content": "hello via acp\n"]]]],
            ["content": [["type": "text", "text": "Done."]]],
        ])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("solo", task: "run it").string("id")

        let failed = try await drover.event(runId, "step.failed", timeout: .seconds(90))
        let message = failed.data.object("failure").string("message")
        #expect(message.hasPrefix("the agent was refused a tool by the role's permissions: Write hello.txt"), "\(message)")
        #expect(FileManager.default.fileExists(atPath: workspace.path + "/ran.txt"), "the allowed command ran in the workspace")
        #expect(!FileManager.default.fileExists(atPath: workspace.path + "/hello.txt"), "the rejected write did not happen")
        let logs = drover.notifiedLogs(runId).map { $0.string("text") }
        #expect(logs.contains { $0.hasPrefix("acp agent started: claude-code-acp") }, "\(logs)")
        #expect(logs.contains("permission for Run: echo ran > ran.txt: allowed (Allow)"), "\(logs)")
        #expect(logs.contains("permission for Write hello.txt: rejected (Reject), not in the role's allowedTools"), "\(logs)")
        #expect(logs.contains("I will run it."), "\(logs)")
        #expect(try await drover.shutdownAndExit() == 0)
    }
}
