import Foundation
import Testing

/// Gates over the wire: decisions, approvals, change requests, rejections, retries and restarts,
/// against the real `drover serve` and the real `drover agent-fake` subprocess. The fake agents
/// echo `{{prompt}}` into their output, so what the engine told a re-run is visible in events.
@Suite("End to end: engine gates")
struct EngineGatesEndToEndTests {
    private static var decisionPipeline: [String: Any] { FakePipeline.pipeline([
        FakePipeline.step("plan", prompt: "Plan {{task}}", turns: [
            [["say": "thinking"], ["ask": ["question": "Which database?", "options": ["sqlite", "postgres"]]]],
            [["result": "P2 {{prompt}}"]],
        ]),
        FakePipeline.step("impl", prompt: "Implement {{previous.output}}", turns: [[["result": "I {{prompt}}"]]]),
    ]) }

    private static var approvalPipeline: [String: Any] { FakePipeline.pipeline([
        FakePipeline.step("plan", prompt: "Plan {{task}}",
                          turns: [[["result": "P1 {{prompt}}"]], [["result": "P2 {{prompt}}"]], [["result": "P3 {{prompt}}"]]],
                          requiresApproval: true),
        FakePipeline.step("impl", prompt: "Implement:\n{{steps.plan.output}}", turns: [[["result": "I {{prompt}}"]]]),
    ]) }

