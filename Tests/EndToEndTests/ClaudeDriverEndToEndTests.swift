import Foundation
import Testing

/// The `claude` driver driving the real Claude Code CLI through `drover serve`, against a scripted
/// Messages API server: what a user sees of a Claude step (its output, usage and cost, readable log
/// lines, files its tools really changed, failures that say what went wrong).
@Suite("End to end: claude driver", .enabled(ifBlocking: { ClaudeCLI.path != nil }, ClaudeCLI.missingReason))
struct ClaudeDriverEndToEndTests {
    /// A workspace whose one-step pipeline `solo` runs role `coder`, a claude role talking to `server`.
    private static func workspace(server: ScriptedModelServer, role: [String: Any] = [:]) throws -> EngineWorkspace {
        var coder: [String: Any] = ["driver": "claude", "model": "claude-sonnet-4-5", "command": ClaudeCLI.path ?? "claude",
                                    "env": server.environment]
        coder.merge(role) { _, new in new }
        let step: [String: Any] = ["id": "code", "kind": "agent", "role": "coder", "prompt": "Please {{task}}"]
        return try EngineWorkspace(pipelines: ["solo": FakePipeline.pipeline([step])], config: ["agents": ["coder": coder]])
    }

    /// The text of every `run/log` line of `runId` received so far.
    private static func logTexts(_ drover: DroverProcess, _ runId: String) -> [String] {
        drover.notifiedLogs(runId).map { $0.string("text") }
    }

