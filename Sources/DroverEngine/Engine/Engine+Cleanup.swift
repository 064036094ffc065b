import DroverProtocol
import Foundation

/// Throwing runs' changes away: `run/discard` for one run, `drover gc` for every finished run past an age.
///
/// A worktree goes; a branch goes only when nothing is lost (merged into the current branch, applied, or
/// without commits of the run's) or with `force`. Users of other tools lose work to deleted branches and
/// disk to forgotten worktrees: neither happens here.
extension Engine {
    /// `run/discard`: removes a finished run's worktree and (when safe, or forced) its branch; records
    /// `run.discarded`. Discarding again with `force` deletes a branch that was kept.
    public func discard(_ request: RunDiscardRequest) async throws -> Run {
        try await discardRecording(request).run
    }

    /// `run/discard`, and what its `run.discarded` recorded.
    func discardRecording(_ request: RunDiscardRequest) async throws -> (run: Run, discarded: EventBody.Discarded) {
        let run = try loadRun(request.runId)
        guard let workspace = run.workspace, workspace.isolation != .none else {
            throw EngineError.invalid("run \(run.id) ran in the workspace itself (isolation none): it has no worktree or branch to discard")
        }
        let branch = workspace.branch ?? ""
        guard run.status.isTerminal else {
            throw EngineError.conflict("run \(run.id) is \(run.status.rawValue); cancel it first (`drover cancel \(run.id)` or run/cancel), then discard it")
        }
        let force = request.force ?? false
        if workspace.discarded == true, workspace.branchDeleted == true || workspace.isolation == .snapshot || !force {
            throw EngineError.conflict("run \(run.id) was discarded already"
                                       + (workspace.branchDeleted == true || workspace.branch == nil ? "" : "; its branch \(branch) was kept: discard with force to delete it"))
        }
        guard !applying.contains(run.id) else { throw EngineError.conflict("run \(run.id) is being applied or discarded already") }
        applying.insert(run.id)
        defer { applying.remove(run.id) }
        let worktrees = self.worktrees
        let (runId, base, applied) = (run.id, workspace.baseCommit, workspace.applied != nil)
        if workspace.isolation == .snapshot {
            let snapshots = self.snapshots
            let removed = try await Self.offActor { try snapshots.remove(runId: runId) }
            let outcome = EventBody.Discarded(worktreeRemoved: removed, branchDeleted: false)
            return (try commit([.runDiscarded(outcome)], runId: run.id), outcome)
        }
        let outcome = try await Self.offActor { () throws -> EventBody.Discarded in
            let removed = try worktrees.remove(runId: runId)
            _ = try? worktrees.git.run(["worktree", "prune"])
            let safe = try worktrees.branchIsSafeToDelete(branch, baseCommit: base, applied: applied) != nil
            let deleted = (safe || force) ? try worktrees.deleteBranch(branch) || safe : false
            return EventBody.Discarded(worktreeRemoved: removed, branchDeleted: deleted)
        }
        return (try commit([.runDiscarded(outcome)], runId: run.id), outcome)
    }

    /// Refuses to re-run a run whose worktree is gone (applied or discarded): its steps would have nowhere to work.
    func checkHasWorkingDirectory(_ run: Run) throws {
        guard let workspace = run.workspace, workspace.isolation == .worktree, workspace.removed == true else { return }
        let why = workspace.discarded == true ? "was discarded" : "was applied"
        throw EngineError.conflict("run \(run.id) \(why), so its worktree is gone; start a new run instead")
    }

    /// What `garbageCollect` did to one run.
    public struct CollectedRun: Sendable, Hashable {
        public var runId: String
        public var status: RunStatus
        /// The run's worktree was removed now.
        public var worktreeRemoved: Bool
        /// Bytes that worktree took.
        public var bytesFreed: Int64
        /// The run's branch (none for a snapshot).
        public var branch: String?
        public var branchDeleted: Bool
        /// Why the branch stays (it holds commits found nowhere else), when it does.
        public var branchKept: String?
        /// The run worked in a snapshot copy (a folder that is not a git repository), not a worktree.
        public var isSnapshot: Bool
        /// Why an unapplied snapshot stays (without `force`), when it does.
        public var snapshotKept: String?
    }

    /// `drover gc`: discards every finished (done, failed, cancelled) isolated run last updated more than
    /// `olderThan` seconds before `now`; unmerged branches, and snapshots never applied, stay unless `force`.
    /// Runs discarded already are revisited only to delete a kept branch with `force`.
    public func garbageCollect(olderThan: TimeInterval, force: Bool, now: Date = Date()) async throws -> [CollectedRun] {
        let finished = try queries.allRuns(statuses: [.done, .failed, .cancelled])
        var collected: [CollectedRun] = []
        for run in finished.reversed() {
            guard let workspace = run.workspace, workspace.isolation != .none,
                  let updated = RunReport.date(run.updatedAt), now.timeIntervalSince(updated) >= olderThan
            else { continue }
            if workspace.discarded == true, workspace.branchDeleted == true || workspace.branch == nil || !force { continue }
            let worktrees = self.worktrees
            let bytes = await (try? Self.offActor { worktrees.diskUsage(runId: run.id) }) ?? 0
            if workspace.isolation == .snapshot, workspace.applied == nil, !force {
                // A snapshot's change lives nowhere else (no branch): like an unmerged branch, it stays.
                collected.append(CollectedRun(
                    runId: run.id, status: run.status, worktreeRemoved: false, bytesFreed: 0, branch: nil, branchDeleted: false,
                    branchKept: nil, isSnapshot: true,
                    snapshotKept: "its change was never applied and is only in this snapshot; `drover gc --force` or run/discard removes it"))
                continue
            }
            let (after, discarded) = try await discardRecording(RunDiscardRequest(runId: run.id, force: force))
            let deleted = after.workspace?.branchDeleted == true
            collected.append(CollectedRun(
                runId: run.id, status: run.status, worktreeRemoved: discarded.worktreeRemoved,
                bytesFreed: discarded.worktreeRemoved ? bytes : 0, branch: workspace.branch, branchDeleted: deleted,
                branchKept: deleted || workspace.branch == nil ? nil : "it has commits not merged into your branch; `drover gc --force` or run/discard with force deletes it",
                isSnapshot: workspace.isolation == .snapshot, snapshotKept: nil))
        }
        return collected
    }
}
