import Foundation
import Testing

/// The inbox of a parent waiting on its children: an item of kind `children` that lists them with
/// their status, answers nothing, and goes once the parent goes on.
extension FanOutEndToEndTests {
    @Test("inbox/list shows a parent waiting on its children (kind children, each child's status); answering it is refused naming them; it goes when the parent resumes")
    func inboxWhileWaiting() async throws {
        // Each child stops at an approval, so the test decides when the children end.
        let gated = FakePipeline.pipeline([FakePipeline.step("work", prompt: "{{task}}", turns: [[
            ["write": ["path": "{{prompt}}", "text": "{{prompt}}\n"]], ["result": "wrote {{prompt}}"],
        ]], requiresApproval: true)])
        let workspace = try await GitFixture.workspace(pipelines: ["split": Self.parent(["m.txt", "n.txt"]), "child": gated],
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
