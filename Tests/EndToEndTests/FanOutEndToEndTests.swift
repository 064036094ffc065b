import Foundation
import Testing

/// Fan-out over the real binary and real git: a fake planner lists subtasks, each becomes a child run
/// of another pipeline in its own worktree (through the scheduler), the parent waits blocked, and the
/// children's changes are merged into the parent's worktree in order.
@Suite("End to end: fan-out into child runs")
struct FanOutEndToEndTests {
    /// A parent pipeline: `plan` lists `subtasks` and fans out into `child`; `summary` sees `{{children}}`.
    static func parent(_ subtasks: [String], allowFailures: Bool = false) -> [String: Any] {
        let list = String(decoding: try! JSONSerialization.data(withJSONObject: subtasks), as: UTF8.self)
        var plan = FakePipeline.step("plan", prompt: "Split: {{task}}", turns: [[["result": "Here is the plan:\n```json\n\(list)\n```"]]])
        plan["fanOut"] = ["pipeline": "child", "maxChildren": 8, "allowFailures": allowFailures]
        return FakePipeline.pipeline([plan, FakePipeline.step("summary", prompt: "{{children}}", turns: [[["result": "{{prompt}}"]]])])
    }

    /// A child pipeline whose one step writes `text` to the file its task names, after `sleep` seconds.
    static func child(text: String = "{{prompt}}\n", sleep: Double = 0.3) -> [String: Any] {
        FakePipeline.pipeline([FakePipeline.step("work", prompt: "{{task}}", turns: [[
            ["sleep": sleep], ["write": ["path": "{{prompt}}", "text": text]], ["result": "wrote {{prompt}}"],
        ]])])
    }

    static var twoSlots: [String: Any] { ["concurrency": ["maxRuns": 2]] }

    /// The run ids of `run.created` events with this parent, in the order the client saw them.
    static func children(of parentId: String, in drover: DroverProcess) -> [String] {
        drover.notifications.compactMap { message -> String? in
            guard message["method"] as? String == "run/event", let event = message["params"] as? [String: Any],
                  event.string("type") == "run.created", event.data.string("parentRunId") == parentId else { return nil }
            return event.string("runId")
        }
    }

