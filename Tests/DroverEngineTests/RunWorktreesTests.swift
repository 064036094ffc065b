@testable import DroverEngine
import DroverProtocol
import Foundation
import PostgresTestServer
import Testing

/// The git helper on real temporary repositories: worktrees, per-step commits, diffs, applying, refusing pushes.
///
/// Git runs as blocking subprocesses, so each test's body runs on a thread of its own (`onOwnThread`),
/// not on the few threads of the cooperative pool that the other suites' async work needs.
@Suite struct RunWorktreesTests {
    private func onThread(_ body: @escaping @Sendable () throws -> Void) async throws {
        try await onOwnThread(body)
    }

    /// A fresh repository with one commit (`a.txt`), removed afterwards.
    final class Repo {
        let url: URL
        var path: String { url.path }
        var git: Git { Git(directory: path) }

        init() throws {
            url = FileManager.default.temporaryDirectory.appendingPathComponent("drover-git-\(UUID().uuidString.prefix(8))")
                .resolvingSymlinksInPath()
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            try git.checked(["init", "-q", "-b", "main"])
            try write("a.txt", "one\ntwo\n")
            try write(".drover/.gitignore", "*\n")
            try git.checked(["add", "a.txt"])
            try git.checked(["commit", "-q", "-m", "init"])
        }

        deinit { try? FileManager.default.removeItem(at: url) }

        func write(_ relative: String, _ text: String, in root: String? = nil) throws {
            let file = URL(fileURLWithPath: root ?? path).appendingPathComponent(relative)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: file, atomically: true, encoding: .utf8)
        }

        func read(_ relative: String, in root: String? = nil) -> String? {
            try? String(contentsOfFile: URL(fileURLWithPath: root ?? path).appendingPathComponent(relative).path, encoding: .utf8)
        }