    @Test("a decision: blocked, in the inbox, resolved; the choice reaches the re-run agent")
    func decisionResolved() async throws {
        let workspace = try EngineWorkspace(pipelines: ["dec": Self.decisionPipeline])
        let drover = try await workspace.server()
        let start = try await drover.call(tag: "start", "run/start", ["pipelineId": "dec", "task": "add caching"])
        let runId = (start["run"] as? [String: Any] ?? [:]).string("id")
        let requested = try await drover.event(runId, "decision.requested")
        // The run/start response is written before the run's first event.
        let created = try await drover.event(runId, "run.created")
        #expect(created["seq"] as? Int == 1)
        #expect(try #require(drover.wireIndex(ofResponse: "start")) < (try #require(drover.wireIndex(ofEvent: runId, seq: 1))))

        let decisionId = requested.data.string("decisionId")
        #expect(decisionId == "d-plan-1")
        #expect(requested.data.string("question") == "Which database?")
        #expect(requested.data["options"] as? [String] == ["sqlite", "postgres"])
        let blocked = try await drover.getRun(runId)
        #expect(blocked.string("status") == "blocked")
        #expect(blocked.step("plan").string("state") == "waiting")
        #expect(blocked.step("plan").object("decision").string("id") == decisionId)

        let inbox = try await drover.call("inbox/list")["items"] as? [[String: Any]] ?? []
        let item = try #require(inbox.first { $0.string("runId") == runId })
        #expect(item.string("kind") == "decision")
        #expect(item.string("id") == decisionId)
        #expect(item.string("stepId") == "plan")
        #expect(item.string("question") == "Which database?")
        #expect(item["options"] as? [String] == ["sqlite", "postgres"])

        let resolved = try await drover.call(tag: "resolve", "decision/resolve",
                                             ["runId": runId, "decisionId": decisionId, "choice": "postgres"])
        let run = resolved["run"] as? [String: Any] ?? [:]
        #expect(run.string("status") == "running")
        #expect(run.step("plan").object("decision").string("chosen") == "postgres")
        let resolvedEvent = try await drover.event(runId, "decision.resolved")
        #expect(resolvedEvent.data.string("choice") == "postgres")
        #expect(try #require(drover.wireIndex(ofResponse: "resolve"))
                < (try #require(drover.wireIndex(ofEvent: runId, seq: resolvedEvent["seq"] as? Int ?? -1))))

        try await drover.event(runId, "step.started") { $0.data.string("stepId") == "plan" && $0.data["attempt"] as? Int == 2 }
        let completed = try await drover.event(runId, "step.completed") { $0.data.string("stepId") == "plan" }
        let output = completed.data.string("output")
        #expect(output.hasPrefix("P2 Plan add caching"))
        #expect(output.contains("Which database?"), "the re-run's prompt names the question: \(output)")
        #expect(output.contains("postgres"), "the re-run's prompt carries the choice: \(output)")
        let impl = try await drover.event(runId, "step.completed") { $0.data.string("stepId") == "impl" }
        #expect(impl.data.string("output").hasPrefix("I Implement P2 Plan add caching"))
        try await drover.event(runId, "run.completed")
        let inboxAfter = try await drover.call("inbox/list")["items"] as? [[String: Any]] ?? []
        #expect(inboxAfter.isEmpty, "\(inboxAfter)")
        #expect(try await drover.shutdownAndExit() == 0)
        #expect(drover.protocolViolations.isEmpty, "\(drover.protocolViolations)")
    }

    @Test("a change request: the feedback and the previous proposal reach the re-run agent, which raises a new approval")
    func changeRequest() async throws {
        let workspace = try EngineWorkspace(pipelines: ["appr": Self.approvalPipeline])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("appr", task: "fix the bug").string("id")
        let first = try await drover.event(runId, "approval.requested")
        #expect(first.data.string("approvalId") == "a-plan-1")
        #expect(first.data.string("proposal") == "P1 Plan fix the bug")
        let inbox = try await drover.call("inbox/list")["items"] as? [[String: Any]] ?? []
        let item = try #require(inbox.first { $0.string("runId") == runId })
        #expect(item.string("kind") == "approval")
        #expect(item.string("id") == "a-plan-1")
        #expect(item.string("proposal") == "P1 Plan fix the bug")

        let sentBack = try await drover.call(tag: "changes", "step/requestChanges",
                                             ["runId": runId, "approvalId": "a-plan-1", "feedback": "cover the edge cases"])
        let run = sentBack["run"] as? [String: Any] ?? [:]
        #expect(run.string("status") == "running")
        #expect(run.step("plan").object("approval").string("status") == "changes_requested")
        #expect(run.step("plan").object("approval").string("feedback") == "cover the edge cases")
        let resolved = try await drover.event(runId, "approval.resolved")
        #expect(resolved.data.string("status") == "changes_requested")
        #expect(resolved.data.string("feedback") == "cover the edge cases")
        #expect(try #require(drover.wireIndex(ofResponse: "changes"))
                < (try #require(drover.wireIndex(ofEvent: runId, seq: resolved["seq"] as? Int ?? -1))))

        try await drover.event(runId, "step.started") { $0.data.string("stepId") == "plan" && $0.data["attempt"] as? Int == 2 }
        let second = try await drover.event(runId, "approval.requested")
        #expect(second.data.string("approvalId") == "a-plan-2")
        let proposal = second.data.string("proposal")
        #expect(proposal.hasPrefix("P2 Plan fix the bug"))
        #expect(proposal.contains("cover the edge cases"), "feedback in the re-run's prompt: \(proposal)")
        #expect(proposal.contains("P1 Plan fix the bug"), "previous proposal in the re-run's prompt: \(proposal)")

        // The old gate's re-run is in flight (now answered by a-plan-2): every action on it conflicts.
        for (method, extra) in [("step/approve", [String: Any]()), ("step/requestChanges", ["feedback": "more"]),
                                ("step/reject", ["reason": "no"])] {
            let error = try await drover.callError(method, ["runId": runId, "approvalId": "a-plan-1"].merging(extra) { a, _ in a })
            #expect(error.code == -33002, "\(method): \(error)")
            #expect(error.kind == "conflict", "\(method): \(error)")
            #expect(error.message.contains("a-plan-2"), "the conflict names the new gate: \(error)")
        }

        try await drover.call("step/approve", ["runId": runId, "approvalId": "a-plan-2"])
        let impl = try await drover.event(runId, "step.completed") { $0.data.string("stepId") == "impl" }
        #expect(impl.data.string("output").contains(proposal))
        try await drover.event(runId, "run.completed")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("an approval with an edited proposal: the edit flows downstream; later actions on the gate")
    func editedApproval() async throws {
        let workspace = try EngineWorkspace(pipelines: ["appr": Self.approvalPipeline])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("appr", task: "ship it").string("id")
        try await drover.event(runId, "approval.requested")
        let edited = "EDITED PLAN: step one, step two"
        let approved = try await drover.call(tag: "approve", "step/approve",
                                             ["runId": runId, "approvalId": "a-plan-1", "proposal": edited])
        let approvedRun = approved["run"] as? [String: Any] ?? [:]
        #expect(approvedRun.step("plan").string("state") == "done")
        #expect(approvedRun.step("plan").string("output") == edited)
        #expect(approvedRun.step("plan").object("approval").string("status") == "approved")
        let resolved = try await drover.event(runId, "approval.resolved")
        #expect(resolved.data.string("status") == "approved")
        #expect(resolved.data.string("proposal") == edited)
        let planDone = try await drover.event(runId, "step.completed") { $0.data.string("stepId") == "plan" }
        #expect(planDone.data.string("output") == edited)
        #expect(try #require(drover.wireIndex(ofResponse: "approve"))
                < (try #require(drover.wireIndex(ofEvent: runId, seq: resolved["seq"] as? Int ?? -1))))
        let impl = try await drover.event(runId, "step.completed") { $0.data.string("stepId") == "impl" }
        #expect(impl.data.string("output") == "I Implement:\n\(edited)")
        try await drover.event(runId, "run.completed")
        let done = try await drover.getRun(runId)
        #expect(done.string("status") == "done")
        let lastSeq = done["lastSeq"] as? Int

        // Approving again is a no-op that returns the same run.
        let again = try await drover.call("step/approve", ["runId": runId, "approvalId": "a-plan-1"])
        #expect((again["run"] as? [String: Any])?["lastSeq"] as? Int == lastSeq)
        #expect((again["run"] as? [String: Any])?.string("status") == "done")
        // requestChanges / reject on an approved gate conflict.
        for (method, extra) in [("step/requestChanges", ["feedback": "redo"]), ("step/reject", ["reason": "no"])] {
            let error = try await drover.callError(method, ["runId": runId, "approvalId": "a-plan-1"].merging(extra) { a, _ in a })
            #expect(error.code == -33002, "\(method): \(error)")
            #expect(error.kind == "conflict", "\(method): \(error)")
            #expect(error.message.contains("approved"), "the message says the state: \(error)")
        }
        #expect(try await drover.getRun(runId)["lastSeq"] as? Int == lastSeq)
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("a rejection fails the run with kind rejected; run/retry re-runs the step with the reason and the run completes")
    func rejectionAndRetry() async throws {
        let workspace = try EngineWorkspace(pipelines: ["appr": Self.approvalPipeline])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("appr", task: "refactor").string("id")
        try await drover.event(runId, "approval.requested")
        let rejected = try await drover.call(tag: "reject", "step/reject",
                                             ["runId": runId, "approvalId": "a-plan-1", "reason": "wrong approach entirely"])
        let run = rejected["run"] as? [String: Any] ?? [:]
        #expect(run.string("status") == "failed")
        #expect(run.step("plan").string("state") == "failed")
        let failure = run.object("failure")
        #expect(failure.string("kind") == "rejected")
        #expect(failure.string("stepId") == "plan")
        #expect(failure.string("message").contains("wrong approach entirely"))
        #expect(!failure.string("hint").isEmpty)
        let resolved = try await drover.event(runId, "approval.resolved")
        #expect(resolved.data.string("status") == "rejected")
        #expect(resolved.data.string("feedback") == "wrong approach entirely")
        let failed = try await drover.event(runId, "run.failed")
        #expect(failed.data.object("failure").string("kind") == "rejected")
        #expect(try #require(drover.wireIndex(ofResponse: "reject"))
                < (try #require(drover.wireIndex(ofEvent: runId, seq: resolved["seq"] as? Int ?? -1))))
        let lastSeq = run["lastSeq"] as? Int

        // Rejecting again returns the run unchanged; approve / requestChanges conflict.
        let again = try await drover.call("step/reject", ["runId": runId, "approvalId": "a-plan-1", "reason": "still no"])
        #expect((again["run"] as? [String: Any])?["lastSeq"] as? Int == lastSeq)
        for (method, extra) in [("step/approve", [String: Any]()), ("step/requestChanges", ["feedback": "redo"])] {
            let error = try await drover.callError(method, ["runId": runId, "approvalId": "a-plan-1"].merging(extra) { a, _ in a })
            #expect(error.code == -33002, "\(method): \(error)")
            #expect(error.kind == "conflict", "\(method): \(error)")
            #expect(error.message.contains("run/retry"), "the message says what to do: \(error)")
        }
        // run/cancel is idempotent on a failed run: unchanged, the first failure kept.
        let cancel = try await drover.call("run/cancel", ["runId": runId])
        #expect((cancel["run"] as? [String: Any])?["lastSeq"] as? Int == lastSeq)
        #expect((cancel["run"] as? [String: Any])?.object("failure").string("kind") == "rejected")

        let retried = try await drover.call(tag: "retry", "run/retry", ["runId": runId])
        let retriedRun = retried["run"] as? [String: Any] ?? [:]
        #expect(retriedRun.string("status") == "running")
        #expect(retriedRun["failure"] == nil)
        let retryEvent = try await drover.event(runId, "run.retried")
        #expect(retryEvent.data.string("fromStep") == "plan")
        try await drover.event(runId, "step.started") { $0.data.string("stepId") == "plan" && $0.data["attempt"] as? Int == 2 }
        let second = try await drover.event(runId, "approval.requested") { $0.data.string("approvalId") == "a-plan-2" }
        #expect(second.data.string("proposal").hasPrefix("P2 Plan refactor"))
        #expect(second.data.string("proposal").contains("wrong approach entirely"), "the reason reaches the re-run")
        // Retrying a run that is not failed or cancelled is a conflict.
        let notFailed = try await drover.callError("run/retry", ["runId": runId])
        #expect(notFailed.code == -33002 && notFailed.kind == "conflict", "\(notFailed)")
        #expect(notFailed.message.contains("blocked"), "\(notFailed)")

        try await drover.call("step/approve", ["runId": runId, "approvalId": "a-plan-2"])
        try await drover.event(runId, "run.completed")
        #expect(try await drover.getRun(runId).string("status") == "done")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("run/restart from an earlier step re-runs it and the later steps, not the earlier ones")
    func restartFromEarlierStep() async throws {
        let pipeline = FakePipeline.pipeline([
            FakePipeline.step("a", prompt: "A {{task}}", turns: [[["result": "a#{{attempt}}"]]]),
            FakePipeline.step("b", prompt: "B after {{previous.output}}", turns: [[["result": "b#{{attempt}} <{{prompt}}>"]]]),
            FakePipeline.step("c", prompt: "C after {{steps.b.output}}", turns: [[["result": "c#{{attempt}}"]]]),
        ])
        let workspace = try EngineWorkspace(pipelines: ["abc": pipeline])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("abc").string("id")
        try await drover.event(runId, "run.completed")
        let done = try await drover.getRun(runId)
        #expect(done.step("b").string("output") == "b#1 <B after a#1>")

        // Restarting from a step that does not exist is not found.
        let missing = try await drover.callError("run/restart", ["runId": runId, "fromStep": "zz"])
        #expect(missing.code == -33001 && missing.kind == "not_found", "\(missing)")

        let restarted = try await drover.call(tag: "restart", "run/restart", ["runId": runId, "fromStep": "b"])
        let run = restarted["run"] as? [String: Any] ?? [:]
        #expect(run.string("status") == "running")
        #expect(run.step("a").string("state") == "done")
        #expect(run.step("b").string("state") == "pending")
        #expect(run.step("c").string("state") == "pending")
        let event = try await drover.event(runId, "run.restarted")
        #expect(event.data.string("fromStep") == "b")
        #expect(try #require(drover.wireIndex(ofResponse: "restart"))
                < (try #require(drover.wireIndex(ofEvent: runId, seq: event["seq"] as? Int ?? -1))))
        try await drover.event(runId, "step.started") { $0.data.string("stepId") == "b" && $0.data["attempt"] as? Int == 2 }
        try await drover.event(runId, "step.started") { $0.data.string("stepId") == "c" && $0.data["attempt"] as? Int == 2 }
        try await drover.event(runId, "run.completed")
        let after = try await drover.getRun(runId)
        #expect(after.string("status") == "done")
        #expect(after.step("a")["attempts"] as? Int == 1)
        #expect(after.step("a").string("output") == "a#1")
        #expect(after.step("b").string("output") == "b#2 <B after a#1>")
        #expect(after.step("c").string("output") == "c#2")
        let startedA = drover.notifiedEvents(runId).filter { $0.string("type") == "step.started" && $0.data.string("stepId") == "a" }
        #expect(startedA.count == 1, "step a ran once: \(startedA)")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("run/restart of a blocked run: its open gate closes, the step re-runs and raises a new one")
    func restartBlockedRun() async throws {
        let workspace = try EngineWorkspace(pipelines: ["appr": Self.approvalPipeline])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("appr", task: "t").string("id")
        try await drover.event(runId, "approval.requested")
        // fromStep after the first unfinished step is a conflict.
        let tooLate = try await drover.callError("run/restart", ["runId": runId, "fromStep": "impl"])
        #expect(tooLate.code == -33002 && tooLate.kind == "conflict", "\(tooLate)")
        #expect(tooLate.message.contains("plan"), "\(tooLate)")

        let restarted = try await drover.call("run/restart", ["runId": runId, "fromStep": "plan"])
        #expect((restarted["run"] as? [String: Any])?.string("status") == "running")
        try await drover.event(runId, "run.restarted")
        let fresh = try await drover.event(runId, "approval.requested") { $0.data.string("approvalId") == "a-plan-2" }
        #expect(fresh.data.string("proposal") == "P2 Plan t", "a restart starts the step afresh, without earlier context")
        // The closed gate answers per the table: every action conflicts and points at the new gate.
        for (method, extra) in [("step/approve", [String: Any]()), ("step/requestChanges", ["feedback": "x"]),
                                ("step/reject", [String: Any]())] {
            let error = try await drover.callError(method, ["runId": runId, "approvalId": "a-plan-1"].merging(extra) { a, _ in a })
            #expect(error.code == -33002 && error.kind == "conflict", "\(method): \(error)")
            #expect(error.message.contains("a-plan-2"), "\(method): \(error)")
        }
        try await drover.call("step/approve", ["runId": runId, "approvalId": "a-plan-2"])
        try await drover.event(runId, "run.completed")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("decision conflicts, unknown ids and bad params, with their codes and data.kind")
    func conflictsUnknownIdsAndBadParams() async throws {
        let workspace = try EngineWorkspace(pipelines: ["dec": Self.decisionPipeline])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("dec").string("id")
        try await drover.event(runId, "decision.requested")

        // A choice outside the options: -32602 listing them; nothing recorded.
        let outside = try await drover.callError("decision/resolve", ["runId": runId, "decisionId": "d-plan-1", "choice": "mongo"])
        #expect(outside.code == -32602, "\(outside)")
        #expect(outside.data?["options"] as? [String] == ["sqlite", "postgres"])
        #expect(try await drover.getRun(runId).string("status") == "blocked")

        try await drover.call("decision/resolve", ["runId": runId, "decisionId": "d-plan-1", "choice": "sqlite"])
        try await drover.event(runId, "run.completed")
        let lastSeq = try await drover.getRun(runId)["lastSeq"] as? Int
        // The same choice again is a no-op; another choice is a conflict.
        let same = try await drover.call("decision/resolve", ["runId": runId, "decisionId": "d-plan-1", "choice": "sqlite"])
        #expect((same["run"] as? [String: Any])?["lastSeq"] as? Int == lastSeq)
        let other = try await drover.callError("decision/resolve", ["runId": runId, "decisionId": "d-plan-1", "choice": "postgres"])
        #expect(other.code == -33002 && other.kind == "conflict", "\(other)")
        #expect(other.message.contains("sqlite"), "the message says the current answer: \(other)")
        #expect(try await drover.getRun(runId)["lastSeq"] as? Int == lastSeq)

        // Unknown ids: -33001 with data.kind not_found.
        let unknown: [(String, [String: Any])] = [
            ("run/get", ["runId": "r-20000101-000000-nope0"]),
            ("run/events", ["runId": "r-20000101-000000-nope0"]),
            ("run/cancel", ["runId": "r-20000101-000000-nope0"]),
            ("run/retry", ["runId": "r-20000101-000000-nope0"]),
            ("run/restart", ["runId": "r-20000101-000000-nope0", "fromStep": "plan"]),
            ("run/restart", ["runId": runId, "fromStep": "nope"]),
            ("decision/resolve", ["runId": "r-20000101-000000-nope0", "decisionId": "d-plan-1", "choice": "sqlite"]),
            ("decision/resolve", ["runId": runId, "decisionId": "d-plan-9", "choice": "sqlite"]),
            ("step/approve", ["runId": runId, "approvalId": "a-plan-1"]),
            ("step/requestChanges", ["runId": runId, "approvalId": "a-nope-1", "feedback": "x"]),
            ("step/reject", ["runId": runId, "approvalId": "a-nope-1"]),
            ("step/log", ["runId": runId, "stepId": "nope"]),
            ("step/log", ["runId": runId, "stepId": "plan", "attempt": 9]),
            ("step/log", ["runId": "r-20000101-000000-nope0", "stepId": "plan"]),
            ("run/start", ["pipelineId": "no-such-pipeline", "task": "x"]),
        ]
        for (method, params) in unknown {
            let error = try await drover.callError(method, params)
            #expect(error.code == -33001, "\(method) \(params): \(error)")
            #expect(error.kind == "not_found", "\(method) \(params): \(error)")
        }

        // Bad params: -32602 whose message names the member.
        let bad: [(String, [String: Any], String)] = [
            ("run/start", ["task": "x"], "pipelineId"),
            ("run/start", ["pipelineId": 7, "task": "x"], "pipelineId"),
            ("run/start", ["pipelineId": "dec"], "task"),
            ("run/start", ["pipelineId": "dec", "task": "   "], "task"),
            ("run/get", [:], "runId"),
            ("run/get", ["runId": 5], "runId"),
            ("run/events", ["runId": runId, "afterSeq": "3"], "afterSeq"),
            ("run/events", ["runId": runId, "limit": 0], "limit"),
            ("run/events", ["runId": runId, "afterSeq": -1], "afterSeq"),
            ("run/restart", ["runId": runId], "fromStep"),
            ("decision/resolve", ["runId": runId, "decisionId": "d-plan-1"], "choice"),
            ("decision/resolve", ["runId": runId, "decisionId": ["d-plan-1"], "choice": "sqlite"], "decisionId"),
            ("step/approve", ["runId": runId], "approvalId"),
            ("step/approve", ["runId": runId, "approvalId": "a-plan-1", "proposal": 3], "proposal"),
            ("step/requestChanges", ["runId": runId, "approvalId": "a-plan-1"], "feedback"),
            ("step/reject", ["runId": runId, "approvalId": true], "approvalId"),
            ("step/log", ["runId": runId, "stepId": "plan", "offset": "0"], "offset"),
            ("run/list", ["limit": 0], "limit"),
            ("workspace/trust", [:], "trusted"),
        ]
        for (method, params, member) in bad {
            let error = try await drover.callError(method, params)
            #expect(error.code == -32602, "\(method) \(params): \(error)")
            #expect(error.message.contains(member), "\(method) \(params): the message names '\(member)': \(error)")
        }
        #expect(try await drover.getRun(runId)["lastSeq"] as? Int == lastSeq)
        #expect(try await drover.shutdownAndExit() == 0)
        #expect(drover.protocolViolations.isEmpty, "\(drover.protocolViolations)")
    }

    @Test("while a change request's re-run is in flight, every action on its gate is a conflict")
    func actionsWhileRerunInFlight() async throws {
        let pipeline = FakePipeline.pipeline([
            FakePipeline.step("plan", prompt: "Plan", turns: [[["result": "P1"]], [["say": "revising"], ["hang": true]]],
                              requiresApproval: true),
        ])
        let workspace = try EngineWorkspace(pipelines: ["slow": pipeline])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("slow").string("id")
        try await drover.event(runId, "approval.requested")
        try await drover.call("step/requestChanges", ["runId": runId, "approvalId": "a-plan-1", "feedback": "again"])
        try await drover.logLine(runId, "revising")
        let running = try await drover.getRun(runId)
        #expect(running.string("status") == "running")
        #expect(running.step("plan").string("state") == "working")
        for (method, extra) in [("step/approve", [String: Any]()), ("step/requestChanges", ["feedback": "more"]),
                                ("step/reject", ["reason": "no"])] {
            let error = try await drover.callError(method, ["runId": runId, "approvalId": "a-plan-1"].merging(extra) { a, _ in a })
            #expect(error.code == -33002 && error.kind == "conflict", "\(method): \(error)")
            #expect(error.message.contains("re-running"), "the message says the state: \(error)")
        }
        #expect(try await drover.getRun(runId)["lastSeq"] as? Int == running["lastSeq"] as? Int)
        try await drover.call("run/cancel", ["runId": runId])
        #expect(await workspace.waitForNoAgents().isEmpty)
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("a workspace pipeline needs trust: -33003 before workspace/trust, then it runs")
    func trustRequired() async throws {
        let workspace = try EngineWorkspace(pipelines: ["dec": Self.decisionPipeline])
        let drover = try await workspace.server(trust: false)
        let refused = try await drover.callError("run/start", ["pipelineId": "dec", "task": "x"])
        #expect(refused.code == -33003, "\(refused)")
        #expect(refused.kind == "untrusted", "\(refused)")
        #expect(refused.data?["workspace"] as? String == workspace.path)
        #expect(refused.message.contains("drover trust") && refused.message.contains("workspace/trust"), "\(refused)")
        let runs = try await drover.call("run/list")["runs"] as? [Any]
        #expect(runs?.isEmpty == true, "a refused run/start creates no run: \(String(describing: runs))")
        #expect(try await drover.call("workspace/trust", ["trusted": true])["trusted"] as? Bool == true)
        let runId = try await drover.startRun("dec").string("id")
        try await drover.event(runId, "decision.requested")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("blank feedback is -32602 and leaves the approval open")
    func blankFeedback() async throws {
        let workspace = try EngineWorkspace(pipelines: ["appr": Self.approvalPipeline])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("appr").string("id")
        try await drover.event(runId, "approval.requested")
        let error = try await drover.callError("step/requestChanges", ["runId": runId, "approvalId": "a-plan-1", "feedback": "  "])
        #expect(error.code == -32602 && error.message.contains("feedback"), "\(error)")
        let run = try await drover.getRun(runId)
        #expect(run.string("status") == "blocked")
        #expect(run.step("plan").object("approval").string("status") == "pending")
        #expect(try await drover.shutdownAndExit() == 0)
    }
}
