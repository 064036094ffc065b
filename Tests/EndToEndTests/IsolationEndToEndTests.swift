import Foundation
import Testing

/// Isolated runs over the real binary and real git: each run works in its own worktree, the user's tree
/// stays as it was, `run/diff` shows the change, `run/apply` brings it over or refuses with the files named,
/// a failing tests step is fixed by its fixer, and a restarted server goes on in the same worktree.
@Suite("End to end: isolated runs")
struct IsolationEndToEndTests {
    private static func gitWorkspace(pipelines: [String: Any]) async throws -> EngineWorkspace {
        try await GitFixture.workspace(pipelines: pipelines)
    }

    @discardableResult
    private static func git(_ directory: String, _ arguments: String...) async throws -> String {
        try await GitFixture.git(directory, arguments)
    }

    private static func read(_ path: String) -> String? { GitFixture.read(path) }

    /// One agent step that writes `files` (path → text; `{{env.DROVER_RUN_ID}}` names the run).
    private static func writer(_ files: [String: String], sleep: Double = 0) -> [String: Any] {
        var actions: [[String: Any]] = files.sorted { $0.key < $1.key }.map { ["write": ["path": $0.key, "text": $0.value]] }
        if sleep > 0 { actions.append(["sleep": sleep]) }
        actions.append(["result": "wrote \(files.count) file(s)"])
        return FakePipeline.pipeline([FakePipeline.step("impl", prompt: "Do {{task}}", turns: [actions])])
    }

    @Test("a run edits its worktree, not the user's tree; run/diff lists exactly its files; run/apply merges them")
    func isolatedRunDiffAndApply() async throws {
        let workspace = try await Self.gitWorkspace(pipelines: ["edit": Self.writer(["a.txt": "one\ntwo\n", "src/new.txt": "made by {{env.DROVER_RUN_ID}}\n"])])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("edit").string("id")
        let recorded = try await drover.event(runId, "run.workspace").data
        let worktree = recorded.string("path")
        #expect(recorded.string("isolation") == "worktree" && recorded.string("branch") == "drover/\(runId)")
        #expect(worktree == workspace.path + "/.drover/worktrees/\(runId)")
        try await drover.event(runId, "step.committed") { $0.data.int("files") == 2 }
        try await drover.event(runId, "run.completed")

        #expect(Self.read(worktree + "/src/new.txt") == "made by \(runId)\n")
        #expect(Self.read(workspace.path + "/a.txt") == "one\n" && Self.read(workspace.path + "/src/new.txt") == nil,
                "the user's tree is untouched")
        let status = try await Self.git(workspace.path, "status", "--porcelain")
        #expect(status.isEmpty, "\(status)")
        #expect(try await drover.getRun(runId).object("workspace").string("path") == worktree)

        let diff = try await drover.call("run/diff", ["runId": runId])
        let files = diff["files"] as? [[String: Any]] ?? []
        #expect(files.map { $0.string("path") } == ["a.txt", "src/new.txt"])
        #expect(files.map { $0.string("status") } == ["modified", "added"])
        #expect(files.first?.string("patch").contains("+two") == true && diff.string("patch").contains("+made by \(runId)"))
        let stepDiff = try await drover.call("run/diff", ["runId": runId, "stepId": "impl"])
        #expect((stepDiff["files"] as? [[String: Any]])?.count == 2)

