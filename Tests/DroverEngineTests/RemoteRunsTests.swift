@testable import DroverEngine
import DroverProtocol
import Foundation
import PostgresTestServer
import Testing

/// Code on other machines, with real git: a run started on machine 1 against a shared store records its
/// remote; machine 2 (another HOME, its own repository cache) materialises it from that remote, drives
/// it — the agent cannot push, the engine pushes `drover/<run-id>` before the run is done — and
/// machine 1's `run/diff` and `run/apply` fetch that branch. The "remote" is a bare repository.
@Suite struct RemoteRunsTests {
    /// Runs `git` in `directory`, with network access (the tests' remote is a local path), on a thread
    /// of its own: waiting for git on the cooperative pool held one of its two threads, which stalled the
    /// suites running beside this one past their time bounds under load (`onOwnThread`).
    @discardableResult
    private func git(_ directory: URL, _ arguments: [String]) async throws -> String {
        try await onOwnThread { try Git(directory: directory.path).networked.checked(arguments) }
    }

    @Test func aRunDrivenOnAnotherMachineComesBackThroughItsRemote() async throws {
        let remoteDir = try TempDir()
        let remote = remoteDir.url.appendingPathComponent("app.git")
        try FileManager.default.createDirectory(at: remote, withIntermediateDirectories: true)
        try await git(remote, ["init", "--bare", "-q", "-b", "main"])

        // Machine 1: the user's clone, pushed, on a shared store.
        let machine1 = try TempDir()
        let workspace = machine1.url.appendingPathComponent("ws")
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
        try await git(workspace, ["init", "-q", "-b", "main"])
        try machine1.write("ws/a.txt", "one\n")
        try machine1.write("ws/.gitignore", ".drover/\n")
        try await git(workspace, ["add", "-A"])
        try await git(workspace, ["commit", "-q", "-m", "init"])
        try await git(workspace, ["remote", "add", "origin", remote.path])
        try await git(workspace, ["push", "-q", "origin", "main"])
        try FileManager.default.createDirectory(at: workspace.appendingPathComponent(".drover"), withIntermediateDirectories: true)
        let user = try await EngineHarness.make(dir: machine1, adjust: { $0.sharesStore = true })
        let started = try await user.start("flow", inputs: ["lang": "c"])
        let recorded = try #require(started.workspace)
        #expect(recorded.remote == remote.path, "the run records where its code can be fetched")
        #expect(recorded.baseCommit == (try await git(workspace, ["rev-parse", "HEAD"])))
        _ = try await user.nextLaunch("a", attempt: 1)
        await user.engine.shutdown()  // machine 1 stops driving it (a worker will)
        try await user.next("step.interrupted", of: started.id)

        // Machine 2: its own HOME and repository cache; it materialises the run and drives it.
        let machine2 = try TempDir()
        try FileManager.default.createDirectory(at: machine2.url.appendingPathComponent("ws/.drover"), withIntermediateDirectories: true)
        let cache = RepositoryCache(directory: machine2.url.appendingPathComponent("cache/repositories"),
                                    environment: ["PATH": "/usr/bin:/bin", "HOME": machine2.url.path])
        let worker = try await EngineHarness.make(store: user.store, dir: machine2, adjust: { $0.repositoryCache = cache })
        let materialized = try await worker.engine.materialize(runId: started.id)
        let path = cache.worktreePath(runId: started.id)
        #expect(materialized.workspace?.path == path && materialized.workspace?.remote == remote.path)
        #expect(try await git(URL(fileURLWithPath: path), ["rev-parse", "HEAD"]) == recorded.baseCommit)
        #expect(try await git(URL(fileURLWithPath: path), ["symbolic-ref", "--short", "HEAD"]) == "drover/\(started.id)")
        var info = stat()
        #expect(stat(cache.directory.path, &info) == 0 && info.st_mode & 0o777 == 0o700, "the cache is the user's only")

        _ = try await worker.engine.resumeInterruptedRun(started.id)
        let launch = try await worker.nextLaunch("a", attempt: 2)
        #expect(launch.invocation.workingDirectory == path, "the agent works in machine 2's worktree")
        try "made on machine 2\n".write(toFile: path + "/b.txt", atomically: true, encoding: .utf8)
        // An agent there cannot push, not even to an explicit URL.
        let agentPush = try await onOwnThread { try Git(directory: path).networked.run(["push", remote.path, "HEAD:refs/heads/sneaky"]) }
        #expect(agentPush.status != 0 && agentPush.stderr.contains("refuses pushes"), "\(agentPush.stderr)")
        launch.handle.finish(.completed(output: "a done"))
        try await worker.next("step.committed", of: started.id)
        try await worker.nextLaunch("b", attempt: 1).handle.finish(.completed(output: "b done"))
        try await worker.next("run.completed", of: started.id)
        let pushed = try await git(remote, ["rev-parse", "refs/heads/drover/\(started.id)"])
        #expect(pushed == (try await git(URL(fileURLWithPath: path), ["rev-parse", "HEAD"])), "the engine pushed the run's branch before it was done")
        #expect((try? await git(remote, ["rev-parse", "--verify", "--quiet", "refs/heads/sneaky"])) == nil)

        // Back on machine 1: diff and apply fetch the run's branch from the remote.
        let back = try await EngineHarness.make(store: user.store, dir: machine1, adjust: { $0.sharesStore = true })
        let diff = try await back.engine.diff(RunDiffRequest(runId: started.id))
        #expect(diff.files.map(\.path) == ["b.txt"] && diff.patch.contains("+made on machine 2"), "\(diff.patch)")
        #expect(diff.to == pushed)
        let applied = try await back.engine.apply(RunApplyRequest(runId: started.id))
        #expect(applied.workspace?.applied?.strategy == .merge)
        #expect(try String(contentsOf: workspace.appendingPathComponent("b.txt"), encoding: .utf8) == "made on machine 2\n")
    }

