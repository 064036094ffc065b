import DroverProtocol
import Foundation

/// `run/diff` without an engine: a run's change read from its recorded workspace and git. The engine
/// answers `run/diff` with it; `drover diff` uses it on a store opened read-only, so it works beside an
/// engine that drives the workspace. Runs git (blocking): call it off the engine actor.
public struct RunDiffReader: Sendable {
    let git: Git
    let environment: [String: String]

    /// - Parameter workspace: the user's workspace (whose repository holds the runs' branches).
    public init(workspace: URL, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.git = Git(directory: workspace.path, environment: environment)
        self.environment = environment
    }

    /// The run's change against its base, or what one step's commits changed.
    public func diff(run: Run, history: RunHistory, stepId: String? = nil) throws -> RunDiffResult {
        let workspace = try Self.isolatedWorkspace(of: run)
        var from = workspace.baseCommit ?? "HEAD"
        var to = tip(of: workspace, history: history)
        if let stepId {
            guard run.step(stepId) != nil else {
                throw EngineError(.notFound, "Run \(run.id) has no step '\(stepId)'; its steps: \(run.steps.map(\.id).joined(separator: ", "))")
            }
            let commits = history.commits.filter { $0.stepId == stepId }
            guard let first = commits.first, let last = commits.last else {
                return RunDiffResult(runId: run.id, from: to, to: to, files: [], patch: "")
            }
            from = "\(first.sha)^"
            to = last.sha
        }
        let changes = try RunChanges.between(from, to, git: repository(of: workspace))
        return RunDiffResult(runId: run.id, from: from, to: to, files: changes.files, patch: changes.patch)
    }

    /// `git diff --stat` of the run's whole change; nil for a run that is not isolated or was discarded.
    public func diffStat(run: Run, history: RunHistory) throws -> String? {
        guard let workspace = try? Self.isolatedWorkspace(of: run), let base = workspace.baseCommit else { return nil }
        let stat = try repository(of: workspace).raw(["diff", "--stat", "--no-color", base, tip(of: workspace, history: history)])
        return String(stat.reversed().drop { $0.isWhitespace }.reversed()) // the first line's leading space aligns the columns
    }

    /// The run's recorded worktree, or a clear refusal for a run that has none (or no longer has one).
    public static func isolatedWorkspace(of run: Run) throws -> RunWorkspace {
        guard let workspace = run.workspace, workspace.isolation != .none, let base = workspace.baseCommit, !base.isEmpty else {
            throw EngineError.invalid(
                "run \(run.id) ran in the workspace itself (isolation none), so it has no branch to diff or apply; its changes are already in your tree")
        }
        if workspace.discarded == true {
            throw EngineError.conflict("run \(run.id) was discarded: its change was thrown away, so there is nothing to diff or apply")
        }
        return workspace
    }

    /// Where a run's commits are: the workspace's repository (worktree), or the snapshot's private one.
    func repository(of workspace: RunWorkspace) -> Git {
        workspace.isolation == .snapshot ? Git(directory: workspace.path, environment: environment) : git
    }

    /// The commit a run's change ends at: its branch (a snapshot's HEAD), or its last recorded commit once
    /// the branch is gone; for a run that worked on another machine, its branch fetched from the remote.
    func tip(of workspace: RunWorkspace, history: RunHistory) -> String {
        if workspace.isolation == .snapshot,
           let sha = try? repository(of: workspace).checked(["rev-parse", "--verify", "--quiet", "HEAD"]), !sha.isEmpty {
            return sha
        }
        let local = workspace.branch.flatMap { try? git.checked(["rev-parse", "--verify", "--quiet", "refs/heads/\($0)"]) }
            .flatMap { $0.isEmpty ? nil : $0 }
        if let fetched = fetchedFromRemote(workspace, localTip: local) { return fetched }
        return local ?? history.commits.last?.sha ?? workspace.baseCommit ?? "HEAD"
    }

    /// A run whose work is not in this repository (its local branch has no commit of the run's, or is
    /// not here: a worker on another machine made them): its branch fetched from the recorded remote into `refs/drover/remote/<branch name>`, with the
    /// engine's network access. Nil when the work is here, nothing is recorded to fetch from, or the
    /// remote has no such branch yet (the run's worker pushes it when the run ends).
    func fetchedFromRemote(_ workspace: RunWorkspace, localTip: String?) -> String? {
        guard let remote = workspace.remote, let branch = workspace.branch, branch.hasPrefix("drover/"),
              localTip == nil || localTip == workspace.baseCommit else { return nil }
        let ref = "refs/drover/remote/\(branch.dropFirst("drover/".count))"
        let fetched = try? git.networked.run(["fetch", "--quiet", "--no-tags", "--", remote, "+refs/heads/\(branch):\(ref)"])
        guard fetched?.status == 0, let sha = try? git.checked(["rev-parse", "--verify", "--quiet", ref]), !sha.isEmpty else { return nil }
        return sha
    }
}