        let applied = try await drover.call("run/apply", ["runId": runId])
        #expect(applied.object("run").object("workspace").object("applied").string("into") == "main")
        try await drover.event(runId, "run.applied") { $0.data["worktreeRemoved"] as? Bool == true }
        #expect(Self.read(workspace.path + "/src/new.txt") == "made by \(runId)\n" && Self.read(workspace.path + "/a.txt") == "one\ntwo\n")
        #expect(!FileManager.default.fileExists(atPath: worktree), "the worktree is removed once applied")
        let again = try await drover.callError("run/apply", ["runId": runId])
        #expect(again.code == -33002 && again.message.contains("already applied"))
    }

    @Test("two runs in parallel change the same file without seeing each other; the second apply is refused naming it")
    func parallelRunsAndConflicts() async throws {
        let workspace = try await Self.gitWorkspace(pipelines: ["edit": Self.writer(["a.txt": "one\nby {{env.DROVER_RUN_ID}}\n"], sleep: 0.3)])
        let drover = try await workspace.server()
        let first = try await drover.startRun("edit").string("id")
        let second = try await drover.startRun("edit").string("id")
        try await drover.event(first, "run.completed")
        try await drover.event(second, "run.completed")
        for runId in [first, second] {
            let path = workspace.path + "/.drover/worktrees/\(runId)/a.txt"
            #expect(Self.read(path) == "one\nby \(runId)\n", "each run sees only its own change")
        }
        try await drover.call("run/apply", ["runId": first, "strategy": "squash"])
        let head = try await Self.git(workspace.path, "rev-parse", "HEAD")
        let conflict = try await drover.callError("run/apply", ["runId": second])
        #expect(conflict.code == -33002 && conflict.data?["reason"] as? String == "conflict")
        #expect(conflict.data?["files"] as? [String] == ["a.txt"] && conflict.message.contains("a.txt"))
        #expect(try await Self.git(workspace.path, "rev-parse", "HEAD") == head && Self.read(workspace.path + "/a.txt") == "one\nby \(first)\n",
                "a refused apply changes nothing")

        // The user's own uncommitted edit of a file the run changed is refused before anything happens.
        try "mine\n".write(toFile: workspace.path + "/a.txt", atomically: true, encoding: .utf8)
        let dirty = try await drover.callError("run/apply", ["runId": second, "strategy": "patch"])
        #expect(dirty.code == -33002 && dirty.data?["reason"] as? String == "uncommitted" && dirty.data?["files"] as? [String] == ["a.txt"])
        #expect(Self.read(workspace.path + "/a.txt") == "mine\n")
    }

    @Test("a failing tests step goes to its fixer, whose fix is committed, and the tests pass; without rounds left it fails as tests")
    func testsFixerLoop() async throws {
        func pipeline(maxAttempts: Int, fixes: Bool) -> [String: Any] {
            let fix: [[String: Any]] = fixes ? [["write": ["path": "fixed.txt", "text": "ok\n"]], ["result": "fixed"]] : [["result": "tried"]]
            return FakePipeline.pipeline([
                ["id": "test", "kind": "tests", "command": "echo checking; test -f fixed.txt || { echo 'FAIL: fixed.txt missing'; exit 1; }",
                 "fixer": ["role": "fixer", "maxAttempts": maxAttempts, "agent": ["driver": "fake", "script": [fix]]]],
            ])
        }
        let workspace = try await Self.gitWorkspace(pipelines: ["fixed": pipeline(maxAttempts: 2, fixes: true),
                                                          "broken": pipeline(maxAttempts: 1, fixes: false)])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("fixed").string("id")
        let failed = try await drover.event(runId, "tests.finished").data
        #expect(failed["passed"] as? Bool == false && failed.int("fixesLeft") == 2 && failed.string("summary").contains("FAIL: fixed.txt missing"))
        #expect(try await drover.event(runId, "step.started") { $0.data.int("attempt") == 2 }.data.string("role") == "fixer")
        try await drover.event(runId, "step.committed") { $0.data.int("attempt") == 2 }
        let passed = try await drover.event(runId, "tests.finished") { $0.data.int("attempt") == 3 }.data
        #expect(passed["passed"] as? Bool == true)
        try await drover.event(runId, "run.completed")
        #expect(Self.read(workspace.path + "/fixed.txt") == nil, "the fix is in the run's worktree only")

        let brokenId = try await drover.startRun("broken").string("id")
        try await drover.event(brokenId, "run.failed")
        let run = try await drover.getRun(brokenId)
        #expect(run.object("failure").string("kind") == "tests" && run.step("test")["attempts"] as? Int == 3)
        #expect(run.object("failure").string("message").contains("after 1 fixer round"))
    }

    @Test("a restarted server resumes an interrupted step in the run's same worktree")
    func restartKeepsTheWorkingDirectory() async throws {
        let pipeline = FakePipeline.pipeline([FakePipeline.step("impl", prompt: "Do {{task}}", turns: [
            [["say": "working"], ["hang": true]],
            [["write": ["path": "done.txt", "text": "attempt {{attempt}} in {{env.DROVER_WORKSPACE}}\n"]], ["result": "done"]],
        ])])
        let workspace = try await Self.gitWorkspace(pipelines: ["slow": pipeline])
        // Servers with their own engine (--no-daemon), whose end interrupts the step.
        let first = try await workspace.server(daemon: false)
        let runId = try await first.startRun("slow").string("id")
        let worktree = try await first.event(runId, "run.workspace").data.string("path")
        try await first.logLine(runId, "working")
        #expect(try await first.shutdownAndExit() == 0)

        let second = try await workspace.server(daemon: false)
        try await second.event(runId, "run.completed", timeout: .seconds(30))
        #expect(Self.read(worktree + "/done.txt") == "attempt 2 in \(worktree)\n")
        #expect(Self.read(workspace.path + "/done.txt") == nil)
    }

    @Test("a workspace that is not a git repository runs with isolation none, says so, and has nothing to diff")
    func nonGitWorkspace() async throws {
        let workspace = try EngineWorkspace(pipelines: ["edit": Self.writer(["x.txt": "x\n"])])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("edit").string("id")
        let recorded = try await drover.event(runId, "run.workspace").data
        #expect(recorded.string("isolation") == "none" && recorded.string("path") == workspace.path)
        #expect(recorded.string("note").contains("not a git repository"))
        try await drover.event(runId, "run.completed")
        #expect(Self.read(workspace.path + "/x.txt") == "x\n")
        let diff = try await drover.callError("run/diff", ["runId": runId])
        #expect(diff.code == -32602 && diff.message.contains("isolation none"))
        let bad = try await drover.callError("run/start", ["pipelineId": "edit", "task": "t", "isolation": "worktree"])
        #expect(bad.code == -32602 && bad.message.contains("not in one"))
    }

    @Test("a repository without a commit yet runs with isolation none, saying why")
    func unbornRepository() async throws {
        let workspace = try EngineWorkspace(pipelines: ["edit": Self.writer(["x.txt": "x\n"])])
        try await Self.git(workspace.path, "init", "-q")
        let drover = try await workspace.server()
        let runId = try await drover.startRun("edit").string("id")
        let recorded = try await drover.event(runId, "run.workspace").data
        #expect(recorded.string("isolation") == "none" && recorded.string("note").contains("no commit yet"))
        try await drover.event(runId, "run.completed")
    }

    @Test("bad input: an unknown base, apply of a run that is not done, diff of an unknown run")
    func badInput() async throws {
        // The agent works long enough that the run is still working when apply comes, however loaded the
        // machine (at load 27 its 5 s were over first, and the apply merged); the cancel below ends it.
        let workspace = try await Self.gitWorkspace(pipelines: ["edit": Self.writer(["a.txt": "x\n"], sleep: 120)])
        let drover = try await workspace.server()
        let base = try await drover.callError("run/start", ["pipelineId": "edit", "task": "t", "base": "no-such-branch"])
        #expect(base.code == -32602 && base.message.contains("no-such-branch"))
        let runId = try await drover.startRun("edit").string("id")
        let early = try await drover.callError("run/apply", ["runId": runId])
        #expect(early.code == -33002 && early.message.contains("only a done run"))
        let unknown = try await drover.callError("run/diff", ["runId": "r-nope"])
        #expect(unknown.code == -33001)
        try await drover.call("run/cancel", ["runId": runId])
    }
}

extension Dictionary where Key == String, Value == Any {
    /// `self[key]` as an integer (nil if absent).
    fileprivate func int(_ key: String) -> Int? { self[key] as? Int }
}
