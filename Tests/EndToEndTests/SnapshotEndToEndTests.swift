import Foundation
import Testing

/// `isolation: "snapshot"` over the real binary: a folder that is not a git repository is copied (without
/// `.drover`), the run works in the copy, and `run/diff` / `run/apply` work as for a worktree.
@Suite("End to end: snapshot isolation of a folder without git")
struct SnapshotEndToEndTests {
    static func writer(_ files: [String: String]) -> [String: Any] {
        var actions: [[String: Any]] = files.sorted { $0.key < $1.key }.map { ["write": ["path": $0.key, "text": $0.value]] }
        actions.append(["result": "wrote"])
        var pipeline = FakePipeline.pipeline([FakePipeline.step("impl", prompt: "Do {{task}}", turns: [actions])])
        pipeline["isolation"] = "snapshot"
        return pipeline
    }

    @Test("a run works in a copy; diff lists its files; apply writes them as a patch; discard removes the copy")
    func snapshotRunDiffApplyDiscard() async throws {
        let workspace = try EngineWorkspace(pipelines: ["edit": Self.writer(["a.txt": "one\ntwo\n", "src/new.txt": "new\n"]),
                                                        "other": Self.writer(["a.txt": "other\n"])])
        try "one\n".write(toFile: workspace.path + "/a.txt", atomically: true, encoding: .utf8)
        let drover = try await workspace.server()
        let runId = try await drover.startRun("edit").string("id")
        let recorded = try await drover.event(runId, "run.workspace").data
        let copy = recorded.string("path")
        #expect(recorded.string("isolation") == "snapshot" && copy == workspace.path + "/.drover/worktrees/\(runId)")
        try await drover.event(runId, "step.committed")
        try await drover.event(runId, "run.completed")
        #expect(GitFixture.read(copy + "/a.txt") == "one\ntwo\n" && GitFixture.read(workspace.path + "/a.txt") == "one\n",
                "the run changed its copy, not the workspace")
        #expect(!FileManager.default.fileExists(atPath: copy + "/.drover"), "the copy leaves .drover out")
        #expect(!FileManager.default.fileExists(atPath: workspace.path + "/.git"), "the workspace gets no repository")

        let diff = try await drover.call("run/diff", ["runId": runId])
        #expect((diff["files"] as? [[String: Any]])?.map { $0.string("path") } == ["a.txt", "src/new.txt"])
        let merge = try await drover.callError("run/apply", ["runId": runId, "strategy": "merge"])
        #expect(merge.code == -32602 && merge.message.contains("only be applied as a patch"))

        // A second run started now, then the first applied: the second's base no longer matches the files.
        let second = try await drover.startRun("other").string("id")
        try await drover.event(second, "run.completed")
        let applied = try await drover.call("run/apply", ["runId": runId]).object("run").object("workspace").object("applied")
        #expect(applied.string("strategy") == "patch")
        #expect(GitFixture.read(workspace.path + "/a.txt") == "one\ntwo\n" && GitFixture.read(workspace.path + "/src/new.txt") == "new\n")
        let changed = try await drover.callError("run/apply", ["runId": second])
        #expect(changed.code == -33002 && changed.data?["reason"] as? String == "uncommitted" && changed.data?["files"] as? [String] == ["a.txt"])
        #expect(GitFixture.read(workspace.path + "/a.txt") == "one\ntwo\n", "a refused apply changes nothing")

        let discarded = try await drover.call("run/discard", ["runId": second]).object("run").object("workspace")
        #expect(discarded["discarded"] as? Bool == true)
        #expect(!FileManager.default.fileExists(atPath: workspace.path + "/.drover/worktrees/\(second)"))
    }

    @Test("snapshot isolation is refused in a git repository, with base, or with includeUncommitted")
    func snapshotRefusals() async throws {
        let git = try await GitFixture.workspace(pipelines: ["edit": Self.writer(["a.txt": "x\n"])])
        let inGit = try await git.server()
        let refused = try await inGit.callError("run/start", ["pipelineId": "edit", "task": "t"])
        #expect(refused.code == -32602 && refused.message.contains("use isolation \"worktree\""))
        let plain = try EngineWorkspace(pipelines: ["edit": Self.writer(["a.txt": "x\n"])])
        let drover = try await plain.server()
        let base = try await drover.callError("run/start", ["pipelineId": "edit", "task": "t", "base": "HEAD"])
        #expect(base.code == -32602 && base.message.contains("isolation \"snapshot\""))
    }
}
