import DroverProtocol
import Foundation

/// Runs in their own git worktrees: preparing one when a run starts, committing what each attempt
/// changed, and `run/diff` / `run/apply`. Git runs off the actor (these helpers are `nonisolated`), so a
/// slow repository never holds up other runs' events.
extension Engine {
    nonisolated var worktrees: RunWorktrees {
        var worktrees = RunWorktrees(workspace: options.workspace, environment: options.environment)
        worktrees.recordsRemote = options.sharesStore
        return worktrees
    }
    nonisolated var snapshots: RunSnapshots { RunSnapshots(workspace: options.workspace, environment: options.environment) }

    /// Decides where a new run works and creates its worktree: `request.isolation`, else the pipeline's
    /// default, else `worktree` for a git workspace and `none` elsewhere (said so in `note`).
    func prepareRunWorkspace(runId: String, request: RunStartRequest, pipelineDefault: IsolationMode?)
        async throws -> EventBody.WorkspaceRecorded {
        let worktrees = self.worktrees
        // Git runs off the actor; a folder with no `.git` above it needs none, nor a hop to another thread.
        let (isGit, hasCommits) = !worktrees.hasGitAbove() ? (false, false) : try await Self.offActor { () -> (Bool, Bool) in
            let isGit = worktrees.isInsideWorkTree()
            return (isGit, isGit && worktrees.hasCommits())
        }
        switch try workspacePlan(isGit: isGit, hasCommits: hasCommits, request: request, pipelineDefault: pipelineDefault) {
        case .recorded(let workspace):
            return workspace
        case .snapshot:
            let snapshots = self.snapshots
            return try await Self.offActor { try snapshots.create(runId: runId) }
        case .worktree(let base, let carry):
            return try await Self.offActor { try worktrees.create(runId: runId, base: base, includeUncommitted: carry) }
        }
    }

    /// Where a new run works when nothing needs making: a folder with no `.git` above it, run in place
    /// (isolation none). Nil when git must be asked or a snapshot made (`prepareRunWorkspace`, off the
    /// actor). Decided in the caller's actor turn, so `run/start` checks and records such a run in one.
    func workspaceInPlace(request: RunStartRequest, pipelineDefault: IsolationMode?) throws -> EventBody.WorkspaceRecorded? {
        guard !worktrees.hasGitAbove(),
              case .recorded(let workspace) = try workspacePlan(isGit: false, hasCommits: false, request: request,
                                                                pipelineDefault: pipelineDefault) else { return nil }
        return workspace
    }

    /// How a new run's workspace is had.
    enum WorkspacePlan {
        /// The workspace itself: recorded as it is.
        case recorded(EventBody.WorkspaceRecorded)
        /// A snapshot of the (non-git) folder, to copy.
        case snapshot
        /// A git worktree, to create at `base` (default: HEAD), with the uncommitted changes if asked.
        case worktree(base: String?, includeUncommitted: Bool)
    }

    /// The isolation `request` gets in a workspace that is (`isGit`) a git repository (`hasCommits`: with a
    /// commit to branch from), or why it cannot have the one it asks for.
    private func workspacePlan(isGit: Bool, hasCommits: Bool, request: RunStartRequest,
                               pipelineDefault: IsolationMode?) throws -> WorkspacePlan {
        var mode = request.isolation ?? pipelineDefault ?? (isGit ? .worktree : .none)
        if mode == .worktree, isGit, !hasCommits, request.base == nil, request.isolation == nil {
            // Nothing to branch from yet: a fresh `git init` runs like a plain folder rather than fail.
            mode = .none
        }
        if mode == .snapshot {
            guard !isGit else {
                throw EngineError.invalid("isolation \"snapshot\" is for a folder that is not a git repository; "
                                          + "\(options.workspace.path) is in one: use isolation \"worktree\" (the default)")
            }
            guard request.base == nil, request.includeUncommitted != true else {
                throw EngineError.invalid("'base' and 'includeUncommitted' need isolation \"worktree\"; this run has isolation \"snapshot\"")
            }
            return .snapshot
        }
        switch mode {
        case .none, .snapshot:
            if isGit, !hasCommits, request.isolation == nil, request.base == nil, request.includeUncommitted != true {
                return .recorded(EventBody.WorkspaceRecorded(
                    isolation: .none, path: workspacePath,
                    note: "the repository has no commit yet, so there is nothing to branch from: steps run in the workspace itself (isolation none)"))
            }
            if request.base != nil || request.includeUncommitted == true {
                throw EngineError.invalid("'base' and 'includeUncommitted' need isolation \"worktree\"; this run has isolation \"\(mode.rawValue)\"")
            }
            let note = isGit ? "isolation none: steps run in the workspace itself"
                : "the workspace is not a git repository: steps run in the workspace itself (isolation none)"
            return .recorded(EventBody.WorkspaceRecorded(isolation: .none, path: workspacePath, note: note))
        case .worktree:
            guard isGit else {
                throw EngineError.invalid("isolation \"worktree\" needs a git repository, and \(options.workspace.path) is not in one; "
                                          + "run `git init` there, or start the run with isolation \"none\"")
            }
            return .worktree(base: request.base, includeUncommitted: request.includeUncommitted ?? false)
        }
    }

