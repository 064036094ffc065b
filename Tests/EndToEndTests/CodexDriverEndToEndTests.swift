import Foundation
import Testing

/// The `codex` driver driving the real Codex CLI through `drover serve`, against a scripted Responses API
/// server: what a user sees of a Codex step (its output, usage, readable log lines, files its patches
/// really changed, commands really run in the sandbox, failures that say what went wrong).
@Suite("End to end: codex driver", .enabled(ifBlocking: { CodexCLI.path != nil }, CodexCLI.missingReason))
struct CodexDriverEndToEndTests {
    /// A workspace whose one-step pipeline `solo` runs role `coder`, a codex role talking to `server`.
    private static func workspace(server: ScriptedModelServer, role: [String: Any] = [:]) throws -> EngineWorkspace {
        var coder = server.codexRole
        coder.merge(role) { _, new in new }
        let step: [String: Any] = ["id": "code", "kind": "agent", "role": "coder", "prompt": "Please {{task}}"]
        return try EngineWorkspace(pipelines: ["solo": FakePipeline.pipeline([step])], config: ["agents": ["coder": coder]])
    }

    private static func logTexts(_ drover: DroverProcess, _ runId: String) -> [String] {
        drover.notifiedLogs(runId).map { $0.string("text") }
    }

    @Test("apply_patch really writes the file, a shell command really runs; the output is codex's last message; usage and cost are recorded")
    func patchAndCommand() async throws {
        let server = try await CodexCLI.server(turns: [
            ["output": [["type": "text", "text": "I will write the file."],
                        ["type": "patch", "patch": "*** Begin Patch\n*** Add File: hello.txt\n+hello from codex\n*** End Patch\n"]],
             "usage": ["input_tokens": 100, "output_tokens": 20, "cached_input_tokens": 40]],
            ["output": [["type": "exec", "cmd": "wc -l < hello.txt > lines.txt; cat lines.txt"]],
             "usage": ["input_tokens": 150, "output_tokens": 10]],
            ["output": [["type": "text", "text": "Done: wrote hello.txt"]], "usage": ["input_tokens": 200, "output_tokens": 5]],
        ])
        let prices: [String: Any] = ["inputPerMTok": 1.0, "cachedInputPerMTok": 0.5, "outputPerMTok": 10.0]
        let workspace = try Self.workspace(server: server, role: ["prices": prices])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("solo", task: "write hello.txt").string("id")

        let usage = try await drover.event(runId, "usage.recorded", timeout: .seconds(60))
        #expect(usage.data.string("model") == CodexCLI.model)
        #expect(usage.data["inputTokens"] as? Int == 450, "\(usage.data)")
        #expect(usage.data["outputTokens"] as? Int == 35, "\(usage.data)")
        #expect(usage.data["cacheReadTokens"] as? Int == 40, "cached input counts as cache reads: \(usage.data)")
        let cost = usage.data["costUSD"] as? Double ?? 0
        #expect(abs(cost - (410 * 1.0 + 40 * 0.5 + 35 * 10.0) / 1_000_000) < 1e-12, "cost from the role's prices: \(usage.data)")
        #expect(usage.data.string("priceSource") == "config" && usage.data["reportedCostUSD"] == nil, "Codex reports no cost: \(usage.data)")
        let completed = try await drover.event(runId, "step.completed", timeout: .seconds(60))
        #expect(completed.data.string("output") == "Done: wrote hello.txt")
        try await drover.event(runId, "run.completed")

        #expect(try String(contentsOfFile: workspace.path + "/hello.txt", encoding: .utf8) == "hello from codex\n")
        #expect(try String(contentsOfFile: workspace.path + "/lines.txt", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        let logs = Self.logTexts(drover, runId)
        #expect(logs.contains("I will write the file."), "\(logs)")
        #expect(logs.contains("patched: add hello.txt"), "\(logs)")
        #expect(logs.contains("$ wc -l < hello.txt > lines.txt; cat lines.txt → exit 0"), "\(logs)")

        // What codex was sent: the step's prompt on stdin, then the command's output for the third turn.
        let requests = server.modelRequests()
        #expect(requests.count == 3)
        let firstInput = "\(requests.first?["input"] ?? "")"
        #expect(firstInput.contains("Please write hello.txt"), "\(firstInput)")
        let lastInput = "\(requests.last?["input"] ?? "")"
        #expect(lastInput.contains("function_call_output") && lastInput.contains("Process exited with code 0"), "\(lastInput)")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("the sandbox keeps the agent in its working directory: no commit, no push, no write outside, no network")
    func sandboxPreventsPublishing() async throws {
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("drover-e2e-outside-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: outside) }
        let script = [
            "git init -q . && git -c user.email=a@b -c user.name=a commit -q --allow-empty -m x; echo commit=$?",
            "git init -q --bare \(outside.path); echo bare=$?",
            "touch \(outside.path)-file; echo outside=$?",
            "git ls-remote https://github.com/git/git >/dev/null 2>&1; echo network=$?",
        ].joined(separator: "; ")
        let server = try await CodexCLI.server(turns: [
            ["output": [["type": "exec", "cmd": script]], "usage": ["input_tokens": 10, "output_tokens": 2]],
            ["output": [["type": "text", "text": "Tried."]], "usage": ["input_tokens": 20, "output_tokens": 2]],
        ])
        let workspace = try Self.workspace(server: server)
        let drover = try await workspace.server()
        let runId = try await drover.startRun("solo").string("id")
        try await drover.event(runId, "step.completed", timeout: .seconds(60))

        let output = "\(server.modelRequests().last?["input"] ?? "")"
        #expect(output.contains("commit=128"), "committing is refused (.git is read-only): \(output)")
        #expect(!output.contains("bare=0") && !FileManager.default.fileExists(atPath: outside.path), "nothing is created outside: \(output)")
        #expect(output.contains("outside=1"), "\(output)")
        #expect(!output.contains("network=0"), "no network: \(output)")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("a turn that fails (the API gave up) fails the step with codex's message; the log says it once")
    func failedTurnFailsTheStep() async throws {
        let server = try await CodexCLI.server(turns: [
            ["failed": ["code": "server_error", "message": "The server had an error while processing your request."]],
        ])
        let workspace = try Self.workspace(server: server)
        let drover = try await workspace.server()
        let runId = try await drover.startRun("solo").string("id")

        let failed = try await drover.event(runId, "step.failed", timeout: .seconds(60))
        let failure = failed.data.object("failure")
        #expect(failure.string("kind") == "agent")
        #expect(failure.string("message").contains("The server had an error while processing your request."), "\(failure)")
        try await drover.event(runId, "run.failed")
        let logs = Self.logTexts(drover, runId).filter { $0.contains("The server had an error") }
        #expect(logs.count == 1, "\(logs)")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("a rate limit codex gives up on (\"try again in 1.5s\") queues the run until then; the re-run resumes the thread and is done")
    func streamedRateLimitWaitsAndResumes() async throws {
        let server = try await CodexCLI.server(turns: [
            ["failed": ["code": "rate_limit_exceeded", "message": "Rate limit reached for gpt-5.4. Please try again in 1.5s."]],
            ["output": [["type": "text", "text": "done after the wait"]], "usage": ["input_tokens": 30, "output_tokens": 5]],
        ])
        let workspace = try Self.workspace(server: server)
        let drover = try await workspace.server()
        let runId = try await drover.startRun("solo", task: "count the files").string("id")

        let queued = try await drover.event(runId, "run.queued", timeout: .seconds(60)) { $0.data.string("reason") == "rate_limit" }
        #expect(queued.data.string("message").contains("Please try again in 1.5s"), "\(queued.data)")
        let wait = Self.seconds(from: queued.string("at"), to: queued.data.string("retryAt"))
        #expect(wait > 1.2 && wait <= 1.501, "retryAt comes from codex's message: \(queued.data)")
        let logs = Self.logTexts(drover, runId).filter { $0.contains("Rate limit reached") }
        #expect(!logs.isEmpty, "codex's words are in the log: \(Self.logTexts(drover, runId))")
        let completed = try await drover.event(runId, "step.completed", timeout: .seconds(60))
        #expect(completed.data.string("output") == "done after the wait")
        #expect(completed.data["attempt"] as? Int == 2)
        try await drover.event(runId, "run.completed")
        let resumed = "\(server.modelRequests().last?["input"] ?? "")"
        #expect(resumed.contains("Please count the files"), "the re-run resumes the thread, whose history holds the task: \(resumed)")
        #expect(resumed.contains("rate limited"), "and is told it was rate limited: \(resumed)")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("an HTTP 429 (codex does not retry it) queues the run for the engine's backoff; the re-run resumes the thread and is done")
    func httpRateLimitBacksOffAndResumes() async throws {
        let server = try await CodexCLI.server(turns: [
            ["error": ["status": 429, "retry_after": 1, "message": "Rate limit reached for requests"]],
            ["output": [["type": "text", "text": "done after the backoff"]], "usage": ["input_tokens": 30, "output_tokens": 5]],
        ])
        var coder = server.codexRole
        coder["model"] = CodexCLI.model
        let step: [String: Any] = ["id": "code", "kind": "agent", "role": "coder", "prompt": "Please {{task}}"]
        let workspace = try EngineWorkspace(pipelines: ["solo": FakePipeline.pipeline([step])],
                                            config: ["agents": ["coder": coder], "rateLimits": ["backoffSeconds": 1]])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("solo", task: "list the files").string("id")

        let queued = try await drover.event(runId, "run.queued", timeout: .seconds(60)) { $0.data.string("reason") == "rate_limit" }
        #expect(queued.data.string("message").contains("429"), "\(queued.data)")
        let wait = Self.seconds(from: queued.string("at"), to: queued.data.string("retryAt"))
        #expect(wait <= 1.001 && wait > 0.8, "no hint in codex's message: the configured backoff: \(queued.data)")
        let completed = try await drover.event(runId, "step.completed", timeout: .seconds(60))
        #expect(completed.data.string("output") == "done after the backoff")
        let resumed = "\(server.modelRequests().last?["input"] ?? "")"
        #expect(resumed.contains("Please list the files"), "the re-run resumes the thread: \(resumed)")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    private static func seconds(from start: String, to end: String) -> Double {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let start = formatter.date(from: start), let end = formatter.date(from: end) else { return .nan }
        return end.timeIntervalSince(start)
    }

    @Test("an HTTP error the provider answers with fails the step with the status and the provider's words")
    func httpErrorFailsTheStep() async throws {
        let server = try await CodexCLI.server(turns: [["error": ["status": 401, "message": "Incorrect API key provided"]]])
        let workspace = try Self.workspace(server: server)
        let drover = try await workspace.server()
        let runId = try await drover.startRun("solo").string("id")

        let failed = try await drover.event(runId, "step.failed", timeout: .seconds(60))
        let message = failed.data.object("failure").string("message")
        #expect(message.contains("401 Unauthorized: Incorrect API key provided"), "\(message)")
        #expect(message.contains("log in with `codex login`"), "\(message)")
        #expect(try await drover.shutdownAndExit() == 0)
    }
}