    @Test func aRemoteURLIsRecordedWithoutItsPassword() {
        #expect(RunWorktrees.withoutPassword("https://me:s3cret@example.com/team/app.git") == "https://me@example.com/team/app.git")
        #expect(RunWorktrees.withoutPassword("git@example.com:team/app.git") == "git@example.com:team/app.git")
        #expect(RunWorktrees.withoutPassword("/srv/git/app.git") == "/srv/git/app.git")
    }

    @Test func aBaseCommitNeverPushedIsRefusedClearly() async throws {
        let remoteDir = try TempDir()
        let remote = remoteDir.url.appendingPathComponent("app.git")
        try FileManager.default.createDirectory(at: remote, withIntermediateDirectories: true)
        try await git(remote, ["init", "--bare", "-q", "-b", "main"])
        let seed = remoteDir.url.appendingPathComponent("seed")
        try FileManager.default.createDirectory(at: seed, withIntermediateDirectories: true)
        try await git(seed, ["init", "-q", "-b", "main"])
        try remoteDir.write("seed/a.txt", "one\n")
        try await git(seed, ["add", "-A"])
        try await git(seed, ["commit", "-q", "-m", "init"])
        try await git(seed, ["push", "-q", remote.path, "main"])
        try remoteDir.write("seed/a.txt", "two\n")
        try await git(seed, ["commit", "-q", "-am", "local only"])
        let unpushed = try await git(seed, ["rev-parse", "HEAD"])

        let cache = RepositoryCache(directory: remoteDir.url.appendingPathComponent("cache"))
        let workspace = RunWorkspace(isolation: .worktree, path: "/elsewhere", branch: "drover/r-1", base: "HEAD",
                                     baseCommit: unpushed, remote: remote.path)
        #expect {
            try cache.materialize(runId: "r-1", workspace: workspace)
        } throws: { error in
            (error as? EngineError)?.kind == .conflict && "\(error)".contains("is not on \(remote.path)")
        }
        #expect(throws: EngineError.self) {
            try cache.materialize(runId: "r-2", workspace: RunWorkspace(isolation: .worktree, path: "/elsewhere", baseCommit: unpushed))
        }
        #expect(throws: (any Error).self) { try cache.materialize(runId: "../x", workspace: workspace) }
    }
}
