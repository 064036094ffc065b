import Foundation
import Testing

/// What a fan-out leaves behind once its step is over: the children's worktrees go, their branches
/// stay only when they hold work found nowhere else.
extension FanOutEndToEndTests {
    /// A child pipeline that writes its task into the same file: every child after the first conflicts.
    static var sharedFileChild: [String: Any] {
        FakePipeline.pipeline([FakePipeline.step("work", prompt: "{{task}}", turns: [[
            ["write": ["path": "shared.txt", "text": "{{prompt}}\n"]], ["result": "{{prompt}}"]]])])
    }

    /// Waits for the child's `run.discarded` and returns the child as it is then.
    static func discarded(_ childId: String, in drover: DroverProcess) async throws -> [String: Any] {
        try await drover.event(childId, "run.discarded", timeout: .seconds(30))
        return try await drover.getRun(childId)
    }

    @Test("a merge conflict answered \"fail the run\": the parent fails (kind dependency) with a hint to plan again; the children's worktrees are removed, the unmerged child's branch kept")
    func conflictFailsTheRun() async throws {
        let workspace = try await GitFixture.workspace(pipelines: ["split": Self.parent(["one", "two"]), "child": Self.sharedFileChild])
        let drover = try await workspace.server()
        let parentId = try await drover.startRun("split").string("id")
        let decision = try await drover.event(parentId, "decision.requested", timeout: .seconds(60)).data
        try await drover.call("decision/resolve", ["runId": parentId, "decisionId": decision.string("decisionId"), "choice": "fail the run"])
        try await drover.event(parentId, "run.failed", timeout: .seconds(30))

        let parent = try await drover.getRun(parentId)
        let failure = parent.object("failure")
        #expect(failure.string("kind") == "dependency" && failure.string("stepId") == "plan")
        #expect(failure.string("message").contains("conflicted with the parent's work; a person chose to fail the run"), "\(failure)")
        #expect(failure.string("hint").contains("plan again") && failure.string("hint").contains(parentId), "\(failure)")
        #expect(parent.step("plan").string("state") == "failed")
        let items = try await drover.call("inbox/list")["items"] as? [[String: Any]] ?? []
        #expect(!items.contains { $0.string("runId") == parentId }, "nothing left to wait on: \(items)")

        let childIds = Self.children(of: parentId, in: drover)
        #expect(childIds.count == 2)
        let merged = try await Self.discarded(childIds[0], in: drover)
        let conflicting = try await Self.discarded(childIds[1], in: drover)
        for child in [merged, conflicting] {
            let place = child.object("workspace")
            #expect(place["removed"] as? Bool == true && place["discarded"] as? Bool == true, "\(place)")
            #expect(!FileManager.default.fileExists(atPath: place.string("path")), "the child's worktree is gone")
        }
        let branches = try await GitFixture.git(workspace.path, "branch", "--list", "drover/*")
        #expect(!branches.contains(merged.object("workspace").string("branch")), "merged into the parent: its branch goes")
        #expect(merged.object("workspace")["branchDeleted"] as? Bool == true)
        #expect(branches.contains(conflicting.object("workspace").string("branch")), "its work is nowhere else: its branch stays")
        #expect(GitFixture.read(parent.object("workspace").string("path") + "/shared.txt") == "one\n", "the parent keeps what was merged")
    }
}
