/// A result holding one run (most run-changing methods return this).
public struct RunResult: Codable, Sendable, Hashable {
    public var run: Run
    public init(run: Run) { self.run = run }
}

/// `run/start`: create and start a run of a pipeline.
public struct RunStartRequest: RequestType {
    public typealias Response = RunResult
    public static let method = "run/start"
    public var pipelineId: String
    public var task: String
    public var inputs: [String: String]?
    /// Runs that must be done before this one starts (it waits `queued` until then).
    public var dependsOn: [String]?
    /// `worktree` (default for a git workspace, unless the pipeline says otherwise) or `none`.
    public var isolation: IsolationMode?
    /// The ref the run's branch starts from (default `HEAD`).
    public var base: String?
    /// Carry the workspace's uncommitted and untracked (not ignored) changes in as the first commit.
    public var includeUncommitted: Bool?
    /// Spending limits: reaching one pauses the run (`run.paused`), `run/resume` raises it.
    public var budget: RunBudget?
    public init(pipelineId: String, task: String, inputs: [String: String]? = nil, dependsOn: [String]? = nil,
                isolation: IsolationMode? = nil, base: String? = nil, includeUncommitted: Bool? = nil, budget: RunBudget? = nil) {
        self.budget = budget
        self.pipelineId = pipelineId
        self.task = task
        self.inputs = inputs
        self.dependsOn = dependsOn
        self.isolation = isolation
        self.base = base
        self.includeUncommitted = includeUncommitted
    }
}

/// `run/resume`: a paused run goes on from the step that stopped, with a raised budget if given.
public struct RunResumeRequest: RequestType {
    public typealias Response = RunResult
    public static let method = "run/resume"
    public var runId: String
    /// Replaces the run's budget (each limit given replaces that limit; absent ones stay).
    public var budget: RunBudget?
    public init(runId: String, budget: RunBudget? = nil) {
        self.runId = runId
        self.budget = budget
    }
}

/// `run/list`: runs, newest first, optionally filtered by status.
public struct RunListRequest: RequestType {
    public typealias Response = RunListResult
    public static let method = "run/list"
    public var status: [RunStatus]?
    public var limit: Int?
    public var cursor: String?
    public init(status: [RunStatus]? = nil, limit: Int? = nil, cursor: String? = nil) {
        self.status = status
        self.limit = limit
        self.cursor = cursor
    }
}

/// The answer to `run/list`; `nextCursor` is absent on the last page.
public struct RunListResult: Codable, Sendable, Hashable {
    public var runs: [Run]
    public var nextCursor: String?
    public init(runs: [Run], nextCursor: String?) {
        self.runs = runs
        self.nextCursor = nextCursor
    }
}

/// `run/get`: one run with its steps and outputs.
public struct RunGetRequest: RequestType {
    public typealias Response = RunResult
    public static let method = "run/get"
    public var runId: String
    public init(runId: String) { self.runId = runId }
}

/// `run/events`: a page of a run's event log after a given `seq`.
public struct RunEventsRequest: RequestType {
    public typealias Response = RunEventsResult
    public static let method = "run/events"
    public var runId: String
    public var afterSeq: Int?
    public var limit: Int?
    public init(runId: String, afterSeq: Int? = nil, limit: Int? = nil) {
        self.runId = runId
        self.afterSeq = afterSeq
        self.limit = limit
    }
}

/// The answer to `run/events`.
public struct RunEventsResult: Codable, Sendable, Hashable {
    public var events: [Event]
    public var lastSeq: Int
    public var more: Bool
    public init(events: [Event], lastSeq: Int, more: Bool) {
        self.events = events
        self.lastSeq = lastSeq
        self.more = more
    }
}

/// `run/cancel`: stop a live run; idempotent on a terminal run.
public struct RunCancelRequest: RequestType {
    public typealias Response = RunResult
    public static let method = "run/cancel"
    public var runId: String
    public var reason: String?
    public init(runId: String, reason: String? = nil) {
        self.runId = runId
        self.reason = reason
    }
}

/// `run/retry`: resume a failed or cancelled run at its first step not done.
public struct RunRetryRequest: RequestType {
    public typealias Response = RunResult
    public static let method = "run/retry"
    public var runId: String
    public init(runId: String) { self.runId = runId }
}

/// `run/restart`: re-run a run from a given step (stopping it first if live).
public struct RunRestartRequest: RequestType {
    public typealias Response = RunResult
    public static let method = "run/restart"
    public var runId: String
    public var fromStep: String
    public init(runId: String, fromStep: String) {
        self.runId = runId
        self.fromStep = fromStep
    }
}
