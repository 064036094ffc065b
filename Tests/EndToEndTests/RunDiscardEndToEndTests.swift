import Foundation
import Testing

/// `run/discard` over the real binary and real git: the worktree goes, the branch goes only when nothing
/// is lost or with `force`, and a discarded run can no longer be diffed, applied or re-run.
@Suite("End to end: discarding runs")
struct RunDiscardEndToEndTests {
    static func writer(_ text: String, sleep: Double = 0) -> [String: Any] {
        var actions: [[String: Any]] = [["write": ["path": "a.txt", "text": text]]]
        if sleep > 0 { actions.append(["sleep": sleep]) }
        actions.append(["result": "wrote a.txt"])
        return FakePipeline.pipeline([FakePipeline.step("impl", prompt: "Do {{task}}", turns: [actions])])
    }

    @Test("discard keeps an unmerged branch unless forced; a discarded run cannot be diffed, applied or retried")
    func discardKeepsUnmergedWork() async throws {
        let workspace = try await GitFixture.workspace(pipelines: ["edit": Self.writer("changed\n")])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("edit").string("id")
        let worktree = try await drover.event(runId, "run.workspace").data.string("path")
        try await drover.event(runId, "run.completed")

        let discarded = try await drover.call("run/discard", ["runId": runId]).object("run").object("workspace")
        #expect(discarded["discarded"] as? Bool == true && discarded["removed"] as? Bool == true && discarded["branchDeleted"] == nil)
        let event = try await drover.event(runId, "run.discarded").data
        #expect(event["worktreeRemoved"] as? Bool == true && event["branchDeleted"] as? Bool == false)
        #expect(!FileManager.default.fileExists(atPath: worktree))
        #expect(try await GitFixture.git(workspace.path, "branch", "--list", "drover/\(runId)").contains("drover/\(runId)"),
                "the branch holds the run's commit, found nowhere else: it stays")

        for method in ["run/diff", "run/apply"] {
            let refused = try await drover.callError(method, ["runId": runId])
            #expect(refused.code == -33002 && refused.message.contains("was discarded"), "\(method): \(refused.message)")
        }
        let restart = try await drover.callError("run/restart", ["runId": runId, "fromStep": "impl"])
        #expect(restart.code == -33002 && restart.message.contains("start a new run"))
        let again = try await drover.callError("run/discard", ["runId": runId])
        #expect(again.code == -33002 && again.message.contains("discard with force"))

        let forced = try await drover.call("run/discard", ["runId": runId, "force": true]).object("run").object("workspace")
        #expect(forced["branchDeleted"] as? Bool == true)
        #expect(try await GitFixture.git(workspace.path, "branch", "--list", "drover/\(runId)").isEmpty)
        let done = try await drover.callError("run/discard", ["runId": runId, "force": true])
        #expect(done.code == -33002 && done.message.contains("discarded already"))
    }

    @Test("an applied run's branch and a run with no commits are deleted without force")
    func safeBranchesGo() async throws {
        let workspace = try await GitFixture.workspace(pipelines: ["edit": Self.writer("changed\n")])
        let drover = try await workspace.server()
        let applied = try await drover.startRun("edit").string("id")
        try await drover.event(applied, "run.completed")
        try await drover.call("run/apply", ["runId": applied, "strategy": "squash"])
        // Started after the apply, it writes what is there already: no commit of its own.
        let nothing = try await drover.startRun("edit").string("id")
        try await drover.event(nothing, "run.completed")
        for runId in [applied, nothing] {
            let run = try await drover.call("run/discard", ["runId": runId]).object("run")
            #expect(run.object("workspace")["branchDeleted"] as? Bool == true, "\(runId)")
        }
        #expect(try await GitFixture.git(workspace.path, "branch", "--list", "drover/*").isEmpty)
        #expect(GitFixture.read(workspace.path + "/a.txt") == "changed\n", "discarding an applied run leaves what was applied")
    }

    @Test("bad input: a live run, a run without isolation, an unknown run")
    func badInput() async throws {
        let workspace = try await GitFixture.workspace(pipelines: ["slow": Self.writer("x\n", sleep: 30)])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("slow").string("id")
        let live = try await drover.callError("run/discard", ["runId": runId])
        #expect(live.code == -33002 && live.message.contains("cancel it first"))
        try await drover.call("run/cancel", ["runId": runId])
        let plain = try await drover.call("run/start", ["pipelineId": "slow", "task": "t", "isolation": "none"]).object("run").string("id")
        try await drover.call("run/cancel", ["runId": plain])
        let none = try await drover.callError("run/discard", ["runId": plain])
        #expect(none.code == -32602 && none.message.contains("isolation none"))
        let unknown = try await drover.callError("run/discard", ["runId": "r-nope"])
        #expect(unknown.code == -33001)
        let missing = try await drover.callError("run/discard", [:])
        #expect(missing.code == -32602)
    }
}