    @Test("a Write tool call really writes the file; the step's output is claude's answer; usage and cost are recorded")
    func writeFileAndAnswer() async throws {
        // The Write call's path is absolute, as Claude sends it: the script is played once the workspace exists.
        let server = try await ScriptedModelServer()
        let workspace = try Self.workspace(server: server)
        try server.play([
            ["content": [["type": "text", "text": "I will write the file."],
                         ["type": "tool_use", "name": "Write",
                          "input": ["file_path": workspace.path + "/hello.txt", "content": "hello from claude\n"]]],
             "usage": ["input_tokens": 100, "output_tokens": 20, "cache_read_input_tokens": 5, "cache_creation_input_tokens": 7]],
            ["content": [["type": "text", "text": "Done: wrote hello.txt"]], "usage": ["input_tokens": 150, "output_tokens": 10]],
        ])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("solo", task: "write hello.txt").string("id")

        let usage = try await drover.event(runId, "usage.recorded", timeout: .seconds(60))
        #expect(usage.data.string("stepId") == "code")
        #expect(usage.data.string("model") == "claude-sonnet-4-5")
        // 250 uncached input tokens, 5 read from the cache and 7 written to it: 262 input tokens in Drover's count.
        #expect(usage.data["inputTokens"] as? Int == 262, "\(usage.data)")
        #expect(usage.data["cacheReadTokens"] as? Int == 5, "\(usage.data)")
        #expect(usage.data["cacheWriteTokens"] as? Int == 7, "\(usage.data)")
        #expect(usage.data["outputTokens"] as? Int == 30, "\(usage.data)")
        // Drover's price (Sonnet 4.5: $3 in, $0.30 cache read, $3.75 cache write, $15 out per million) and the CLI's own figure agree.
        let price: Double = (250 * 3 + 5 * 0.3 + 7 * 3.75 + 30 * 15) / 1_000_000
        #expect(usage.data.string("priceSource") == "table", "\(usage.data)")
        #expect(abs((usage.data["costUSD"] as? Double ?? 0) - price) < 1e-12, "\(usage.data)")
        #expect(abs((usage.data["reportedCostUSD"] as? Double ?? 0) - price) < 1e-9, "the CLI's cost is kept beside it: \(usage.data)")
        let completed = try await drover.event(runId, "step.completed", timeout: .seconds(60))
        #expect(completed.data.string("output") == "Done: wrote hello.txt")
        try await drover.event(runId, "run.completed")

        let written = try String(contentsOfFile: workspace.path + "/hello.txt", encoding: .utf8)
        #expect(written == "hello from claude\n")
        let logs = Self.logTexts(drover, runId)
        #expect(logs.contains("I will write the file."), "\(logs)")
        #expect(logs.contains("Write hello.txt"), "the tool call reads as a person would say it: \(logs)")
        #expect(logs.contains { $0.hasPrefix("claude started: model claude-sonnet-4-5, permission mode acceptEdits") }, "\(logs)")

        // What claude was sent: the step's prompt on stdin, then the tool's result for the second turn.
        let requests = server.modelRequests()
        #expect(requests.count == 2)
        let firstPrompt = "\(requests.first?["messages"] ?? "")"
        #expect(firstPrompt.contains("Please write hello.txt"), "\(firstPrompt)")
        let secondTurn = "\(requests.last?["messages"] ?? "")"
        #expect(secondTurn.contains("tool_result") && secondTurn.contains("File created successfully"), "\(secondTurn)")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("claude's own API retries show as log lines; an API error it gives up on fails the step with its message")
    func apiErrorFailsTheStep() async throws {
        let server = try await ScriptedModelServer(turns: [
            ["error": ["status": 429, "retry_after": 1, "message": "slow down"]],
            ["error": ["status": 500, "message": "scripted outage"]],
        ])
        var environment = server.environment
        environment["CLAUDE_CODE_MAX_RETRIES"] = "1"
        let workspace = try Self.workspace(server: server, role: ["env": environment])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("solo").string("id")

        let failed = try await drover.event(runId, "step.failed", timeout: .seconds(60))
        let failure = failed.data.object("failure")
        #expect(failure.string("kind") == "agent")
        #expect(failure.string("message").contains("500"), "\(failure)")
        #expect(failure.string("message").contains("scripted outage"), "\(failure)")
        try await drover.event(runId, "run.failed")
        let logs = Self.logTexts(drover, runId)
        #expect(logs.contains { $0.hasPrefix("API error 429 (rate_limit), retrying in ") && $0.hasSuffix("(1/1)") }, "\(logs)")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("a 429 claude gives up on queues the run until retry-after; the re-run resumes the session (the server sees the earlier history) and is done")
    func exhaustedRateLimitWaitsAndResumes() async throws {
        let server = try await ScriptedModelServer(turns: [
            ["error": ["status": 429, "retry_after": 1, "message": "slow down"]],
            ["error": ["status": 429, "retry_after": 1, "message": "slow down again"]],
            ["content": [["type": "text", "text": "Done after the wait"]], "usage": ["input_tokens": 40, "output_tokens": 6]],
        ])
        var environment = server.environment
        environment["CLAUDE_CODE_MAX_RETRIES"] = "1"
        let workspace = try Self.workspace(server: server, role: ["env": environment])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("solo", task: "count the files").string("id")

        let queued = try await drover.event(runId, "run.queued", timeout: .seconds(60)) { $0.data.string("reason") == "rate_limit" }
        #expect(queued.data.string("stepId") == "code")
        #expect(queued.data.string("message").contains("429"), "\(queued.data)")
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let wait = formatter.date(from: queued.data.string("retryAt")).map { $0.timeIntervalSince(formatter.date(from: queued.string("at")) ?? $0) }
        #expect(wait.map { $0 > 0.5 && $0 < 3 } == true, "retryAt comes from the server's retry-after: \(queued.data)")
        let logs = Self.logTexts(drover, runId)
        #expect(logs.contains { $0.hasPrefix("API error 429 (rate_limit), retrying in ") && $0.hasSuffix("(1/1)") }, "\(logs)")

        let completed = try await drover.event(runId, "step.completed", timeout: .seconds(60))
        #expect(completed.data.string("output") == "Done after the wait")
        #expect(completed.data["attempt"] as? Int == 2)
        try await drover.event(runId, "run.completed")
        let types = try await drover.storedEvents(runId).map { $0.string("type") }
        #expect(!types.contains("step.failed"), "\(types)")
        let resumed = "\(server.modelRequests().last?["messages"] ?? "")"
        #expect(resumed.contains("Please count the files"), "the resumed request carries the earlier history: \(resumed)")
        #expect(resumed.contains("rate limited"), "and says only that it was rate limited: \(resumed)")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("an allowed Bash command runs; git push is denied whatever the role allows, and the denial fails the step")
    func bashRunsButPushIsDenied() async throws {
        let server = try await ScriptedModelServer(turns: [
            ["content": [["type": "tool_use", "name": "Bash", "input": ["command": "echo ran > ran.txt", "description": "mark"]]]],
            ["content": [["type": "tool_use", "name": "Bash", "input": ["command": "git push origin main", "description": "publish"]]]],
            ["content": [["type": "text", "text": "Pushed, I think."]]],
        ])
        let workspace = try Self.workspace(server: server, role: ["allowedTools": ["Bash"]])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("solo").string("id")

        let failed = try await drover.event(runId, "step.failed", timeout: .seconds(60))
        let message = failed.data.object("failure").string("message")
        #expect(message.contains("denied") && message.contains("Bash: git push origin main"), "\(message)")
        #expect(FileManager.default.fileExists(atPath: workspace.path + "/ran.txt"), "the allowed command ran in the workspace")
        let logs = Self.logTexts(drover, runId)
        #expect(logs.contains("Bash: echo ran > ran.txt → ok"), "\(logs)")
        #expect(logs.contains { $0.hasPrefix("denied Bash:") && $0.contains("git push origin main") }, "\(logs)")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("outside ask mode a command the mode does not allow is denied by drover, as the CLI would, and the denial fails the step")
    func modeDeniesOverTheControlChannel() async throws {
        let server = try await ScriptedModelServer(turns: [
            ["content": [["type": "tool_use", "name": "Bash", "input": ["command": "curl -s http://127.0.0.1:9/", "description": "fetch"]]]],
            ["content": [["type": "text", "text": "Could not fetch."]]],
        ])
        let workspace = try Self.workspace(server: server)
        let drover = try await workspace.server()
        let runId = try await drover.startRun("solo").string("id")
        let failed = try await drover.event(runId, "step.failed", timeout: .seconds(60))
        let message = failed.data.object("failure").string("message")
        #expect(message.hasPrefix("claude was denied a tool by the role's permissions: Bash: curl -s http://127.0.0.1:9/"), "\(message)")
        let toolResult = "\(server.modelRequests().last?["messages"] ?? "")"
        #expect(toolResult.contains("permission mode acceptEdits"), "Claude was told why: \(toolResult.suffix(600))")
        #expect(try await drover.shutdownAndExit() == 0)
    }
}
