import DroverProtocol
import Foundation

/// Runs in their own git worktrees: preparing one when a run starts, committing what each attempt
/// changed, and `run/diff` / `run/apply`. Git runs off the actor (these helpers are `nonisolated`), so a
/// slow repository never holds up other runs' events.
extension Engine {
    nonisolated var worktrees: RunWorktrees { RunWorktrees(workspace: options.workspace, environment: options.environment) }

    /// Decides where a new run works and creates its worktree: `request.isolation`, else the pipeline's
    /// default, else `worktree` for a git workspace and `none` elsewhere (said so in `note`).
    nonisolated func prepareRunWorkspace(runId: String, request: RunStartRequest, pipelineDefault: IsolationMode?)
        async throws -> EventBody.WorkspaceRecorded {
        let worktrees = RunWorktrees(workspace: options.workspace, environment: options.environment)
        let (isGit, hasCommits) = try await Self.offActor { () -> (Bool, Bool) in
            let isGit = worktrees.isGitWorkspace()
            return (isGit, isGit && worktrees.hasCommits())
        }
        var mode = request.isolation ?? pipelineDefault ?? (isGit ? .worktree : .none)
        if mode == .worktree, isGit, !hasCommits, request.base == nil, request.isolation == nil {
            // Nothing to branch from yet: a fresh `git init` runs like a plain folder rather than fail.
            mode = .none
        }
        switch mode {
        case .none:
            if isGit, !hasCommits, request.isolation == nil, request.base == nil, request.includeUncommitted != true {
                return EventBody.WorkspaceRecorded(
                    isolation: .none, path: options.workspace.path,
                    note: "the repository has no commit yet, so there is nothing to branch from: steps run in the workspace itself (isolation none)")
            }
            if request.base != nil || request.includeUncommitted == true {
                throw EngineError.invalid("'base' and 'includeUncommitted' need isolation \"worktree\"; this run has isolation \"none\"")
            }
            let note = isGit ? "isolation none: steps run in the workspace itself"
                : "the workspace is not a git repository: steps run in the workspace itself (isolation none)"
            return EventBody.WorkspaceRecorded(isolation: .none, path: options.workspace.path, note: note)
        case .worktree:
            guard isGit else {
                throw EngineError.invalid("isolation \"worktree\" needs a git repository, and \(options.workspace.path) is not in one; "
                                          + "run `git init` there, or start the run with isolation \"none\"")
            }
            let (base, carry) = (request.base, request.includeUncommitted ?? false)
            return try await Self.offActor { try worktrees.create(runId: runId, base: base, includeUncommitted: carry) }
        }
    }

    /// Removes a worktree whose run was never recorded (its start failed after the worktree was made).
    nonisolated func discardWorktree(runId: String) async {
        let worktrees = RunWorktrees(workspace: options.workspace, environment: options.environment)
        _ = try? await Self.offActor {
            _ = try? worktrees.remove(runId: runId)
            _ = try? worktrees.git.run(["branch", "-D", RunWorktrees.branch(runId: runId)])
        }
    }

    /// Commits what an attempt changed in the run's worktree; nil when nothing changed or the run is not
    /// isolated. A failure is logged: the change stays in the worktree and the next commit takes it.
    nonisolated func commitAttempt(workspace: RunWorkspace?, runId: String, stepId: String, attempt: Int, role: String?)
        async -> EventBody.StepCommitted? {
        guard let workspace, workspace.isolation == .worktree, workspace.removed != true else { return nil }
        let message = "drover: run \(runId), step \(stepId), attempt \(attempt)" + (role.map { " (\($0))" } ?? "")
        let worktrees = self.worktrees
        do {
            guard let commit = try await Self.offActor({ try worktrees.commitAll(in: workspace.path, message: message) }) else {
                return nil
            }
            return EventBody.StepCommitted(stepId: stepId, attempt: attempt, sha: commit.sha, files: commit.files,
                                           insertions: commit.insertions, deletions: commit.deletions)
        } catch {
            log("cannot commit the changes of run \(runId) step \(stepId) (attempt \(attempt)): \(error)")
            return nil
        }
    }

