import DroverProtocol
import DroverStore
import Foundation

/// The worktrees a consensus step's candidates work in, in a run with a worktree of its own: each
/// candidate gets `<workspace>/.drover/candidates/<run-id>/<step-id>-<attempt>` on branch
/// `drover-candidate/<run-id>/<step-id>-<attempt>`, branched from the run's worktree's `HEAD` (pushes
/// refused as in a run's worktree, `RunWorktrees.addGuardedWorktree`). The winner's commit is brought
/// into the run's worktree (`land`); then every candidate worktree and branch of the run is removed.
///
/// Removal needs only the candidate folders: each names its repository (`--git-common-dir`), so what a
/// killed engine left behind goes too, even once the run's own worktree is gone.
struct CandidateWorktrees: Sendable {
    /// The user's workspace (where `.drover/` is).
    let workspace: URL
    let environment: [String: String]
    let runId: String

    /// Where the run's candidates work.
    var directory: URL { workspace.appendingPathComponent(".drover/candidates/\(runId)", isDirectory: true) }

    static func branch(runId: String, stepId: String, attempt: Int) -> String { "drover-candidate/\(runId)/\(stepId)-\(attempt)" }

    /// Commits what the run's worktree holds uncommitted (so every candidate starts from all of it), then
    /// makes one worktree per attempt from its `HEAD`. Returns the folder each candidate works in: the
    /// same subfolder of its worktree as the run's working directory is of the run's.
    func create(from runPath: String, stepId: String, attempts: [Int], hooksDirectory: URL,
                uncommittedMessage: String) throws -> [Int: String] {
        let run = Git(directory: runPath, environment: environment)
        try run.checked(["add", "--all"])
        if try run.run(["diff", "--cached", "--quiet"]).status != 0 {
            try run.checked(["commit", "--quiet", "--no-verify", "-m", uncommittedMessage])
        }
        let head = try run.checked(["rev-parse", "HEAD"])
        let prefix = try run.checked(["rev-parse", "--show-prefix"])
        try PrivateFiles.makeDirectory(directory.deletingLastPathComponent().path)
        try PrivateFiles.makeDirectory(directory.path)
        try RunWorktrees.installHooks(in: hooksDirectory)
        var folders: [Int: String] = [:]
        for attempt in attempts {
            let path = directory.appendingPathComponent("\(stepId)-\(attempt)").path
            try RunWorktrees.addGuardedWorktree(repository: run, path: path, branch: Self.branch(runId: runId, stepId: stepId, attempt: attempt),
                                                at: head, hooksDirectory: hooksDirectory)
            folders[attempt] = prefix.isEmpty ? path : URL(fileURLWithPath: path).appendingPathComponent(prefix).path
        }
        return folders
    }

    /// Brings the candidate's commit into the run's worktree: a fast-forward when the run has not moved
    /// since the round began, else a merge. Returns what the run's branch gained; a conflict is refused
    /// (with the files) and leaves the run's worktree as it was.
    func land(commit sha: String, into runPath: String, message: String) throws -> RunWorktrees.Commit {
        let run = Git(directory: runPath, environment: environment)
        if try run.run(["merge", "--ff-only", "--quiet", sha]).status == 0 {
            return try RunWorktrees.describe(commit: sha, in: run)
        }
        let base = try run.checked(["rev-parse", "HEAD"])
        switch try ChildMerge(parent: run).merge(ref: sha, message: message) {
        case .merged(let merged):
            var landed = try RunWorktrees.describe(commit: sha, in: run)
            landed.sha = merged
            return landed
        case .upToDate:
            return RunWorktrees.Commit(sha: base, files: 0, insertions: 0, deletions: 0)
        case .conflict(let files):
            throw EngineError.conflict("the winner's change conflicts with the run's worktree in \(files.joined(separator: ", "))")
        }
    }

    /// Whether any candidate worktree of the run is on disk.
    var anyLeft: Bool { FileManager.default.fileExists(atPath: directory.path) }

    /// Removes every candidate worktree of the run and their branches; what is already gone is skipped.
    func removeAll() {
        let folders = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        var repositories: Set<String> = []
        for name in folders {
            let path = directory.appendingPathComponent(name).path
            if let common = try? Git(directory: path, environment: environment).checked(["rev-parse", "--git-common-dir"]) {
                let repository = common.hasPrefix("/") ? common : URL(fileURLWithPath: path).appendingPathComponent(common).standardized.path
                repositories.insert(repository)
                _ = try? Git(directory: repository, environment: environment).run(["worktree", "remove", "--force", path])
            }
            try? FileManager.default.removeItem(atPath: path)
        }
        try? FileManager.default.removeItem(at: directory)
        // The workspace's repository too: a worktree removed by hand leaves its branch behind.
        repositories.insert(workspace.path)
        for repository in repositories {
            let git = Git(directory: repository, environment: environment)
            _ = try? git.run(["worktree", "prune"])
            let refs = (try? git.checked(["for-each-ref", "--format=%(refname:short)", "refs/heads/drover-candidate/\(runId)/"])) ?? ""
            for branch in refs.split(separator: "\n") where !branch.isEmpty {
                _ = try? git.run(["branch", "-D", "--", String(branch)])
            }
        }
    }
}