    /// Removes a worktree whose run was never recorded (its start failed after the worktree was made).
    nonisolated func discardWorktree(runId: String) async {
        let worktrees = self.worktrees
        _ = try? await Self.offActor {
            _ = try? worktrees.remove(runId: runId)
            _ = try? worktrees.git.run(["branch", "-D", RunWorktrees.branch(runId: runId)])
        }
    }

    /// Commits what an attempt changed in the run's worktree; nil when nothing changed or the run is not
    /// isolated. A failure is logged: the change stays in the worktree and the next commit takes it.
    nonisolated func commitAttempt(workspace: RunWorkspace?, runId: String, stepId: String, attempt: Int, role: String?)
        async -> EventBody.StepCommitted? {
        guard let workspace, workspace.isolation != .none, workspace.removed != true else { return nil }
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
        try RunDiffReader.isolatedWorkspace(of: run)
    }

    /// The commit a run's change ends at: its branch, or its last recorded commit once the branch is gone.
    nonisolated func tip(of workspace: RunWorkspace, history: RunHistory) -> String {
        RunDiffReader(workspace: options.workspace, environment: options.environment).tip(of: workspace, history: history)
    }

    /// `run/diff`: the run's change against its base, or what one step's commits changed.
    public func diff(_ request: RunDiffRequest) async throws -> RunDiffResult {
        let run = try loadRun(request.runId)
        let history = try history(run.id)
        let reader = RunDiffReader(workspace: options.workspace, environment: options.environment)
        return try await Self.offActor { try reader.diff(run: run, history: history, stepId: request.stepId) }
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
        let history = try history(run.id)
        let tip: String = try await Self.offActor { [self] in self.tip(of: workspace, history: history) }
        let base = workspace.baseCommit ?? "HEAD"
        if workspace.isolation == .snapshot {
            guard request.strategy == nil || request.strategy == .patch else {
                throw EngineError.invalid("run \(run.id) worked in a snapshot of a folder that is not a git repository: "
                                          + "it can only be applied as a patch (strategy \"patch\")")
            }
            let (snapshots, runId, path) = (self.snapshots, run.id, workspace.path)
            try await Self.offActor { try snapshots.apply(runId: runId, snapshotPath: path, baseCommit: base, tip: tip) }
            // The snapshot stays: it holds the repository run/diff reads; run/discard or `drover gc` removes it.
            return try commit([.runApplied(.init(strategy: .patch, worktreeRemoved: false))], runId: run.id)
        }
        let strategy = request.strategy ?? .merge
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

    /// Runs blocking work (git subprocesses) on a thread of its own (one an earlier piece of work left idle,
    /// else a new one): neither the actor nor the cooperative
    /// pool (a couple of threads on a small machine) waits while git runs. Not `DispatchQueue.global()`:
    /// on Linux its threads are the cooperative pool's, so a wait there stalls every task until
    /// Dispatch's monitor adds a thread, seconds later.
    nonisolated static func offActor<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            offActorThreads.run { continuation.resume(with: Result { try work() }) }
        }
    }

    /// The threads `offActor` work runs on, kept for the next piece of work instead of one created per call.
    private static let offActorThreads = ReusedThreads(name: "drover-off-actor")
}
