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

    /// The commit a run's change ends at: its branch (a snapshot's HEAD), or its last recorded commit once the branch is gone.
    func tip(of workspace: RunWorkspace, history: RunHistory) -> String {
        if workspace.isolation == .snapshot,
           let sha = try? repository(of: workspace).checked(["rev-parse", "--verify", "--quiet", "HEAD"]), !sha.isEmpty {
            return sha
        }
        if let branch = workspace.branch,
           let sha = try? git.checked(["rev-parse", "--verify", "--quiet", "refs/heads/\(branch)"]), !sha.isEmpty {
            return sha
        }
        return history.commits.last?.sha ?? workspace.baseCommit ?? "HEAD"
    }
}