    @Test("three subtasks → three child runs, never more running than maxRuns; the parent waits blocked, then merges them in order")
    func threeChildren() async throws {
        let workspace = try await GitFixture.workspace(
            pipelines: ["split": Self.parent(["alpha.txt", "beta.txt", "gamma.txt"]), "child": Self.child()], config: Self.twoSlots)
        let drover = try await workspace.server()
        let parentId = try await drover.startRun("split", task: "three files").string("id")
        let children = try await drover.event(parentId, "run.children").data
        let listed = (children["children"] as? [[String: Any]] ?? [])
        #expect(listed.map { $0.string("task") } == ["alpha.txt", "beta.txt", "gamma.txt"])
        try await drover.event(parentId, "run.completed", timeout: .seconds(60))

        let childIds = Self.children(of: parentId, in: drover)
        #expect(childIds == listed.map { $0.string("runId") }, "each child's run.created names its parent")
        // Never more than maxRuns children running at once, from the order of their events.
        var running = 0, most = 0
        for message in drover.notifications {
            guard message["method"] as? String == "run/event", let event = message["params"] as? [String: Any],
                  childIds.contains(event.string("runId")) else { continue }
            switch event.string("type") {
            case "run.started": running += 1; most = max(most, running)
            case "run.completed", "run.failed", "run.cancelled": running -= 1
            default: break
            }
        }
        #expect(most <= 2 && most >= 1, "at most 2 children ran at once; saw \(most)")
        let child = try await drover.getRun(childIds[0])
        #expect(child.string("parentRunId") == parentId && child.string("parentStepId") == "plan")

        let merged = try await drover.storedEvents(parentId).filter { $0.string("type") == "child.merged" }.map(\.data)
        #expect(merged.map { $0.string("childRunId") } == childIds)
        #expect(merged.allSatisfy { $0.string("outcome") == "merged" && !$0.string("commit").isEmpty }, "\(merged)")
        let run = try await drover.getRun(parentId)
        #expect(run.step("plan")["children"] as? [String] == listed.map { $0.string("runId") })
        let parentPath = run.object("workspace").string("path")
        for name in ["alpha.txt", "beta.txt", "gamma.txt"] {
            #expect(GitFixture.read(parentPath + "/" + name) == "\(name)\n", "\(name) is merged into the parent's worktree")
            #expect(GitFixture.read(workspace.path + "/" + name) == nil, "not into the user's tree")
        }
        #expect(run.step("plan").string("output").contains("alpha.txt"), "the fan-out step's output is its list")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(run.step("summary").string("output").utf8)) as? [[String: Any]])
        #expect(summary.map { $0.string("task") } == ["alpha.txt", "beta.txt", "gamma.txt"])
        #expect(summary.allSatisfy { $0.string("status") == "done" && $0.string("merge") == "merged" && $0.string("output").hasPrefix("wrote ") })
        let diff = try await drover.call("run/diff", ["runId": parentId])
        #expect((diff["files"] as? [[String: Any]])?.map { $0.string("path") } == ["alpha.txt", "beta.txt", "gamma.txt"])
        for childId in childIds {
            let place = try await Self.discarded(childId, in: drover).object("workspace")
            #expect(!FileManager.default.fileExists(atPath: place.string("path")) && place["branchDeleted"] as? Bool == true,
                    "a merged child's worktree and branch go: \(place)")
        }
    }

    @Test("children that change the same file: a conflict is a decision; skip leaves one out, retry re-runs it on top of the parent")
    func conflict() async throws {
        let workspace = try await GitFixture.workspace(
            pipelines: ["split": Self.parent(["one", "two", "three"]),
                        "child": FakePipeline.pipeline([FakePipeline.step("work", prompt: "{{task}}", turns: [[
                            ["write": ["path": "shared.txt", "text": "{{prompt}}\n"]], ["result": "{{prompt}}"]]])])],
            config: Self.twoSlots)
        let drover = try await workspace.server()
        let parentId = try await drover.startRun("split").string("id")
        let first = try await drover.event(parentId, "decision.requested", timeout: .seconds(60)).data
        let options = first["options"] as? [String] ?? []
        #expect(options == ["retry the child on top of the parent", "skip the child", "fail the run"])
        #expect(first.string("question").contains("conflicts with the parent's work") && first.string("question").contains("shared.txt"))
        let inbox = try await drover.call("inbox/list")["items"] as? [[String: Any]] ?? []
        #expect(inbox.contains { $0.string("runId") == parentId && $0.string("id") == first.string("decisionId") })
        try await drover.call("decision/resolve", ["runId": parentId, "decisionId": first.string("decisionId"), "choice": "skip the child"])

        let second = try await drover.event(parentId, "decision.requested", timeout: .seconds(30)) { $0.data.string("decisionId") != first.string("decisionId") }.data
        try await drover.call("decision/resolve", ["runId": parentId, "decisionId": second.string("decisionId"),
                                                   "choice": "retry the child on top of the parent"])
        let replacement = try await drover.event(parentId, "run.children", timeout: .seconds(30)) {
            ($0.data["children"] as? [[String: Any]])?.first?["replaces"] != nil
        }.data
        let replacing = try #require((replacement["children"] as? [[String: Any]])?.first)
        #expect(replacing.string("task") == "three" && !replacing.string("replaces").isEmpty)
        try await drover.event(parentId, "run.completed", timeout: .seconds(60))

        let childIds = Self.children(of: parentId, in: drover)
        #expect(childIds.count == 4 && childIds.last == replacing.string("runId"))
        let merged = try await drover.storedEvents(parentId).filter { $0.string("type") == "child.merged" }.map(\.data)
        #expect(merged.map { $0.string("outcome") } == ["merged", "skipped", "merged"], "\(merged)")
        #expect(merged.map { $0.string("childRunId") } == [childIds[0], childIds[1], childIds[3]])
        let run = try await drover.getRun(parentId)
        #expect(run.step("plan")["children"] as? [String] == [childIds[0], childIds[1], childIds[3]], "the retry takes the place of the child it replaces")
        #expect(GitFixture.read(run.object("workspace").string("path") + "/shared.txt") == "three\n")
    }

    /// A child pipeline that writes the file its task names, then waits for its approval: the test
    /// decides when it ends. A task outside the worktree ("../x") fails at the write (the fake agent refuses).
    static var gatedChild: [String: Any] {
        FakePipeline.pipeline([FakePipeline.step("work", prompt: "{{task}}", turns: [[
            ["write": ["path": "{{prompt}}", "text": "{{prompt}}\n"]], ["result": "wrote {{prompt}}"],
        ]], requiresApproval: true)])
    }

    @Test("a failing child cancels its siblings still at work, naming it, and fails the parent (kind dependency)")
    func failingChildCancelsSiblings() async throws {
        let workspace = try await GitFixture.workspace(
            pipelines: ["split": Self.parent(["ok.txt", "../escape.txt"]), "child": Self.gatedChild], config: Self.twoSlots)
        let drover = try await workspace.server()
        let parentId = try await drover.startRun("split").string("id")
        try await drover.event(parentId, "run.failed", timeout: .seconds(60))
        let childIds = Self.children(of: parentId, in: drover)
        #expect(childIds.count == 2)
        let sibling = try await drover.getRun(childIds[0])
        #expect(sibling.string("status") == "cancelled", "the sibling waiting at its approval was cancelled: \(sibling)")
        let reason = sibling.object("failure").string("message")
        #expect(reason.contains("its sibling child run \(childIds[1])") && reason.contains("../escape.txt")
                && reason.contains("allowFailures"), "\(reason)")
        #expect(try await drover.getRun(childIds[1]).string("status") == "failed")
        let failure = try await drover.getRun(parentId).object("failure")
        #expect(failure.string("kind") == "dependency" && failure.string("stepId") == "plan")
        #expect(failure.string("message").contains("2 of 2 child run(s) of step 'plan' did not finish")
                && failure.string("message").contains("../escape.txt"), "\(failure)")
        #expect(await workspace.waitForNoAgents(timeout: .seconds(15)).isEmpty, "no child's agent is left")
    }

    @Test("with allowFailures a failing child leaves its siblings running; the parent goes on without its change")
    func failingChildAllowed() async throws {
        let workspace = try await GitFixture.workspace(pipelines: [
            "tolerant": Self.parent(["ok.txt", "../escape.txt"], allowFailures: true), "child": Self.gatedChild,
        ], config: Self.twoSlots)
        let drover = try await workspace.server()
        let parentId = try await drover.startRun("tolerant").string("id")
        try await drover.event(parentId, "run.children", timeout: .seconds(30))
        let childIds = Self.children(of: parentId, in: drover)
        #expect(childIds.count == 2)
        try await drover.event(childIds[1], "run.failed", timeout: .seconds(60))
        let approval = try await drover.event(childIds[0], "approval.requested", timeout: .seconds(60)).data.string("approvalId")
        #expect(try await drover.getRun(childIds[0]).string("status") == "blocked", "the sibling still waits, not cancelled")
        #expect(try await drover.getRun(parentId).string("status") == "blocked")
        try await drover.call("step/approve", ["runId": childIds[0], "approvalId": approval])
        try await drover.event(parentId, "run.completed", timeout: .seconds(60))
        let merged = try await drover.storedEvents(parentId).filter { $0.string("type") == "child.merged" }.map { $0.data.string("outcome") }
        #expect(merged == ["merged", "failed"])
        let summary = try await drover.getRun(parentId).step("summary").string("output")
        #expect(summary.contains("\"status\":\"failed\"") && summary.contains("\"merge\":\"failed\""), "\(summary)")
    }

    @Test("the parent waits blocked on its children (run/get shows them); cancelling it cancels its children and stops their agents")
    func cancelParent() async throws {
        let hanging = FakePipeline.pipeline([FakePipeline.step("work", prompt: "{{task}}", turns: [[["hang": true]]])])
        let workspace = try await GitFixture.workspace(pipelines: ["split": Self.parent(["x", "y"]), "child": hanging])
        let drover = try await workspace.server()
        let parentId = try await drover.startRun("split").string("id")
        try await drover.event(parentId, "run.children")
        // The children's agents run in their own worktrees: look for them by the workspace they came from.
        let deadline = ContinuousClock.now + .seconds(30)
        while await workspace.scanAgentProcesses().count < 2 {
            guard ContinuousClock.now < deadline else { throw UnexpectedResponse(description: "the children's agents never started") }
            try await Task.sleep(for: .milliseconds(50))  // polling interval
        }
        let waiting = try await drover.getRun(parentId)
        #expect(waiting.string("status") == "blocked", "the parent waits on its children: \(waiting)")
        #expect(waiting.step("plan").string("state") == "waiting")
        #expect((waiting.step("plan")["children"] as? [String])?.count == 2)
        let cancelled = try await drover.call("run/cancel", ["runId": parentId, "reason": "enough"])
        #expect((cancelled["run"] as? [String: Any])?.string("status") == "cancelled")
        for childId in Self.children(of: parentId, in: drover) {
            let child = try await drover.getRun(childId)
            #expect(child.string("status") == "cancelled" && child.object("failure").string("message").contains("its parent run \(parentId) was cancelled"))
        }
        #expect(await workspace.waitForNoAgents(timeout: .seconds(15)).isEmpty, "no child's agent is left")
    }

    @Test("an engine stopped while the parent waits: the next engine resumes the children and the parent merges them and completes")
    func restart() async throws {
        let workspace = try await GitFixture.workspace(pipelines: ["split": Self.parent(["p.txt", "q.txt"]), "child": Self.child(sleep: 1)])
        let first = try await workspace.server()
        let parentId = try await first.startRun("split").string("id")
        try await first.event(parentId, "run.children")
        await Task.detached { DroverProcess.stopEngine(workspace: workspace.url) }.value
        _ = try await first.waitForExit(timeout: .seconds(30)) // the engine ended its session: it is stopping
        #expect(await workspace.waitForNoAgents(timeout: .seconds(15)).isEmpty, "the stopped engine's children's agents are gone")
        let second = try await workspace.server()
        let deadline = ContinuousClock.now + .seconds(60)
        var run = try await second.getRun(parentId)
        while run.string("status") != "done" {
            guard ContinuousClock.now < deadline, !["failed", "cancelled"].contains(run.string("status")) else {
                throw UnexpectedResponse(description: "the parent did not complete after the restart: \(run)")
            }
            _ = try? await second.event(parentId, "run.completed", timeout: .seconds(2))
            run = try await second.getRun(parentId)
        }
        let path = run.object("workspace").string("path")
        #expect(GitFixture.read(path + "/p.txt") == "p.txt\n" && GitFixture.read(path + "/q.txt") == "q.txt\n")
    }

    @Test("pipeline/list explains a bad fanOut block; run/start refuses a fanOut naming no pipeline")
    func validation() async throws {
        let workspace = try EngineWorkspace(pipelines: [
            "bad": FakePipeline.pipeline([
                ["id": "a", "kind": "agent", "prompt": "p", "agent": ["driver": "fake", "script": [[["result": "[]"]]]],
                 "fanOut": ["pipeline": "child", "maxChildren": 0, "extra": 1]],
                ["id": "b", "kind": "tests", "command": "true", "fanOut": ["pipeline": "child"]],
            ]),
            "early": FakePipeline.pipeline([FakePipeline.step("a", prompt: "{{children}}", turns: [[["result": "x"]]])]),
            "orphan": Self.parent(["x"]),
        ])
        let drover = try await workspace.server()
        let pipelines = try await drover.call("pipeline/list")["pipelines"] as? [[String: Any]] ?? []
        func errors(_ id: String) -> String { (pipelines.first { $0.string("id") == id }?["errors"] as? [String] ?? []).joined(separator: "\n") }
        #expect(errors("bad").contains("step 1 ('a'): field 'fanOut.extra' is unknown"), "\(errors("bad"))")
        #expect(errors("bad").contains("step 1 ('a'): field 'fanOut.maxChildren' must be a whole number from 1 to 50"), "\(errors("bad"))")
        #expect(errors("bad").contains("step 2 ('b'): field 'fanOut' is for agent and command steps"), "\(errors("bad"))")
        #expect(errors("early").contains("{{children}} needs an earlier step with 'fanOut'"), "\(errors("early"))")
        let refused = try await drover.callError("run/start", ["pipelineId": "orphan", "task": "t"])
        #expect(refused.code == -32602 && refused.message.contains("fanOut.pipeline 'child' names no pipeline"), "\(refused)")
    }
}
