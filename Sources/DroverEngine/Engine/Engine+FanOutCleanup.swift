import DroverProtocol

/// A fan-out step that is over — completed, or failed while settling its children — no longer needs
/// its children's worktrees: what they did is merged into the parent's, or kept on their branches.
extension Engine {
    /// Removes the worktree of every ended child of the parent's fan-out step (those a retry replaced
    /// too) and records `run.discarded` on it. A child's branch is deleted when that loses nothing: it is
    /// merged into the parent's branch, or `run/discard` would delete it; otherwise it stays.
    func cleanUpChildren(of parentId: String, stepId: String) async {
        guard let parent = try? loadRun(parentId), let fanOut = try? history(parentId).fanOuts[stepId] else { return }
        let parentBranch = parent.workspace?.isolation == .worktree ? parent.workspace?.branch : nil
        for childId in fanOut.children.map(\.runId) + fanOut.replaced {
            guard let child = try? loadRun(childId), child.status.isTerminal, let workspace = child.workspace,
                  workspace.isolation == .worktree, workspace.removed != true, let branch = workspace.branch else { continue }
            let (worktrees, base) = (self.worktrees, workspace.baseCommit)
            do {
                let outcome = try await Self.offActor { () throws -> EventBody.Discarded in
                    let removed = try worktrees.remove(runId: childId)
                    _ = try? worktrees.git.run(["worktree", "prune"])
                    let inParent = try parentBranch.map {
                        try worktrees.git.run(["merge-base", "--is-ancestor", "refs/heads/\(branch)", "refs/heads/\($0)"]).status == 0
                    } ?? false
                    let safe = try inParent || worktrees.branchIsSafeToDelete(branch, baseCommit: base, applied: false) != nil
                    return EventBody.Discarded(worktreeRemoved: removed, branchDeleted: safe ? try worktrees.deleteBranch(branch) : false)
                }
                try commit([.runDiscarded(outcome)], runId: childId)
            } catch {
                log("cannot remove the worktree of child run \(childId) of run \(parentId): \(error)")
            }
        }
    }
}