    /// The run's worktree, or a clear refusal for a run that has none.
    func isolatedWorkspace(of run: Run) throws -> RunWorkspace {
        guard let workspace = run.workspace, workspace.isolation == .worktree, let base = workspace.baseCommit, !base.isEmpty else {
            throw EngineError.invalid(
                "run \(run.id) ran in the workspace itself (isolation none), so it has no branch to diff or apply; its changes are already in your tree")
        }
        return workspace
    }

    /// The commit a run's change ends at: its branch, or its last recorded commit once the branch is gone.
    nonisolated func tip(of workspace: RunWorkspace, history: RunHistory) -> String {
        let git = RunWorktrees(workspace: options.workspace, environment: options.environment).git
        if let branch = workspace.branch,
           let sha = try? git.checked(["rev-parse", "--verify", "--quiet", "refs/heads/\(branch)"]), !sha.isEmpty {
            return sha
        }
        return history.commits.last?.sha ?? workspace.baseCommit ?? "HEAD"
    }

    /// `run/diff`: the run's change against its base, or what one step's commits changed.
    public func diff(_ request: RunDiffRequest) async throws -> RunDiffResult {
        let run = try loadRun(request.runId)
        let workspace = try isolatedWorkspace(of: run)
        let history = try history(run.id)
        var from = workspace.baseCommit ?? "HEAD"
        let branchTip: String = try await Self.offActor { [self] in self.tip(of: workspace, history: history) }
        var to = branchTip
        if let stepId = request.stepId {
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
        let git = worktrees.git
        let (start, end) = (from, to)
        let changes = try await Self.offActor { try RunChanges.between(start, end, git: git) }
        return RunDiffResult(runId: run.id, from: from, to: to, files: changes.files, patch: changes.patch)
    }

    /// `run/apply`: brings a done run's change onto the user's current branch, then removes its worktree
    /// (the branch stays). Refusals leave the user's tree as it was.
    public func apply(_ request: RunApplyRequest) async throws -> Run {
        let run = try loadRun(request.runId)
        let workspace = try isolatedWorkspace(of: run)
        if let applied = workspace.applied {
            throw EngineError.conflict("run \(run.id) was already applied (\(applied.strategy.rawValue)"
                                       + (applied.into.map { " into \($0)" } ?? "") + ")")
        }
        guard run.status == .done else {
            throw EngineError.conflict("run \(run.id) is \(run.status.rawValue); only a done run can be applied"
                                       + (run.status.isTerminal ? " (retry it first)" : " (wait until it finishes)"))
        }
        guard !applying.contains(run.id) else { throw EngineError.conflict("run \(run.id) is being applied already") }
        applying.insert(run.id)
        defer { applying.remove(run.id) }
        let strategy = request.strategy ?? .merge
        let history = try history(run.id)
        let tip: String = try await Self.offActor { [self] in self.tip(of: workspace, history: history) }
        let base = workspace.baseCommit ?? "HEAD"
        let carriedIn = workspace.note?.hasPrefix("carried") == true
        let worktrees = self.worktrees
        let runId = run.id
        let (outcome, removed) = try await Self.offActor { () throws -> (RunApplier.Outcome, Bool) in
            let outcome = try RunApplier(git: worktrees.git)
                .apply(runId: runId, strategy: strategy, baseCommit: base, tip: tip, carriedIn: carriedIn)
            let removed = (try? worktrees.remove(runId: runId)) ?? false
            return (outcome, removed)
        }
        return try commit([.runApplied(.init(strategy: strategy, into: outcome.into, commit: outcome.commit,
                                             worktreeRemoved: removed))], runId: run.id)
    }

    /// Runs blocking work (git subprocesses) on a Dispatch thread: neither the actor nor the cooperative
    /// pool (a couple of threads on a small machine) waits while git runs.
    nonisolated static func offActor<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }
}