        var worktrees: RunWorktrees { RunWorktrees(workspace: url, environment: ProcessInfo.processInfo.environment) }
    }

    @Test("a repository, and any folder inside one, is a git workspace; a folder with no .git above it is not")
    func gitWorkspacesAreFoundUpwards() async throws { try await onThread(gitWorkspacesAreFoundUpwardsBody) }
    private func gitWorkspacesAreFoundUpwardsBody() throws {
        let repo = try Repo()
        try repo.write("deep/er/file.txt", "x\n")
        let inside = RunWorktrees(workspace: repo.url.appendingPathComponent("deep/er"), environment: ProcessInfo.processInfo.environment)
        #expect(repo.worktrees.isGitWorkspace() && inside.isGitWorkspace())
        let plain = try TempDir()
        let outside = RunWorktrees(workspace: plain.url, environment: ProcessInfo.processInfo.environment)
        #expect(!outside.isGitWorkspace())
    }

    @Test func aWorktreeIsABranchFromHeadAndCommitsStayOnIt() async throws { try await onThread(aWorktreeIsABranchFromHeadAndCommitsStayOnItBody) }
    private func aWorktreeIsABranchFromHeadAndCommitsStayOnItBody() throws {
        let repo = try Repo()
        let recorded = try repo.worktrees.create(runId: "r-1", base: nil, includeUncommitted: false)
        #expect(recorded.isolation == .worktree && recorded.branch == "drover/r-1" && recorded.base == "HEAD")
        #expect(recorded.path == repo.path + "/.drover/worktrees/r-1")
        #expect(recorded.baseCommit == (try repo.git.checked(["rev-parse", "HEAD"])))

        try repo.write("b.txt", "new\n", in: recorded.path)
        try repo.write("a.txt", "one\n2\n", in: recorded.path)
        let commit = try #require(try repo.worktrees.commitAll(in: recorded.path, message: "drover: run r-1, step impl, attempt 1"))
        #expect(commit.files == 2 && commit.insertions == 2 && commit.deletions == 1)
        #expect(try repo.worktrees.commitAll(in: recorded.path, message: "nothing") == nil, "no change, no commit")
        #expect(repo.read("b.txt") == nil && repo.read("a.txt") == "one\ntwo\n", "the user's tree is untouched")
        #expect(try repo.git.checked(["status", "--porcelain"]).isEmpty)

        let changes = try RunChanges.between(recorded.baseCommit!, "drover/r-1", git: repo.git)
        #expect(changes.files.map(\.path) == ["a.txt", "b.txt"])
        #expect(changes.files.map(\.status) == [.modified, .added])
        #expect(changes.files[1].patch.hasPrefix("diff --git a/b.txt b/b.txt") && changes.files[1].patch.contains("+new"))
        #expect(changes.patch.contains("-two\n+2\n"))
    }

    @Test func badBasesAndTakenPathsAreRefusedClearly() async throws { try await onThread(badBasesAndTakenPathsAreRefusedClearlyBody) }
    private func badBasesAndTakenPathsAreRefusedClearlyBody() throws {
        let repo = try Repo()
        #expect(throws: EngineError.self) { try repo.worktrees.create(runId: "r-1", base: "no-such-ref", includeUncommitted: false) }
        try FileManager.default.createDirectory(atPath: repo.path + "/.drover/worktrees/r-2", withIntermediateDirectories: true)
        do {
            _ = try repo.worktrees.create(runId: "r-2", base: nil, includeUncommitted: false)
            Issue.record("an existing worktree path must be refused")
        } catch let error as EngineError {
            #expect(error.kind == .conflict && error.message.contains("already exists"))
        }
    }

    @Test func includeUncommittedCarriesTrackedAndUntrackedChangesButNotIgnoredOnes() async throws { try await onThread(includeUncommittedCarriesTrackedAndUntrackedChangesButNotIgnoredOnesBody) }
    private func includeUncommittedCarriesTrackedAndUntrackedChangesButNotIgnoredOnesBody() throws {
        let repo = try Repo()
        try repo.write("a.txt", "one\nchanged\n")
        try repo.write("notes/new.txt", "untracked\n")
        try repo.write(".gitignore", "*.log\n")
        try repo.write("debug.log", "ignored\n")
        let recorded = try repo.worktrees.create(runId: "r-1", base: nil, includeUncommitted: true)
        #expect(repo.read("a.txt", in: recorded.path) == "one\nchanged\n")
        #expect(repo.read("notes/new.txt", in: recorded.path) == "untracked\n")
        #expect(repo.read("debug.log", in: recorded.path) == nil)
        #expect(recorded.note?.contains("carried") == true)
        #expect(recorded.baseCommit != (try repo.git.checked(["rev-parse", "HEAD"])), "the base is the carried-in commit")
    }

    @Test func applyMergesSquashesOrPatchesAndRefusesConflictsWithoutTouchingTheTree() async throws { try await onThread(applyMergesSquashesOrPatchesAndRefusesConflictsWithoutTouchingTheTreeBody) }
    private func applyMergesSquashesOrPatchesAndRefusesConflictsWithoutTouchingTheTreeBody() throws {
        let repo = try Repo()
        func run(_ id: String, _ text: String) throws -> (base: String, tip: String) {
            let recorded = try repo.worktrees.create(runId: id, base: nil, includeUncommitted: false)
            try repo.write("a.txt", text, in: recorded.path)
            _ = try repo.worktrees.commitAll(in: recorded.path, message: "step")
            return (recorded.baseCommit!, try repo.git.checked(["rev-parse", "drover/\(id)"]))
        }
        let first = try run("r-1", "one\ntwo\nthree\n")
        let second = try run("r-2", "one\ntwo\nTHREE\n")
        let applier = RunApplier(git: repo.git)
        let merged = try applier.apply(runId: "r-1", strategy: .merge, baseCommit: first.base, tip: first.tip, carriedIn: false)
        #expect(merged.into == "main" && repo.read("a.txt") == "one\ntwo\nthree\n")

        // r-2 added another third line to the same base: a conflict now, refused with the file named.
        let before = try repo.git.checked(["rev-parse", "HEAD"])
        for strategy in [ApplyStrategy.merge, .squash, .patch] {
            do {
                _ = try applier.apply(runId: "r-2", strategy: strategy, baseCommit: second.base, tip: second.tip, carriedIn: false)
                Issue.record("\(strategy) of a conflicting run must be refused")
            } catch let error as EngineError {
                #expect(error.kind == .conflict && error.details["files"] == .array([.string("a.txt")]), "\(strategy): \(error)")
            }
        }
        #expect(try repo.git.checked(["rev-parse", "HEAD"]) == before)
        #expect(try repo.git.checked(["status", "--porcelain"]).isEmpty, "a refusal leaves the tree as it was")

        // Uncommitted work of the user's in a file the run changed is never overwritten.
        let third = try run("r-3", "one\ntwo\nthree\nfour\n")
        try repo.write("a.txt", "mine\n")
        do {
            _ = try applier.apply(runId: "r-3", strategy: .squash, baseCommit: third.base, tip: third.tip, carriedIn: false)
            Issue.record("uncommitted changes to the run's files must be refused")
        } catch let error as EngineError {
            #expect(error.details["reason"] == .string("uncommitted") && error.message.contains("a.txt"))
        }
        #expect(repo.read("a.txt") == "mine\n")
        try repo.git.checked(["checkout", "--", "a.txt"])
        let squashed = try applier.apply(runId: "r-3", strategy: .squash, baseCommit: third.base, tip: third.tip, carriedIn: false)
        #expect(squashed.commit != nil && repo.read("a.txt") == "one\ntwo\nthree\nfour\n")
        #expect(try repo.git.checked(["log", "-1", "--format=%s"]) == "drover: apply run r-3 (squash)")
    }

    @Test func pushFromARunWorktreeFailsWhilePushFromTheUsersTreeWorks() async throws { try await onThread(pushFromARunWorktreeFailsWhilePushFromTheUsersTreeWorksBody) }
    private func pushFromARunWorktreeFailsWhilePushFromTheUsersTreeWorksBody() throws {
        let repo = try Repo()
        let remote = repo.url.appendingPathExtension("remote").path
        defer { try? FileManager.default.removeItem(atPath: remote) }
        try Git(directory: repo.path).checked(["init", "-q", "--bare", remote])
        try repo.git.checked(["remote", "add", "origin", remote])
        let recorded = try repo.worktrees.create(runId: "r-1", base: nil, includeUncommitted: false)
        let worktree = Git(directory: recorded.path)
        // The engine's own git refuses every transport; push as an agent would, with plain git.
        func push(in directory: String, _ extra: [String] = []) throws -> (Int32, String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["git", "-C", directory, "push"] + extra + ["origin", "HEAD:refs/heads/pushed"]
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (process.terminationStatus, text)
        }
        let (status, message) = try push(in: worktree.directory)
        #expect(status != 0 && message.contains("drover refuses pushes from a run worktree"), "\(message)")
        #expect(try push(in: worktree.directory, ["--no-verify"]).0 != 0, "--no-verify does not get around it")
        #expect(try push(in: repo.path).0 == 0, "the user's own tree still pushes")
    }
}
