/// `run/diff`: what a run changed against its base (or what one step's commits changed).
public struct RunDiffRequest: RequestType {
    public typealias Response = RunDiffResult
    public static let method = "run/diff"
    public var runId: String
    /// Only this step's commits.
    public var stepId: String?
    public init(runId: String, stepId: String? = nil) {
        self.runId = runId
        self.stepId = stepId
    }
}

/// The answer to `run/diff`: the files changed between `from` and `to`, each with its part of `patch`.
public struct RunDiffResult: Codable, Sendable, Hashable {
    public var runId: String
    /// The commit compared against (the run's base, or the parent of the step's first commit).
    public var from: String
    /// The commit compared (the run's branch tip, or the step's last commit).
    public var to: String
    public var files: [ChangedFile]
    /// The whole unified diff (`git diff -M from to`).
    public var patch: String
    public init(runId: String, from: String, to: String, files: [ChangedFile], patch: String) {
        self.runId = runId
        self.from = from
        self.to = to
        self.files = files
        self.patch = patch
    }
}

/// `run/apply`: bring a finished run's change onto the user's current branch.
public struct RunApplyRequest: RequestType {
    public typealias Response = RunResult
    public static let method = "run/apply"
    public var runId: String
    /// `merge` (default), `squash` or `patch`.
    public var strategy: ApplyStrategy?
    public init(runId: String, strategy: ApplyStrategy? = nil) {
        self.runId = runId
        self.strategy = strategy
    }
}
