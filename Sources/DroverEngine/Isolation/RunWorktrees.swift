import DroverProtocol
import DroverStore
import Foundation

/// Creates, commits in and removes the git worktrees runs work in: `<workspace>/.drover/worktrees/<run-id>`
/// on branch `drover/<run-id>`. Every git call is a `Git` subprocess; nothing here touches the network.
///
/// Pushing from a run's worktree is refused in per-worktree config (so the user's own tree keeps
/// pushing): `url."<pushRefusalURL>".pushInsteadOf ""` rewrites every push URL, explicit ones and
/// `--no-verify` included, into a path that names the refusal, so git fails with "'/drover refuses
/// pushes from a run worktree (…)//<url>' does not appear to be a git repository"; and `core.hooksPath`
/// points at a `pre-push` hook that refuses too, should the rewrite be removed. Per-worktree config
/// needs `extensions.worktreeConfig`, which is set in the repository once. Agents get no credentials from drover; this is a guard rail, not a
/// sandbox: an agent that edits the repository's config can undo it.
struct RunWorktrees: Sendable {
    /// The user's workspace (where `.drover/` is).
    let workspace: URL
    let environment: [String: String]
    /// Whether a new run records the repository's remote (a shared store: other machines may drive it).
    var recordsRemote = false

    var git: Git { Git(directory: workspace.path, environment: environment) }
    var worktreesDirectory: URL { workspace.appendingPathComponent(".drover/worktrees", isDirectory: true) }
    var hooksDirectory: URL { workspace.appendingPathComponent(".drover/hooks", isDirectory: true) }

    static func branch(runId: String) -> String { "drover/\(runId)" }

    /// The message a push from a run's worktree fails with.
    static let pushRefusal =
        "drover: pushing from a run's worktree is refused. Review the run (`drover diff RUN` or run/diff), apply it "
        + "to your branch (`drover apply RUN` or run/apply), then push from your own working tree."

    /// What every push URL of a run's worktree becomes: a path whose name is the refusal.
    static let pushRefusalURL = "/drover refuses pushes from a run worktree (apply the run, then push from your tree)/"

    /// Whether the workspace is inside a git work tree (false for a bare repository or no repository).
    func isGitWorkspace() -> Bool {
        hasGitAbove() && isInsideWorkTree()
    }

    /// What git says of a folder `hasGitAbove()` found a `.git` above: whether it is inside a work tree
    /// (not a bare repository's). Spawns git.
    func isInsideWorkTree() -> Bool {
        (try? git.run(["rev-parse", "--is-inside-work-tree"]))?.trimmed == "true"
    }

    /// Whether the workspace's folder or one above it holds a `.git`: most folders that are not
    /// repositories are told apart so, without spawning git (and without leaving the engine's actor).
    func hasGitAbove() -> Bool {
        // Paths as strings: this runs at every run/start, and URL appending cost more than the checks.
        var folder = workspace.standardizedFileURL.path
        while access(folder == "/" ? "/.git" : folder + "/.git", F_OK) != 0 {
            guard folder != "/" else { return false }
            folder = (folder as NSString).deletingLastPathComponent
        }
        return true
    }

