/// How a run is kept apart from the user's working tree.
public enum IsolationMode: String, WireEnum {
    /// Its own `git worktree` on branch `drover/<run-id>`.
    case worktree
    /// A copy of a workspace that is not a git repository, with a private repository for diff and apply.
    case snapshot
    /// Steps run in the workspace itself.
    case none
}

/// How `run/apply` brings a run's change onto the user's current branch.
public enum ApplyStrategy: String, WireEnum {
    /// `git merge --no-ff` of the run's branch (its per-step commits stay in the history).
    case merge
    /// One new commit with the whole change.
    case squash
    /// The change written into the working tree, not committed.
    case patch
}

/// Where a run's steps work: recorded by `run.workspace` before its first step, so every client and
/// a restarted engine know it.
public struct RunWorkspace: Codable, Sendable, Hashable {
    public var isolation: IsolationMode
    /// The directory steps run in (absolute).
    public var path: String
    /// The run's branch (worktree isolation).
    public var branch: String?
    /// The ref the branch was created from, as given (`HEAD` by default).
    public var base: String?
    /// The commit `base` named when the run started: what `run/diff` compares against.
    public var baseCommit: String?
    /// Why the run is not isolated, or what was carried in (`includeUncommitted`).
    public var note: String?
    /// Set by `run.applied`.
    public var applied: RunApplied?
    /// True once the worktree is removed (after `run/apply` or `run/discard`).
    public var removed: Bool?
    /// Set by `run.discarded`: the run's change was thrown away; it can no longer be diffed, applied or re-run.
    public var discarded: Bool?
    /// True once `run/discard` deleted the run's branch.
    public var branchDeleted: Bool?
    /// The repository's remote on a shared store: workers clone it, the run's branch is pushed there.
    public var remote: String?

    public init(isolation: IsolationMode, path: String, branch: String? = nil, base: String? = nil, baseCommit: String? = nil,
                note: String? = nil, applied: RunApplied? = nil, removed: Bool? = nil, discarded: Bool? = nil,
                branchDeleted: Bool? = nil, remote: String? = nil) {
        self.isolation = isolation
        self.path = path
        self.branch = branch
        self.base = base
        self.baseCommit = baseCommit
        self.note = note
        self.applied = applied
        self.removed = removed
        self.discarded = discarded
        self.branchDeleted = branchDeleted
        self.remote = remote
    }
}

/// A run's change as brought onto the user's branch.
public struct RunApplied: Codable, Sendable, Hashable {
    public var strategy: ApplyStrategy
    /// The user's branch it went into (absent on a detached HEAD).
    public var into: String?
    /// The commit made (absent for `patch`).
    public var commit: String?

    public init(strategy: ApplyStrategy, into: String? = nil, commit: String? = nil) {
        self.strategy = strategy
        self.into = into
        self.commit = commit
    }
}

/// One file of a run's change.
public struct ChangedFile: Codable, Sendable, Hashable {
    /// What happened to a file.
    public enum Status: String, WireEnum {
        case added, modified, deleted, renamed
    }

    public var path: String
    /// The path before a rename.
    public var oldPath: String?
    public var status: Status
    public var additions: Int
    public var deletions: Int
    public var binary: Bool
    /// This file's part of the unified diff (`diff --git …` through its last hunk).
    public var patch: String

    public init(path: String, oldPath: String? = nil, status: Status, additions: Int, deletions: Int, binary: Bool, patch: String) {
        self.path = path
        self.oldPath = oldPath
        self.status = status
        self.additions = additions
        self.deletions = deletions
        self.binary = binary
        self.patch = patch
    }
}
