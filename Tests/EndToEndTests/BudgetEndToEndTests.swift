import Foundation
import Testing

/// Budgets through `drover serve`: a run that reaches its budget is `paused` (never failed), and
/// `run/resume` with a higher budget goes on from the step that stopped, resuming its agent's session.
@Suite("End to end: budgets pause runs")
struct BudgetEndToEndTests {
    /// `work` reports a session and spends $0.60, then works on (until stopped); re-run, it says what it resumed.
    /// `review` spends $1.50 and finishes.
    private static var pipeline: [String: Any] { FakePipeline.pipeline([
        FakePipeline.step("work", prompt: "Work on {{task}}", turns: [
            [["session": "conv-1"], ["usage": ["model": "m", "input": 100, "output": 50, "costUSD": 0.6]], ["hang": true]],
            [["result": "resumed=[{{env.DROVER_RESUME_SESSION}}]"]],
        ]),
        FakePipeline.step("review", prompt: "Review", turns: [
            [["usage": ["model": "m", "input": 10, "output": 5, "costUSD": 1.5]], ["result": "looks good"]],
        ]),
    ]) }

    @Test("reaching the budget mid-step pauses the run; run/resume with a higher budget re-runs the step resuming its session")
    func pauseAndResume() async throws {
        let workspace = try EngineWorkspace(pipelines: ["budgeted": Self.pipeline])
        let drover = try await workspace.server()
        let bad = try await drover.callError("run/start", ["pipelineId": "budgeted", "task": "t", "budget": ["maxUSD": 0]])
        #expect(bad.code == -32602 && bad.message.contains("budget.maxUSD"), "\(bad)")

        let started = try await drover.call("run/start", ["pipelineId": "budgeted", "task": "t", "budget": ["maxUSD": 0.5]])
        let runId = started.object("run").string("id")
        #expect(started.object("run").object("budget")["maxUSD"] as? Double == 0.5)

        let paused = try await drover.event(runId, "run.paused", timeout: .seconds(30))
        #expect(paused.data.string("reason") == "budget")
        #expect(paused.data.object("spent")["costUSD"] as? Double == 0.6, "\(paused.data)")
        #expect(paused.data.object("limit")["maxUSD"] as? Double == 0.5, "\(paused.data)")
        #expect(await workspace.waitForNoAgents().isEmpty, "the agent was stopped")
        let run = try await drover.getRun(runId)
        #expect(run.string("status") == "paused")
        #expect((run["steps"] as? [[String: Any]])?.first?.string("state") == "pending", "\(run)")
        #expect(!drover.notifiedEvents(runId).contains { ["run.failed", "step.failed"].contains($0.string("type")) })

        let stillOver = try await drover.callError("run/resume", ["runId": runId])
        #expect(stillOver.code == -32602 && stillOver.message.contains("reaches its budget"), "\(stillOver)")
        let resumed = try await drover.call("run/resume", ["runId": runId, "budget": ["maxUSD": 2]])
        #expect(resumed.object("run").string("status") == "running")
        #expect(resumed.object("run").object("budget")["maxUSD"] as? Double == 2)
        let completed = try await drover.event(runId, "step.completed", timeout: .seconds(30)) { $0.data.string("stepId") == "work" }
        #expect(completed.data.string("output") == "resumed=[conv-1]", "the step resumed its session: \(completed.data)")

        // review spends $1.50 more ($2.10 ≥ $2): stopped again; it re-runs (and spends again) once resumed.
        let pausedAgain = try await drover.event(runId, "run.paused", timeout: .seconds(30))
        #expect(pausedAgain.data.object("spent")["costUSD"] as? Double ?? 0 > 2.09)
        let events = try await drover.storedEvents(runId).map { "\($0.string("type")) \($0.data.string("stepId"))" }
        #expect(events.contains("step.interrupted review") && !events.contains("step.completed review"), "\(events)")
        try await drover.call("run/resume", ["runId": runId, "budget": ["maxUSD": 5]])
        try await drover.event(runId, "step.completed", timeout: .seconds(30)) { $0.data.string("stepId") == "review" }
        try await drover.event(runId, "run.completed", timeout: .seconds(30))

        let notPaused = try await drover.callError("run/resume", ["runId": runId])
        #expect(notPaused.code == -33002 && notPaused.message.contains("paused runs only"), "\(notPaused)")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("config budgets.perRun is the budget of a run started without one; a run's own budget replaces it")
    func perRunDefault() async throws {
        let workspace = try EngineWorkspace(pipelines: ["budgeted": Self.pipeline], config: ["budgets": ["perRun": ["maxUSD": 0.5]]])
        let drover = try await workspace.server()
        let started = try await drover.call("run/start", ["pipelineId": "budgeted", "task": "t"])
        let runId = started.object("run").string("id")
        #expect(started.object("run").object("budget")["maxUSD"] as? Double == 0.5, "\(started)")
        let paused = try await drover.event(runId, "run.paused", timeout: .seconds(30))
        #expect(paused.data.string("reason") == "budget")
        #expect(paused.data.object("limit")["maxUSD"] as? Double == 0.5, "\(paused.data)")
        // The fake agent reports its cost for a model Drover has no price for: the reported figure is the cost.
        let usage = try await drover.storedEvents(runId).first { $0.string("type") == "usage.recorded" }
        #expect(usage?.object("data").string("priceSource") == "reported", "\(String(describing: usage))")
        #expect(usage?.object("data")["reportedCostUSD"] as? Double == 0.6)

        let own = try await drover.call("run/start", ["pipelineId": "budgeted", "task": "t", "budget": ["maxTokens": 1_000_000]])
        #expect(own.object("run").object("budget")["maxUSD"] == nil, "\(own)")
        #expect(own.object("run").object("budget")["maxTokens"] as? Int == 1_000_000)
        try await drover.call("run/cancel", ["runId": own.object("run").string("id")])
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("config budgets.perDay: once today's spending reaches it, a working run pauses and a new run pauses before its first step; resuming waits for a higher limit")
    func dailyBudget() async throws {
        let spend = FakePipeline.pipeline([
            FakePipeline.step("pay", prompt: "Pay", turns: [[["usage": ["model": "m", "input": 10, "output": 5, "costUSD": 0.6]], ["result": "paid"]]]),
        ])
        let workspace = try EngineWorkspace(pipelines: ["budgeted": Self.pipeline, "spend": spend],
                                            config: ["budgets": ["perDay": ["maxUSD": 1]]])
        // A server with its own engine (--no-daemon): its end stops the engine, so the next one counts afresh.
        let drover = try await workspace.server(daemon: false)
        // $0.60 today: under the limit.
        let first = try await drover.call("run/start", ["pipelineId": "spend", "task": "t"]).object("run").string("id")
        try await drover.event(first, "run.completed", timeout: .seconds(30))

        // Another run's agent spends $0.60 more ($1.20 ≥ $1) and works on: it is stopped, the run paused.
        let working = try await drover.call("run/start", ["pipelineId": "budgeted", "task": "t"]).object("run").string("id")
        let paused = try await drover.event(working, "run.paused", timeout: .seconds(30))
        #expect(paused.data.string("reason") == "daily_budget", "\(paused.data)")
        #expect(abs((paused.data.object("spent")["costUSD"] as? Double ?? 0) - 1.2) < 1e-9, "today's spending: \(paused.data)")
        #expect(paused.data.object("limit")["maxUSD"] as? Double == 1, "\(paused.data)")
        #expect(await workspace.waitForNoAgents().isEmpty, "the agent was stopped")
        #expect(try await drover.getRun(working).string("status") == "paused")

        // A new run pauses before its first step: nothing more is spent.
        let late = try await drover.call("run/start", ["pipelineId": "spend", "task": "t"]).object("run").string("id")
        let latePause = try await drover.event(late, "run.paused", timeout: .seconds(30))
        #expect(latePause.data.string("reason") == "daily_budget")
        let lateEvents = try await drover.storedEvents(late).map { $0.string("type") }
        #expect(!lateEvents.contains("step.started"), "\(lateEvents)")

        let refused = try await drover.callError("run/resume", ["runId": late])
        #expect(refused.code == -32602 && refused.message.contains("reaches its daily budget") && refused.message.contains("budgets.perDay"),
                "\(refused)")

        // The user raises the limit: both go on; the stopped step re-runs resuming its session.
        try workspace.writeConfig(["budgets": ["perDay": ["maxUSD": 10]]])
        try await drover.call("run/resume", ["runId": late])
        try await drover.event(late, "run.completed", timeout: .seconds(30))
        try await drover.call("run/resume", ["runId": working])
        let completed = try await drover.event(working, "step.completed", timeout: .seconds(30)) { $0.data.string("stepId") == "work" }
        #expect(completed.data.string("output") == "resumed=[conv-1]", "\(completed.data)")
        try await drover.event(working, "run.completed", timeout: .seconds(30))
        #expect(try await drover.shutdownAndExit() == 0)

        // A new engine counts today's spending from the store: $0.60 × 3 + $1.50 = $3.30.
        try workspace.writeConfig(["budgets": ["perDay": ["maxUSD": 3]]])
        let again = try await workspace.server(daemon: false)
        let counted = try await again.call("run/start", ["pipelineId": "spend", "task": "t"]).object("run").string("id")
        let countedPause = try await again.event(counted, "run.paused", timeout: .seconds(30))
        #expect(abs((countedPause.data.object("spent")["costUSD"] as? Double ?? 0) - 3.3) < 1e-9, "\(countedPause.data)")
        #expect(try await again.shutdownAndExit() == 0)
    }

    @Test("a mistake in config prices or budgets stops run/start with the file and the field")
    func badSpendingConfig() async throws {
        let workspace = try EngineWorkspace(pipelines: ["budgeted": Self.pipeline],
                                            config: ["prices": ["gpt-5": ["inputPerMTok": "cheap", "outputPerMTok": 10]],
                                                     "budgets": ["perDay": ["maxUSD": -3]]])
        let drover = try await workspace.server()
        let error = try await drover.callError("run/start", ["pipelineId": "budgeted", "task": "t"])
        #expect(error.code == -32602, "\(error)")
        #expect(error.message.contains("field 'prices.gpt-5.inputPerMTok' must be a number ≥ 0"), "\(error.message)")
        #expect(error.message.contains("field 'budgets.perDay.maxUSD' must be a positive number of US dollars"), "\(error.message)")
        #expect(error.message.contains(".drover/config.json"), "\(error.message)")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("a token budget pauses the run too")
    func tokenBudget() async throws {
        let workspace = try EngineWorkspace(pipelines: ["budgeted": Self.pipeline])
        let drover = try await workspace.server()
        let runId = try await drover.call("run/start", ["pipelineId": "budgeted", "task": "t", "budget": ["maxTokens": 100]])
            .object("run").string("id")
        let paused = try await drover.event(runId, "run.paused", timeout: .seconds(30))
        #expect(paused.data.object("limit")["maxTokens"] as? Int == 100)
        #expect(paused.data.object("spent")["inputTokens"] as? Int == 100)
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("claude gets the remaining budget as --max-budget-usd; its budget stop pauses the run, and a raised budget resumes the session",
          .enabled(ifBlocking: { ClaudeCLI.path != nil }, ClaudeCLI.missingReason))
    func claudeBudgetStop() async throws {
        let server = try await ScriptedModelServer(turns: [
            ["content": [["type": "tool_use", "name": "Bash", "input": ["command": "echo one", "description": "one"]]],
             "usage": ["input_tokens": 100_000, "output_tokens": 10]],
            ["content": [["type": "text", "text": "first answer"]], "usage": ["input_tokens": 10, "output_tokens": 10]],
            ["content": [["type": "text", "text": "resumed answer"]], "usage": ["input_tokens": 10, "output_tokens": 10]],
        ])
        let coder: [String: Any] = ["driver": "claude", "model": "claude-sonnet-4-5", "command": ClaudeCLI.path ?? "claude",
                                    "allowedTools": ["Bash"], "env": server.environment]
        let step: [String: Any] = ["id": "code", "kind": "agent", "role": "coder", "prompt": "Please {{task}}"]
        let workspace = try EngineWorkspace(pipelines: ["solo": FakePipeline.pipeline([step])], config: ["agents": ["coder": coder]])
        let drover = try await workspace.server()
        let runId = try await drover.call("run/start", ["pipelineId": "solo", "task": "t", "budget": ["maxUSD": 0.05]])
            .object("run").string("id")
        let paused = try await drover.event(runId, "run.paused", timeout: .seconds(60))
        #expect(paused.data.object("spent")["costUSD"] as? Double ?? 0 >= 0.05, "\(paused.data)")
        let events = try await drover.storedEvents(runId).map { $0.string("type") }
        #expect(!events.contains("run.failed") && !events.contains("step.failed"), "\(events)")
        try await drover.call("run/resume", ["runId": runId, "budget": ["maxUSD": 10]])
        let completed = try await drover.event(runId, "step.completed", timeout: .seconds(60))
        #expect(completed.data["attempt"] as? Int == 2)
        try await drover.event(runId, "run.completed")
        let history = "\(server.modelRequests().last?["messages"] ?? "")"
        #expect(history.contains("echo one"), "the re-run resumed the session: \(history.suffix(400))")
        #expect(try await drover.shutdownAndExit() == 0)
    }
}
