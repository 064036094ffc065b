import Foundation
import Testing

/// The inbox of a parent waiting on its children: an item of kind `children` that lists them with
/// their status, answers nothing, and goes once the parent goes on.
extension FanOutEndToEndTests {
    @Test("inbox/list shows a parent waiting on its children (kind children, each child's status); answering it is refused naming them; it goes when the parent resumes")
    func inboxWhileWaiting() async throws {
        // Each child stops at an approval, so the test decides when the children end.
        let workspace = try await GitFixture.workspace(pipelines: ["split": Self.parent(["m.txt", "n.txt"]), "child": Self.gatedChild],
                                                       config: Self.twoSlots)
        let drover = try await workspace.server()
        let parentId = try await drover.startRun("split").string("id")
        let recorded = try await drover.event(parentId, "run.children", timeout: .seconds(30))
        let childIds = (recorded.data["children"] as? [[String: Any]] ?? []).map { $0.string("runId") }
        #expect(childIds.count == 2)
        var approvals: [String: String] = [:]
        for childId in childIds {
            approvals[childId] = try await drover.event(childId, "approval.requested", timeout: .seconds(60)).data.string("approvalId")
        }

        let items = try await drover.call("inbox/list")["items"] as? [[String: Any]] ?? []
        let waits = items.filter { $0.string("runId") == parentId }
        #expect(waits.count == 1, "one item for the parent: \(items)")
        let wait = try #require(waits.first)
        #expect(wait.string("kind") == "children" && wait.string("stepId") == "plan" && wait.string("id") == "c-plan-1")
        #expect(wait.string("since") == recorded.string("at"), "since: when the children were recorded")
        let listed = wait["children"] as? [[String: Any]] ?? []
        #expect(listed.map { $0.string("runId") } == childIds)
        #expect(listed.map { $0.string("status") } == ["blocked", "blocked"], "each child's status now: \(listed)")
        #expect(listed.map { $0.string("task") } == ["m.txt", "n.txt"])
        #expect(items.filter { childIds.contains($0.string("runId")) }.map { $0.string("kind") } == ["approval", "approval"],
                "the children's own gates are listed as well")

        for (method, params) in [("decision/resolve", ["decisionId": "c-plan-1", "choice": "skip the child"]),
                                 ("step/approve", ["approvalId": "c-plan-1"])] {
            let refused = try await drover.callError(method, params.merging(["runId": parentId]) { $1 })
            #expect(refused.code == -32602, "\(method): \(refused)")
            #expect(refused.message.contains("not a gate") && refused.message.contains("by itself")
                    && childIds.allSatisfy(refused.message.contains), "\(method) names the children: \(refused.message)")
        }

        // One child ends: the item shows it done, the other still blocked.
        try await drover.call("step/approve", ["runId": childIds[0], "approvalId": approvals[childIds[0]]!])
        try await drover.event(childIds[0], "run.completed", timeout: .seconds(30))
        let halfway = try await drover.call("inbox/list")["items"] as? [[String: Any]] ?? []
        let statuses = (halfway.first { $0.string("runId") == parentId }?["children"] as? [[String: Any]] ?? []).map { $0.string("status") }
        #expect(statuses == ["done", "blocked"], "\(halfway)")

        try await drover.call("step/approve", ["runId": childIds[1], "approvalId": approvals[childIds[1]]!])
        try await drover.event(parentId, "run.completed", timeout: .seconds(60))
        let after = try await drover.call("inbox/list")["items"] as? [[String: Any]] ?? []
        #expect(!after.contains { $0.string("runId") == parentId }, "the wait left the inbox: \(after)")
        let late = try await drover.callError("decision/resolve", ["runId": parentId, "decisionId": "c-plan-1", "choice": "x"])
        #expect(late.code == -32602 && late.message.contains("it is over"), "\(late)")
    }
}

/// How deep fan-outs may nest: config `fanOut.maxDepth`.
extension FanOutEndToEndTests {
    @Test("a child run that would fan out deeper than config fanOut.maxDepth fails its step before its agent runs, and so do its ancestors")
    func depthLimit() async throws {
        // Every run of "nest" fans out into one more run of "nest".
        var plan = FakePipeline.step("plan", prompt: "Split: {{task}}", turns: [[["result": #"["deeper"]"#]]])
        plan["fanOut"] = ["pipeline": "nest"]
        let workspace = try await GitFixture.workspace(pipelines: ["nest": FakePipeline.pipeline([plan])],
                                                       config: ["fanOut": ["maxDepth": 2], "concurrency": ["maxRuns": 4]])
        let drover = try await workspace.server()
        let topId = try await drover.startRun("nest").string("id")
        try await drover.event(topId, "run.failed", timeout: .seconds(90))
        let firstIds = Self.children(of: topId, in: drover)
        let firstId = try #require(firstIds.first)
        let secondId = try #require(Self.children(of: firstId, in: drover).first)
        #expect(Self.children(of: secondId, in: drover).isEmpty, "no third level")

        let deepest = try await drover.getRun(secondId)
        #expect(deepest.string("status") == "failed")
        let failure = deepest.object("failure")
        #expect(failure.string("stepId") == "plan" && failure.string("kind") == "agent")
        #expect(failure.string("message").contains("already a child run 2 level(s) deep (\(secondId) ← \(firstId) ← \(topId))")
                && failure.string("message").contains("fan-out may nest 2 level(s) of child runs (config fanOut.maxDepth)"), "\(failure)")
        #expect(failure.string("hint").contains("\"maxDepth\""), "\(failure)")
        let log = try await drover.call("step/log", ["runId": secondId, "stepId": "plan"])
        #expect(log.string("text").isEmpty, "its agent never ran: \(log)")
        #expect(try await drover.getRun(firstId).object("failure").string("message").contains(secondId))
        #expect(try await drover.getRun(topId).object("failure").string("kind") == "dependency")
    }
}
