import DroverProtocol
import DroverStore
import DroverSupport
import Foundation

/// A machine's own clones of the repositories runs come from, so it can drive a run started on another
/// machine (a worker on a shared store): the code arrives through the run's recorded `remote` and
/// `baseCommit`, and the change goes back as the run's branch `drover/<run-id>`, pushed to that remote.
///
/// Layout (user-only, 0700): `<directory>/<16 hex of the remote URL>.git` — a bare clone made once and
/// fetched before each run — and `<directory>/worktrees/<run-id>`, the run's worktree on its branch at
/// the base commit, where pushes are refused exactly as in a workspace's run worktree (agents cannot
/// push). The engine pushes the branch itself, from the bare clone, with the user's git credentials.
public struct RepositoryCache: Sendable {
    /// The cache folder.
    public let directory: URL
    let environment: [String: String]

    public init(directory: URL, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.directory = directory
        self.environment = environment
    }

    /// `DROVER_CACHE_DIR/repositories`, else `$XDG_CACHE_HOME/drover/repositories`, else
    /// `~/.cache/drover/repositories`.
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        let base: URL
        if let dir = environment["DROVER_CACHE_DIR"], dir.hasPrefix("/") {
            base = URL(fileURLWithPath: dir, isDirectory: true)
        } else if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
            base = URL(fileURLWithPath: xdg, isDirectory: true).appendingPathComponent("drover", isDirectory: true)
        } else {
            let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
            base = URL(fileURLWithPath: home, isDirectory: true).appendingPathComponent(".cache/drover", isDirectory: true)
        }
        return base.appendingPathComponent("repositories", isDirectory: true)
    }

    var worktreesDirectory: URL { directory.appendingPathComponent("worktrees", isDirectory: true) }
    var hooksDirectory: URL { directory.appendingPathComponent("hooks", isDirectory: true) }

    /// The run's worktree in this cache.
    public func worktreePath(runId: String) -> String { worktreesDirectory.appendingPathComponent(runId).path }

    /// Whether `path` (a run's recorded working directory) lies in this cache.
    public func holds(path: String) -> Bool { path.hasPrefix(worktreesDirectory.path + "/") }

    /// The bare clone of `remote`: made on first use, fetched on every call (all branches, as
    /// `refs/remotes/origin/*`, so a fetch never touches the runs' branches).
    func clone(of remote: String) throws -> Git {
        try prepareDirectories()
        let path = clonePath(remote)
        let clone = Git(directory: path, environment: environment).networked
        if !FileManager.default.fileExists(atPath: path) {
            let parent = Git(directory: directory.path, environment: environment).networked
            let staging = path + ".partial-\(getpid())"
            try? FileManager.default.removeItem(atPath: staging)
            do {
                try parent.checked(["clone", "--bare", "--quiet", "--", remote, staging])
            } catch {
                try? FileManager.default.removeItem(atPath: staging)
                throw EngineError.internalError("cannot clone \(remote) into the repository cache \(directory.path): \(error)")
            }
            // A clone is whole or absent: concurrent first uses race on the rename, and one wins.
            if rename(staging, path) != 0 { try? FileManager.default.removeItem(atPath: staging) }
            try clone.checked(["config", "remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*"])
            // Per-worktree config (the push refusal) is on: `core.bare` must then be the bare clone's own
            // setting, or every run worktree would count as bare too (git-worktree(1), "CONFIGURATION FILE").
            try clone.checked(["config", "extensions.worktreeConfig", "true"])
            try clone.checked(["config", "--unset", "core.bare"])
            try clone.checked(["config", "--worktree", "core.bare", "true"])
        }
        do {
            try clone.checked(["fetch", "--quiet", "--prune", "origin"])
        } catch {
            throw EngineError.internalError("cannot fetch \(remote) into the repository cache \(directory.path): \(error)")
        }
        return clone
    }

    /// Makes the run's worktree in this cache, at its recorded base commit on its branch, and returns
    /// the `run.workspace` to record for it (same remote, base and branch; the cache's path). A
    /// worktree left by an earlier attempt on this machine is used again as it is.
    /// - Throws: `EngineError` `invalid` for a run with no remote or base commit recorded, `conflict`
    ///   when the base commit is not on the remote (it was never pushed), `internal` when git fails.
    public func materialize(runId: String, workspace: RunWorkspace) throws -> EventBody.WorkspaceRecorded {
        try StoreLayout.validateID(runId, what: "run")
        guard let remote = workspace.remote, let baseCommit = workspace.baseCommit, workspace.isolation == .worktree else {
            throw EngineError.invalid("run \(runId) records no repository remote and base commit (it was started on a store that is "
                                      + "not shared, in a folder without a git remote, or without isolation \"worktree\"); drive it on its own machine")
        }
        let branch = RunWorktrees.branch(runId: runId)
        let recorded = EventBody.WorkspaceRecorded(isolation: .worktree, path: worktreePath(runId: runId), branch: branch,
                                                   base: workspace.base, baseCommit: baseCommit, note: workspace.note, remote: remote)
        let clone = try clone(of: remote)
        if FileManager.default.fileExists(atPath: recorded.path) { return recorded }
        guard try clone.run(["cat-file", "-e", "\(baseCommit)^{commit}"]).status == 0 else {
            throw EngineError.conflict("the base commit \(baseCommit.prefix(12)) of run \(runId) is not on \(remote): "
                                       + "push it from the machine that started the run, then try again")
        }
        do {
            try RunWorktrees.installHooks(in: hooksDirectory)
            // An earlier worktree of this run may have been removed by hand, leaving its branch and
            // bookkeeping: forget both and start again at the base.
            _ = try? clone.run(["worktree", "prune"])
            _ = try? clone.run(["branch", "-D", branch])
            try RunWorktrees.addGuardedWorktree(repository: clone, path: recorded.path, branch: branch, at: baseCommit,
                                                hooksDirectory: hooksDirectory)
        } catch let error as GitError {
            throw EngineError.internalError("cannot make the worktree of run \(runId) in \(directory.path): \(error)")
        }
        return recorded
    }

    /// Pushes the run's branch to its remote (forced: the branch is the run's own), from the bare
    /// clone: the worktree refuses pushes, for the engine as for agents.
    public func pushRunBranch(runId: String, remote: String) throws {
        try StoreLayout.validateID(runId, what: "run")
        let branch = RunWorktrees.branch(runId: runId)
        let clone = Git(directory: clonePath(remote), environment: environment).networked
        do {
            try clone.checked(["push", "--quiet", "--force", "--no-verify", remote, "+refs/heads/\(branch):refs/heads/\(branch)"])
        } catch {
            throw EngineError.internalError("cannot push \(branch) to \(remote): \(error)")
        }
    }

    /// Removes the run's worktree (its branch stays in the clone until the next materialisation).
    public func remove(runId: String, remote: String) {
        let clone = Git(directory: clonePath(remote), environment: environment)
        _ = try? clone.run(["worktree", "remove", "--force", worktreePath(runId: runId)])
    }

    /// Where the bare clone of `remote` is.
    private func clonePath(_ remote: String) -> String {
        directory.appendingPathComponent(StableHash.hex16(remote) + ".git").path
    }

    private func prepareDirectories() throws {
        try FileManager.default.createDirectory(at: directory.deletingLastPathComponent(), withIntermediateDirectories: true)
        try PrivateFiles.makeDirectory(directory.path)
        try PrivateFiles.makeDirectory(worktreesDirectory.path)
    }
}
