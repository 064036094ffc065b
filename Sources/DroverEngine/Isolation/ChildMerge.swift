import Foundation

/// Merges a child run's branch into its parent's worktree (a fan-out step's children, in order).
/// A conflict is aborted at once, so the parent's worktree is left as it was.
struct ChildMerge: Sendable {
    /// What one merge did.
    enum Outcome: Sendable, Equatable {
        /// A merge commit (or fast-forward) on the parent's branch.
        case merged(commit: String)
        /// The child's branch had nothing the parent lacks.
        case upToDate
        /// The changes conflict in these files; nothing was changed.
        case conflict(files: [String])
    }

    /// The parent's working directory (in its worktree).
    let parent: Git

    /// Merges `branch` into the parent's current branch with `message`.
    func merge(branch: String, message: String) throws -> Outcome {
        try merge(ref: "refs/heads/\(branch)", message: message)
    }

    /// Merges `ref` (a branch's full name or a commit) into the parent's current branch with `message`.
    func merge(ref: String, message: String) throws -> Outcome {
        let before = try parent.checked(["rev-parse", "HEAD"])
        let merged = try parent.run(["merge", "--no-ff", "--no-edit", "--no-verify", "-m", message, ref])
        if merged.status == 0 {
            let after = try parent.checked(["rev-parse", "HEAD"])
            return after == before ? .upToDate : .merged(commit: after)
        }
        let files = (try? parent.checked(["diff", "--name-only", "--diff-filter=U"]))?
            .split(separator: "\n").map(String.init) ?? []
        _ = try? parent.run(["merge", "--abort"])
        guard !files.isEmpty else { throw GitError(arguments: ["merge", ref], output: merged) }
        return .conflict(files: files)
    }
}
