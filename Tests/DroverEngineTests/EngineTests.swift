import DroverEngine
import DroverProtocol
import Foundation
import Testing

@Suite struct EngineTests {
    @Test func aRunCompletesWithOutputsFlowingThroughTemplates() async throws {
        let h = try await EngineHarness.make()
        let started = try await h.start("flow", task: "the thing", inputs: ["lang": "swift"])
        #expect(started.status == .running)
        #expect(started.steps.map(\.state) == [.pending, .pending])

        let a = try await h.nextLaunch("a", attempt: 1)
        #expect(a.invocation.prompt == "Do the thing with swift")
        #expect(a.invocation.executable == "/opt/drover/bin/drover")
        #expect(a.invocation.arguments == ["agent-fake"])
        #expect(a.invocation.workingDirectory == h.workspace.path)
        #expect(a.invocation.makeReader() is LineProtocolReader)
        let env = a.invocation.environment
        #expect(env["DROVER_RUN_ID"] == started.id && env["DROVER_ROLE"] == "writer" && env["DROVER_WORKSPACE"] == h.workspace.path)
        #expect(env["KEEP"] == "1")
        #expect(env["DROVER_FAKE_SCRIPT"] == #"[[{"result":"x"}]]"#)
        #expect(a.invocation.logFile.path == h.workspace.path + "/.drover/logs/\(started.id)@a.1.log")

        a.handle.emit(.log(.agent, "working on it"))
        a.handle.emit(.progress(fraction: 0.4, message: "halfway-ish"))
        a.handle.emit(.usage(AgentUsage(model: "m", inputTokens: 10, outputTokens: 4, reportedCostUSD: 0.01)))
        a.handle.finish(.completed(output: "A-OUT"))
        let b = try await h.nextLaunch("b", attempt: 1)
        #expect(b.invocation.prompt == "Use A-OUT / A-OUT")
        b.handle.finish(.completed(output: "B-OUT"))
        try await h.next("run.completed", of: started.id)

        let run = try await h.engine.getRun(started.id)
        #expect(run.status == .done)
        #expect(run.steps.map(\.output) == ["A-OUT", "B-OUT"])
        #expect(run.usage == Usage(inputTokens: 10, outputTokens: 4, costUSD: 0.01))
        #expect(h.recorder.logs.map(\.text) == ["working on it", "progress 40% halfway-ish"])
        #expect(h.recorder.logs.first?.attempt == 1 && h.recorder.logs.first?.stepId == "a")

        // The notifications ARE the stored events: same seqs, no gaps.
        let stored = h.store.allEvents(started.id)
        #expect(h.recorder.events.filter { $0.runId == started.id } == stored)
        #expect(stored.map(\.seq) == Array(1...stored.count))
        #expect(stored.map(\.type) == ["run.created", "run.workspace", "run.started", "step.started", "usage.recorded", "step.completed",
                                       "step.started", "step.completed", "run.completed"])
        let page = try await h.engine.events(RunEventsRequest(runId: started.id, afterSeq: 2, limit: 3))
        #expect(page.events.map(\.seq) == [3, 4, 5] && page.more && page.lastSeq == stored.count)
    }

    @Test func aDecisionParksTheRunAndTheChoiceReachesTheReRun() async throws {
        let h = try await EngineHarness.make()
        let run = try await h.start("flow", inputs: ["lang": "go"])
        let first = try await h.nextLaunch("a", attempt: 1)
        first.handle.finish(.decision(question: "How deep?", options: ["quick", "thorough"]))
        try await h.next("decision.requested", of: run.id)

        let blocked = try await h.engine.getRun(run.id)
        #expect(blocked.status == .blocked)
        #expect(blocked.steps[0].decision == Decision(id: "d-a-1", question: "How deep?", options: ["quick", "thorough"]))
        let inbox = try await h.engine.inbox()
        #expect(inbox.items.map(\.id) == ["d-a-1"])
        #expect(inbox.items.first?.options == ["quick", "thorough"] && inbox.items.first?.kind == .decision)

        let bad = await h.expectError { try await h.engine.resolveDecision(DecisionResolveRequest(runId: run.id, decisionId: "d-a-1", choice: "deep")) }
        #expect(bad?.code == .invalidParams)
        #expect(bad?.message.contains("'quick', 'thorough'") == true)

        let resolved = try await h.engine.resolveDecision(DecisionResolveRequest(runId: run.id, decisionId: "d-a-1", choice: "thorough"))
        #expect(resolved.status == .running)
        let again = try await h.engine.resolveDecision(DecisionResolveRequest(runId: run.id, decisionId: "d-a-1", choice: "thorough"))
        #expect(again.lastSeq >= resolved.lastSeq)
        let other = await h.expectError { try await h.engine.resolveDecision(DecisionResolveRequest(runId: run.id, decisionId: "d-a-1", choice: "quick")) }
        #expect(other?.code == .conflict)

        let second = try await h.nextLaunch("a", attempt: 2)
        #expect(second.invocation.prompt.hasPrefix("Do T with go"))
        #expect(second.invocation.prompt.contains("Decision: How deep? → thorough"))
        #expect(try await h.engine.inbox().items.isEmpty)
    }

    @Test func requestChangesReRunsWithFeedbackAndTheEditedApprovalFlowsDownstream() async throws {
        let h = try await EngineHarness.make()
        let run = try await h.start("gated")
        try await h.nextLaunch("a", attempt: 1).handle.finish(.completed(output: "draft one"))
        try await h.next("approval.requested", of: run.id)
        #expect(try await h.engine.getRun(run.id).steps[0].approval == Approval(id: "a-a-1", status: .pending, proposal: "draft one"))

        let sent = try await h.engine.requestChanges(StepRequestChangesRequest(runId: run.id, approvalId: "a-a-1", feedback: "make it shorter"))
        #expect(sent.steps[0].approval?.status == .changesRequested)
        let rerun = try await h.nextLaunch("a", attempt: 2)
        #expect(rerun.invocation.prompt.contains("make it shorter"))
        #expect(rerun.invocation.prompt.contains("Previous proposal:\ndraft one"))

        // The stale gate is in flight: every action on it is a conflict.
        let stale = await h.expectError { try await h.engine.approve(StepApproveRequest(runId: run.id, approvalId: "a-a-1")) }
        #expect(stale?.code == .conflict)

        rerun.handle.finish(.completed(output: "draft two"))
        try await h.next("approval.requested", of: run.id)
        let approved = try await h.engine.approve(StepApproveRequest(runId: run.id, approvalId: "a-a-2", proposal: "edited by a person"))
        #expect(approved.steps[0].output == "edited by a person")
        #expect(approved.steps[0].state == .done)
        let noop = try await h.engine.approve(StepApproveRequest(runId: run.id, approvalId: "a-a-2"))
        #expect(noop.steps[0].output == "edited by a person")
        let late = await h.expectError { try await h.engine.reject(StepRejectRequest(runId: run.id, approvalId: "a-a-2")) }
        #expect(late?.code == .conflict)

        let b = try await h.nextLaunch("b", attempt: 1)
        #expect(b.invocation.prompt == "Build on edited by a person")
        b.handle.finish(.completed(output: "done"))
        try await h.next("run.completed", of: run.id)
    }

    @Test func rejectFailsTheRunAndRetryReRunsTheRejectedStep() async throws {
        let h = try await EngineHarness.make()
        let run = try await h.start("gated")
        try await h.nextLaunch("a", attempt: 1).handle.finish(.completed(output: "bad idea"))
        try await h.next("approval.requested", of: run.id)

        let rejected = try await h.engine.reject(StepRejectRequest(runId: run.id, approvalId: "a-a-1", reason: "wrong approach"))
        #expect(rejected.status == .failed)
        #expect(rejected.failure?.kind == .rejected)
        #expect(rejected.failure?.hint.contains("run/retry") == true)
        #expect(rejected.failure?.hint.contains("`drover retry \(run.id)`") == true, "a terminal user learns the command too")
        let same = try await h.engine.reject(StepRejectRequest(runId: run.id, approvalId: "a-a-1"))
        #expect(same == rejected)
        let approveRejected = await h.expectError { try await h.engine.approve(StepApproveRequest(runId: run.id, approvalId: "a-a-1")) }
        #expect(approveRejected?.code == .conflict && approveRejected?.message.contains("run/retry") == true)

        let retried = try await h.engine.retry(RunRetryRequest(runId: run.id))
        #expect(retried.status == .running && retried.failure == nil)
        let again = try await h.nextLaunch("a", attempt: 2)
        #expect(again.invocation.prompt.contains("wrong approach"))
        #expect(again.invocation.prompt.contains("Previous proposal:\nbad idea"))
        again.handle.finish(.completed(output: "better idea"))
        let gate = try await h.next("approval.requested", of: run.id)
        guard case .approvalRequested(let data) = gate.body else { return }
        #expect(data.approvalId == "a-a-2")

        let notFailed = await h.expectError { try await h.engine.retry(RunRetryRequest(runId: run.id)) }
        #expect(notFailed?.code == .conflict)
        #expect(notFailed?.message == "Run \(run.id) is blocked; run/retry accepts failed or cancelled runs only")
    }

    @Test func restartReRunsFromAnEarlierStep() async throws {
        let h = try await EngineHarness.make()
        let run = try await h.start("flow", inputs: ["lang": "c"])
        try await h.nextLaunch("a", attempt: 1).handle.finish(.completed(output: "A1"))
        try await h.nextLaunch("b", attempt: 1).handle.finish(.completed(output: "B1"))
        try await h.next("run.completed", of: run.id)

        let unknown = await h.expectError { try await h.engine.restart(RunRestartRequest(runId: run.id, fromStep: "zz")) }
        #expect(unknown?.code == .notFound && unknown?.message.contains("a, b") == true)

        let restarted = try await h.engine.restart(RunRestartRequest(runId: run.id, fromStep: "a"))
        #expect(restarted.status == .running)
        #expect(restarted.steps.map(\.state) == [.pending, .pending])
        let a = try await h.nextLaunch("a", attempt: 2)
        #expect(!a.invocation.prompt.contains("Context from earlier attempts"))

        // Restarting a live run stops it first.
        let again = try await h.engine.restart(RunRestartRequest(runId: run.id, fromStep: "a"))
        #expect(a.handle.wasTerminated)
        #expect(again.steps[0].state == .pending)
        try await h.nextLaunch("a", attempt: 3).handle.finish(.completed(output: "A3"))
        let b = try await h.nextLaunch("b", attempt: 2)
        let later = await h.expectError { try await h.engine.restart(RunRestartRequest(runId: run.id, fromStep: "b")) }
        #expect(later == nil, "restarting from the working step itself is allowed")
        _ = b
        let types = h.store.allEvents(run.id).map(\.type)
        #expect(types.filter { $0 == "run.restarted" }.count == 3)
        #expect(types.contains("step.interrupted"))
    }

    @Test func cancelKillsTheAgentAndIsIdempotent() async throws {
        let h = try await EngineHarness.make()
        let run = try await h.start("flow", inputs: ["lang": "c"])
        let a = try await h.nextLaunch("a", attempt: 1)
        let cancelled = try await h.engine.cancel(RunCancelRequest(runId: run.id, reason: "changed my mind"))
        #expect(a.handle.wasTerminated)
        #expect(cancelled.status == .cancelled)
        #expect(cancelled.failure?.kind == .cancelled)
        #expect(cancelled.failure?.message.contains("changed my mind") == true)
        let again = try await h.engine.cancel(RunCancelRequest(runId: run.id))
        #expect(again == cancelled)
        await h.engine.waitUntilIdle()
        #expect(h.launcher.all.count == 1, "nothing starts after a cancel")

        let retried = try await h.engine.retry(RunRetryRequest(runId: run.id))
        #expect(retried.currentStep == "a")
        try await h.nextLaunch("a", attempt: 2).handle.finish(.completed(output: "ok"))
    }

    @Test func cancelOfABlockedRunNeedsNoProcess() async throws {
        let h = try await EngineHarness.make()
        let run = try await h.start("gated")
        try await h.nextLaunch("a", attempt: 1).handle.finish(.completed(output: "p"))
        try await h.next("approval.requested", of: run.id)
        let cancelled = try await h.engine.cancel(RunCancelRequest(runId: run.id))
        #expect(cancelled.status == .cancelled)
        let late = await h.expectError { try await h.engine.approve(StepApproveRequest(runId: run.id, approvalId: "a-a-1")) }
        #expect(late?.code == .conflict && late?.message.contains("cancelled") == true)
        #expect(try await h.engine.inbox().items.isEmpty)
    }

    @Test func anAgentFailureRecordsKindMessageAndHint() async throws {
        let h = try await EngineHarness.make()
        let run = try await h.start("flow", inputs: ["lang": "c"])
        try await h.nextLaunch("a", attempt: 1).handle.finish(.failed(message: "line 1\nsegfault", exitCode: 139))
        let failed = try await h.next("run.failed", of: run.id)
        guard case .runFailed(let data) = failed.body else { return }
        #expect(data.failure.kind == .agent)
        #expect(data.failure.message == "line 1\nsegfault")
        #expect(data.failure.hint.contains("drover logs \(run.id) a"))
        #expect(data.failure.hint.hasSuffix("then run `drover retry \(run.id)` (or run/retry)"))
        #expect(data.failure.stepId == "a")
        let snapshot = try await h.engine.getRun(run.id)
        #expect(snapshot.steps[0].state == .failed)
        #expect(h.store.allEvents(run.id).suffix(2).map(\.type) == ["step.failed", "run.failed"])

        // Retry clears the failure; the earlier failure message reaches the re-run.
        _ = try await h.engine.retry(RunRetryRequest(runId: run.id))
        let again = try await h.nextLaunch("a", attempt: 2)
        #expect(again.invocation.prompt.contains("Attempt 1 failed (agent): line 1\nsegfault"))
        again.handle.finish(.failed(message: "", exitCode: 2))
        try await h.next("run.failed", of: run.id)
        let second = try await h.engine.getRun(run.id)
        #expect(second.failure?.message == "exited with status 2 and no error output")
    }

    @Test func aTimeoutIsItsOwnKindAndCommandStepsRunThroughTheShell() async throws {
        let h = try await EngineHarness.make()
        let run = try await h.start("timed")
        let a = try await h.nextLaunch("a", attempt: 1)
        #expect(a.invocation.timeout == .seconds(5))
        a.handle.finish(.timedOut)
        try await h.next("run.failed", of: run.id)
        let failed = try await h.engine.getRun(run.id)
        #expect(failed.failure?.kind == .timeout)
        #expect(failed.failure?.message.contains("within 5s") == true)
        #expect(failed.failure?.hint.contains("timeoutSeconds") == true)

        _ = try await h.engine.retry(RunRetryRequest(runId: run.id))
        try await h.nextLaunch("a", attempt: 2).handle.finish(.completed(output: "ok"))
        let c = try await h.nextLaunch("c", attempt: 1)
        #expect(c.invocation.executable == "/bin/sh" && c.invocation.arguments == ["-c", "echo hi"])
        #expect(c.invocation.makeReader() is PlainOutputReader)
        c.handle.finish(.completed(output: "hi\n"))
        try await h.next("run.completed", of: run.id)
    }

    @Test func aLaunchErrorFailsTheRun() async throws {
        let h = try await EngineHarness.make()
        h.launcher.launchError = POSIXError(.ENOENT)
        let run = try await h.start("flow", inputs: ["lang": "c"])
        try await h.next("run.failed", of: run.id)
        let failed = try await h.engine.getRun(run.id)
        #expect(failed.failure?.kind == .agent)
        #expect(failed.failure?.message.contains("Could not start /opt/drover/bin/drover") == true)
    }

    @Test func unknownIdsAreNotFound() async throws {
        let h = try await EngineHarness.make()
        let run = try await h.start("gated")
        let cases: [(String, () async throws -> Any)] = [
            ("run/get", { try await h.engine.getRun("r-missing") }),
            ("run/events", { try await h.engine.events(RunEventsRequest(runId: "r-missing")) }),
            ("run/cancel", { try await h.engine.cancel(RunCancelRequest(runId: "r-missing")) }),
            ("run/retry", { try await h.engine.retry(RunRetryRequest(runId: "r-missing")) }),
            ("run/restart", { try await h.engine.restart(RunRestartRequest(runId: "r-missing", fromStep: "a")) }),
            ("decision", { try await h.engine.resolveDecision(DecisionResolveRequest(runId: run.id, decisionId: "d-x-1", choice: "a")) }),
            ("approve", { try await h.engine.approve(StepApproveRequest(runId: run.id, approvalId: "a-x-1")) }),
            ("requestChanges", { try await h.engine.requestChanges(StepRequestChangesRequest(runId: run.id, approvalId: "a-x-1", feedback: "f")) }),
            ("reject", { try await h.engine.reject(StepRejectRequest(runId: run.id, approvalId: "a-x-1")) }),
            ("step/log", { try await h.engine.stepLog(StepLogRequest(runId: run.id, stepId: "zz")) }),
            ("run/start", { try await h.start("no-such-pipeline") }),
        ]
        for (name, call) in cases {
            let error = await h.expectError(call)
            #expect(error?.code == .notFound, "\(name): \(String(describing: error))")
        }
    }

    @Test func runStartChecksItsParams() async throws {
        let h = try await EngineHarness.make(files: ["config/pipelines/broken.json": #"{"name": "B", "steps": [{"id": "x", "kind": "agent", "role": "r"}]}"#])
        let missingInput = await h.expectError { try await h.start("flow") }
        #expect(missingInput?.code == .invalidParams && missingInput?.message.contains("{{inputs.lang}}") == true)
        let empty = await h.expectError { try await h.start("flow", task: " \n\t ", inputs: ["lang": "c"]) }
        #expect(empty?.code == .invalidParams)
        let broken = await h.expectError { try await h.start("broken") }
        #expect(broken?.code == .invalidParams)
        #expect(broken?.message.contains("step 1 ('x'): field 'prompt' is required for agent steps") == true)
        let listed = await h.engine.listPipelines()
        #expect(listed.first { $0.id == "broken" }?.errors.isEmpty == false)
        #expect(listed.contains { $0.id == "demo" && $0.source == .builtin })
    }

    @Test func aRoleWithoutAnAgentIsExplainedAtStart() async throws {
        let h = try await EngineHarness.make()
        let error = await h.expectError { try await h.start("implement") }
        #expect(error?.code == .invalidParams)
        let message = error?.message ?? ""
        #expect(message.contains("'planner'") && message.contains("'implementer'") && message.contains("'auditor'") && message.contains("'reporter'"))
        #expect(message.contains(#"{"agents": {"#))
        #expect(message.contains(h.configDirectory.appendingPathComponent("config.json").path))
    }

    @Test func userConfiguredAgentsRunWithoutTrust() async throws {
        let config = #"{"agents": {"planner": {"driver": "command", "command": "sh", "args": ["-c", "cat"], "model": "big"}, "implementer": {"driver": "fake", "script": [[{"result": "i"}]]}, "auditor": {"driver": "fake", "script": [[{"result": "a"}]]}, "reporter": {"driver": "fake", "script": [[{"result": "r"}]]}}}"#
        let h = try await EngineHarness.make(files: ["config/config.json": config])
        let run = try await h.start("implement", task: "add a flag")
        let plan = try await h.nextLaunch("plan", attempt: 1)
        #expect(plan.invocation.executable == "sh") // the launcher looks it up on the agent's PATH
        #expect(plan.invocation.arguments == ["-c", "cat"])
        #expect(plan.invocation.environment["DROVER_MODEL"] == "big")
        #expect(plan.invocation.prompt.contains("Task: add a flag"))
        plan.handle.finish(.completed(output: "1. do it"))
        try await h.next("approval.requested", of: run.id)
    }

    @Test func workspacePipelinesAndConfigNeedTrust() async throws {
        let h = try await EngineHarness.make(files: [
            "ws/.drover/pipelines/local.json": #"{"name": "Local", "steps": [{"id": "x", "kind": "command", "command": "make"}]}"#,
        ])
        #expect(await h.engine.isTrusted() == false)
        let refused = await h.expectError { try await h.start("local") }
        #expect(refused?.code == .untrusted)
        #expect(refused?.message == "Workspace \(h.workspace.path) is not trusted: its pipelines and config can run commands. Trust it with `drover trust` in that folder, or accept the editor's prompt (workspace/trust).")
        #expect(refused?.kind == .untrusted)

        #expect(try await h.engine.setTrust(true))
        let run = try await h.start("local")
        try await h.nextLaunch("x", attempt: 1).handle.finish(.completed(output: ""))
        try await h.next("run.completed", of: run.id)
        #expect(try await h.engine.setTrust(false) == false)
    }

    @Test func aBuiltinPipelineWithAgentsFromTheWorkspaceConfigNeedsTrust() async throws {
        let config = #"{"agents": {"planner": {"driver": "command", "command": "/bin/true"}, "implementer": {"driver": "command", "command": "/bin/true"}, "auditor": {"driver": "command", "command": "/bin/true"}, "reporter": {"driver": "command", "command": "/bin/true"}}}"#
        let h = try await EngineHarness.make(files: ["ws/.drover/config.json": config])
        let refused = await h.expectError { try await h.start("implement") }
        #expect(refused?.code == .untrusted)
        #expect(refused?.details["reason"]?.stringValue?.contains("config.json") == true)
        // The demo uses only fake agents: no trust needed.
        _ = try await h.start("demo")
    }

    @Test func theDemoPipelineRunsOnTheFakeAgent() async throws {
        let h = try await EngineHarness.make()
        let run = try await h.start("demo", task: "show me")
        let plan = try await h.nextLaunch("plan", attempt: 1)
        let script = try #require(plan.invocation.environment["DROVER_FAKE_SCRIPT"])
        #expect(script.contains("\"ask\"") && script.contains("{{prompt}}"))
        plan.handle.finish(.decision(question: "How thorough should the plan be?", options: ["quick", "thorough"]))
        try await h.next("decision.requested", of: run.id)
        _ = try await h.engine.resolveDecision(DecisionResolveRequest(runId: run.id, decisionId: "d-plan-1", choice: "quick"))
        let second = try await h.nextLaunch("plan", attempt: 2)
        #expect(second.invocation.prompt.contains("→ quick"))
    }

    @Test func resumeReRunsAStepLeftWorkingAndKeepsBlockedRunsAnswerable() async throws {
        let first = try await EngineHarness.make()
        let working = try await first.start("flow", inputs: ["lang": "c"])
        _ = try await first.nextLaunch("a", attempt: 1) // never finishes: the engine "dies" here
        let blocked = try await first.start("gated")
        try await first.nextLaunch("a", attempt: 1).handle.finish(.completed(output: "proposal"))
        try await first.next("approval.requested", of: blocked.id)

        let second = try await EngineHarness.make(store: first.store, dir: first.dir)
        await second.engine.resumeInterruptedRuns()
        let interrupted = try await second.next("step.interrupted", of: working.id)
        #expect(interrupted.body == .stepInterrupted(.init(stepId: "a", attempt: 1)))
        let rerun = try await second.nextLaunch("a", attempt: 2)
        #expect(rerun.invocation.environment["DROVER_RUN_ID"] == working.id)
        rerun.handle.finish(.completed(output: "a"))
        try await second.nextLaunch("b", attempt: 1).handle.finish(.completed(output: "b"))
        try await second.next("run.completed", of: working.id)
        await second.engine.waitUntilIdle()
        #expect(second.launcher.all.count == 2, "the blocked run does not start anything")
        #expect(try await second.engine.inbox().items.map(\.id) == ["a-a-1"])
        _ = try await second.engine.approve(StepApproveRequest(runId: blocked.id, approvalId: "a-a-1"))
        let b = try await second.nextLaunch("b", attempt: 1)
        #expect(b.invocation.environment["DROVER_RUN_ID"] == blocked.id)
        b.handle.finish(.completed(output: "b"))
        try await second.next("run.completed", of: blocked.id)
    }

    @Test func resumingOneRunLeavesTheOthersAlone() async throws {
        let first = try await EngineHarness.make()
        let mine = try await first.start("flow", inputs: ["lang": "c"])
        _ = try await first.nextLaunch("a", attempt: 1) // the engine "dies" with both runs mid-step
        let other = try await first.start("flow", inputs: ["lang": "c"])
        _ = try await first.nextLaunch("a", attempt: 1)

        let second = try await EngineHarness.make(store: first.store, dir: first.dir)
        let resumed = try await second.engine.resumeInterruptedRun(mine.id)
        #expect(resumed.steps[0].state == .pending || resumed.steps[0].state == .working)
        let rerun = try await second.nextLaunch("a", attempt: 2)
        #expect(rerun.invocation.environment["DROVER_RUN_ID"] == mine.id)
        rerun.handle.finish(.completed(output: "a"))
        try await second.nextLaunch("b", attempt: 1).handle.finish(.completed(output: "b"))
        try await second.next("run.completed", of: mine.id)
        await second.engine.waitUntilIdle()
        #expect(second.launcher.all.count == 2, "the other run is not resumed")
        #expect(try await second.engine.getRun(other.id).steps[0].state == .working)
        let done = try await second.engine.resumeInterruptedRun(mine.id)
        #expect(done.status == .done, "a finished run is returned unchanged")
        let missing = await second.expectError { try await second.engine.resumeInterruptedRun("r-missing") }
        #expect(missing?.code == .notFound)
    }

    @Test func shutdownInterruptsLiveStepsAndTheNextEngineResumesThem() async throws {
        let first = try await EngineHarness.make()
        let run = try await first.start("flow", inputs: ["lang": "c"])
        let a = try await first.nextLaunch("a", attempt: 1)
        await first.engine.shutdown()
        #expect(a.handle.wasTerminated)
        let stopped = try await first.engine.getRun(run.id)
        #expect(stopped.status == .running && stopped.steps[0].state == .pending)
        #expect(first.store.allEvents(run.id).last?.type == "step.interrupted")

        let second = try await EngineHarness.make(store: first.store, dir: first.dir)
        await second.engine.resumeInterruptedRuns()
        try await second.nextLaunch("a", attempt: 2).handle.finish(.completed(output: "A"))
        try await second.nextLaunch("b", attempt: 1).handle.finish(.completed(output: "B"))
        try await second.next("run.completed", of: run.id)
        #expect(second.store.allEvents(run.id).filter { $0.type == "step.interrupted" }.count == 1)
    }

    @Test func stepLogReadsTheAttemptsFileInSlices() async throws {
        let h = try await EngineHarness.make()
        let run = try await h.start("flow", inputs: ["lang": "c"])
        let a = try await h.nextLaunch("a", attempt: 1)
        try FileManager.default.createDirectory(at: a.invocation.logFile.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("héllo world\n".utf8).write(to: a.invocation.logFile)
        let live = try await h.engine.stepLog(StepLogRequest(runId: run.id, stepId: "a", offset: 0, limit: 2))
        #expect(live.text == "h" && live.nextOffset == 1 && !live.eof, "never splits a UTF-8 character")
        let rest = try await h.engine.stepLog(StepLogRequest(runId: run.id, stepId: "a", offset: live.nextOffset))
        #expect(rest.text == "éllo world\n" && !rest.eof, "still running: not eof")
        a.handle.finish(.completed(output: "x"))
        try await h.next("step.completed", of: run.id)
        let done = try await h.engine.stepLog(StepLogRequest(runId: run.id, stepId: "a", attempt: 1, offset: rest.nextOffset))
        #expect(done.text.isEmpty && done.eof)
        let noAttempt = await h.expectError { try await h.engine.stepLog(StepLogRequest(runId: run.id, stepId: "a", attempt: 7)) }
        #expect(noAttempt?.code == .notFound)
    }

    @Test func runListPagesNewestFirstWithoutOutputs() async throws {
        let h = try await EngineHarness.make(autoReply: { _ in .completed(output: "out") })
        var ids: [String] = []
        for _ in 0..<3 {
            let run = try await h.start("flow", inputs: ["lang": "c"])
            try await h.next("run.completed", of: run.id)
            ids.append(run.id)
        }
        let first = try await h.engine.listRuns(RunListRequest(limit: 2))
        #expect(first.runs.count == 2 && first.nextCursor != nil)
        #expect(first.runs.allSatisfy { $0.steps.allSatisfy { $0.output == nil } })
        let second = try await h.engine.listRuns(RunListRequest(limit: 2, cursor: first.nextCursor))
        #expect(second.runs.count == 1 && second.nextCursor == nil)
        #expect(Set((first.runs + second.runs).map(\.id)) == Set(ids))
        let done = try await h.engine.listRuns(RunListRequest(status: [.failed]))
        #expect(done.runs.isEmpty)
        let badLimit = await h.expectError { try await h.engine.listRuns(RunListRequest(limit: 0)) }
        #expect(badLimit?.code == .invalidParams)
        #expect(ids.allSatisfy { Identifiers.isValidID($0) && $0.hasPrefix("r-") })
    }
}