    /// Whether `HEAD` names a commit (false in a repository with no commit yet).
    func hasCommits() -> Bool {
        (try? git.run(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"]))?.status == 0
    }

    /// Creates the run's worktree from `base` (default `HEAD`), with the user's uncommitted and untracked
    /// changes as its first commit when `includeUncommitted`. Errors are `EngineError`s a client can act on.
    func create(runId: String, base: String?, includeUncommitted: Bool) throws -> EventBody.WorkspaceRecorded {
        let baseRef = base ?? "HEAD"
        guard !baseRef.hasPrefix("-") else { throw EngineError.invalid("base '\(baseRef)' is not a ref") }
        let verified = try git.run(["rev-parse", "--verify", "--quiet", "\(baseRef)^{commit}"])
        guard verified.status == 0, !verified.trimmed.isEmpty else {
            throw EngineError.invalid("base '\(baseRef)' names no commit in the repository of \(workspace.path); "
                                      + "give a branch, tag or commit that exists (e.g. HEAD, main)")
        }
        var baseCommit = verified.trimmed
        let prefix = try git.checked(["rev-parse", "--show-prefix"])
        let root = try git.checked(["rev-parse", "--show-toplevel"])
        if includeUncommitted, let state = try operationInProgress() {
            throw EngineError.conflict("the repository of \(workspace.path) is in the middle of a \(state); finish or abort it "
                                       + "before starting a run with includeUncommitted")
        }
        let path = worktreesDirectory.appendingPathComponent(runId).path
        guard !FileManager.default.fileExists(atPath: path) else {
            throw EngineError.conflict("the worktree path \(path) already exists; remove it (`git worktree remove \(path)`) and start again")
        }
        let branch = Self.branch(runId: runId)
        if try git.run(["rev-parse", "--verify", "--quiet", "refs/heads/\(branch)"]).status == 0 {
            throw EngineError.conflict("branch \(branch) already exists in the repository of \(workspace.path)")
        }
        try PrivateFiles.makeDirectory(worktreesDirectory.path)
        try Self.installHooks(in: hooksDirectory)
        do {
            try Self.addGuardedWorktree(repository: git, path: path, branch: branch, at: baseCommit, hooksDirectory: hooksDirectory)
            let worktree = Git(directory: path, environment: environment)
            var note: String?
            if includeUncommitted {
                if let carried = try carryUncommitted(from: Git(directory: root, environment: environment), into: worktree, runId: runId) {
                    baseCommit = carried.commit
                    note = "carried \(carried.files) uncommitted or untracked file(s) of the workspace in as commit \(carried.commit.prefix(12))"
                } else {
                    note = "includeUncommitted: the workspace had no uncommitted changes"
                }
            }
            let workingDirectory = prefix.isEmpty ? path : URL(fileURLWithPath: path).appendingPathComponent(prefix).path
            return EventBody.WorkspaceRecorded(isolation: .worktree, path: workingDirectory, branch: branch, base: baseRef,
                                               baseCommit: baseCommit, note: note, remote: recordsRemote ? remoteURL() : nil)
        } catch let error as GitError {
            _ = try? git.run(["worktree", "remove", "--force", path])
            _ = try? git.run(["branch", "-D", branch])
            throw EngineError.internalError("cannot create the worktree of run \(runId): \(error)")
        }
    }

    /// "merge", "rebase", … when the user's repository is in the middle of one.
    func operationInProgress() throws -> String? {
        try Self.operationInProgress(git: git)
    }

    static func operationInProgress(git: Git) throws -> String? {
        let workspace = URL(fileURLWithPath: git.directory)
        for (marker, name) in [("MERGE_HEAD", "merge"), ("rebase-merge", "rebase"), ("rebase-apply", "rebase or am"),
                               ("CHERRY_PICK_HEAD", "cherry-pick"), ("REVERT_HEAD", "revert")] {
            let path = try git.checked(["rev-parse", "--git-path", marker])
            let absolute = path.hasPrefix("/") ? path : workspace.appendingPathComponent(path).path
            if FileManager.default.fileExists(atPath: absolute) { return name }
        }
        return nil
    }

    /// Adds a worktree of `repository` at `path` on a new `branch` from `commit`, with pushes refused in
    /// it (per-worktree config: every push URL rewritten into the refusal, `core.hooksPath` at
    /// `hooksDirectory`, whose `pre-push` refuses too). The engine's own pushes go from elsewhere.
    static func addGuardedWorktree(repository: Git, path: String, branch: String, at commit: String, hooksDirectory: URL) throws {
        if try repository.run(["config", "--get", "extensions.worktreeConfig"]).trimmed != "true" {
            try repository.checked(["config", "extensions.worktreeConfig", "true"])
        }
        try repository.checked(["worktree", "add", "--quiet", "--no-track", "-b", branch, path, commit])
        let worktree = Git(directory: path, environment: ["PATH": repository.searchPath])
        try worktree.checked(["config", "--worktree", "core.hooksPath", hooksDirectory.path])
        try worktree.checked(["config", "--worktree", "url.\(Self.pushRefusalURL).pushInsteadOf", ""])
    }

    /// The fetch URL of the workspace's remote: `DROVER_GIT_REMOTE` names it (default `origin`), else
    /// the only remote there is; nil when there is none (the run can only be driven on this machine).
    func remoteURL() -> String? {
        let remotes = ((try? git.checked(["remote"])) ?? "").split(separator: "\n").map(String.init)
        let preferred = environment["DROVER_GIT_REMOTE"].flatMap { $0.isEmpty ? nil : $0 } ?? "origin"
        guard let name = remotes.contains(preferred) ? preferred : (remotes.count == 1 ? remotes[0] : nil) else { return nil }
        return (try? git.checked(["remote", "get-url", name])).map(Self.withoutPassword)
    }

    /// `url` without a password in its user info (`https://user:token@host/…` → `https://user@host/…`):
    /// a recorded remote is seen by everyone on the store; credentials stay in the user's git config.
    static func withoutPassword(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].firstIndex(of: "@"),
              let colon = url[scheme.upperBound..<at].firstIndex(of: ":") else { return url }
        return String(url[..<colon] + url[at...])
    }

    /// Writes `<hooksDirectory>/pre-push`, the hook every run's worktree uses.
    static func installHooks(in hooksDirectory: URL) throws {
        try PrivateFiles.makeDirectory(hooksDirectory.path)
        let hook = hooksDirectory.appendingPathComponent("pre-push").path
        let script = "#!/bin/sh\ncat >&2 <<'EOF'\n\(Self.pushRefusal)\nEOF\nexit 1\n"
        if (try? String(contentsOfFile: hook, encoding: .utf8)) != script {
            try script.write(toFile: hook, atomically: true, encoding: .utf8)
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: hook)
    }

    /// Copies the user's changes against HEAD (tracked: a binary patch; untracked, not ignored: the files)
    /// into the worktree and commits them; nil when there were none.
    private func carryUncommitted(from source: Git, into worktree: Git, runId: String) throws -> (commit: String, files: Int)? {
        let patch = try source.run(["diff", "HEAD", "--binary", "--no-ext-diff", "--no-color"])
        guard patch.status == 0 else { throw GitError(arguments: ["diff", "HEAD"], output: patch) }
        if !patch.stdout.isEmpty {
            let applied = try worktree.run(["apply", "--binary", "--whitespace=nowarn", "-"], input: patch.stdout)
            guard applied.status == 0 else { throw GitError(arguments: ["apply"], output: applied) }
        }
        let untracked = try source.run(["ls-files", "--others", "--exclude-standard", "-z"]).stdout
            .split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        for relative in untracked {
            let from = URL(fileURLWithPath: source.directory).appendingPathComponent(relative)
            let to = URL(fileURLWithPath: worktree.directory).appendingPathComponent(relative)
            try FileManager.default.createDirectory(at: to.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? FileManager.default.removeItem(at: to)
            try FileManager.default.copyItem(at: from, to: to)
        }
        return try commitAll(in: worktree, message: "drover: uncommitted changes of the workspace, carried into run \(runId)")
            .map { ($0.sha, $0.files) }
    }

    /// What one engine commit recorded.
    struct Commit: Sendable {
        var sha: String
        var files: Int
        var insertions: Int
        var deletions: Int
    }

    /// Stages everything in the worktree at `directory` and commits it; nil when nothing changed.
    func commitAll(in directory: String, message: String) throws -> Commit? {
        try commitAll(in: Git(directory: directory, environment: environment), message: message)
    }

    private func commitAll(in worktree: Git, message: String) throws -> Commit? {
        try worktree.checked(["add", "--all"])
        guard try worktree.run(["diff", "--cached", "--quiet"]).status != 0 else { return nil }
        try worktree.checked(["commit", "--quiet", "--no-verify", "-m", message])
        return try Self.describe(commit: try worktree.checked(["rev-parse", "HEAD"]), in: worktree)
    }

    /// What commit `sha` changed, counted from its numstat.
    static func describe(commit sha: String, in worktree: Git) throws -> Commit {
        var files = 0, insertions = 0, deletions = 0
        for line in try worktree.checked(["show", "--numstat", "--format=", sha]).split(separator: "\n") {
            let fields = line.split(separator: "\t", maxSplits: 2)
            guard fields.count == 3 else { continue }
            files += 1
            insertions += Int(fields[0]) ?? 0
            deletions += Int(fields[1]) ?? 0
        }
        return Commit(sha: sha, files: files, insertions: insertions, deletions: deletions)
    }

    /// Why deleting a run's branch loses nothing ("merged into main", …), or nil when it holds commits
    /// found nowhere else. A branch that is gone already counts as safe.
    func branchIsSafeToDelete(_ branch: String, baseCommit: String?, applied: Bool) throws -> String? {
        let ref = "refs/heads/\(branch)"
        let tip = try git.run(["rev-parse", "--verify", "--quiet", ref])
        guard tip.status == 0 else { return "it is gone already" }
        if applied { return "the run was applied" }
        if tip.trimmed == baseCommit { return "it has no commits of the run's" }
        if try git.run(["merge-base", "--is-ancestor", ref, "HEAD"]).status == 0 {
            let current = try? git.checked(["symbolic-ref", "--short", "-q", "HEAD"])
            return "it is merged into " + (current ?? "HEAD")
        }
        return nil
    }

    /// Deletes the run's branch; true if it existed. The caller decides whether that is safe.
    @discardableResult
    func deleteBranch(_ branch: String) throws -> Bool {
        guard try git.run(["rev-parse", "--verify", "--quiet", "refs/heads/\(branch)"]).status == 0 else { return false }
        try git.checked(["branch", "-D", "--", branch])
        return true
    }

    /// Bytes the run's worktree takes on disk (0 when it is gone); what `drover gc` reports as freed.
    /// Counted from `lstat`'s blocks: Foundation's allocated-size keys are wrong on Linux (blocks × 4096).
    func diskUsage(runId: String) -> Int64 {
        let root = worktreesDirectory.appendingPathComponent(runId).path
        guard let walker = FileManager.default.enumerator(atPath: root) else { return 0 }
        var total: Int64 = 0
        var info = stat()
        if lstat(root, &info) == 0 { total += Int64(info.st_blocks) * 512 }
        while let relative = walker.nextObject() as? String {
            if lstat(root + "/" + relative, &info) == 0 { total += Int64(info.st_blocks) * 512 }
        }
        return total
    }

    /// Removes the run's worktree (its branch stays); true if it was there.
    @discardableResult
    func remove(runId: String) throws -> Bool {
        let path = worktreesDirectory.appendingPathComponent(runId).path
        guard FileManager.default.fileExists(atPath: path) else { return false }
        try git.checked(["worktree", "remove", "--force", path])
        return true
    }
}
