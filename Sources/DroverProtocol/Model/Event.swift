/// One durable change to a run. `run/event` notifications are exactly these.
public struct Event: Sendable, Hashable {
    public var runId: String
    /// Per run, starting at 1, without gaps.
    public var seq: Int
    /// ISO 8601 UTC timestamp with milliseconds.
    public var at: String
    public var body: EventBody

    public init(runId: String, seq: Int, at: String, body: EventBody) {
        self.runId = runId
        self.seq = seq
        self.at = at
        self.body = body
    }

    /// The wire name of the event, e.g. `step.started`.
    public var type: String { body.type }
}

/// A step as announced in `run.created`.
public struct StepInfo: Codable, Sendable, Hashable {
    public var id: String
    public var kind: StepKind
    public var role: String?

    public init(id: String, kind: StepKind, role: String? = nil) {
        self.id = id
        self.kind = kind
        self.role = role
    }
}

/// Every event type, named once: the wire names (`run.created`, …) in the order the protocol lists them.
public enum EventType: String, CaseIterable, Sendable {
    case runCreated = "run.created"
    case runQueued = "run.queued"
    case runStarted = "run.started"
    case stepStarted = "step.started"
    case stepCompleted = "step.completed"
    case stepFailed = "step.failed"
    case stepInterrupted = "step.interrupted"
    case stepSkipped = "step.skipped"
    case decisionRequested = "decision.requested"
    case decisionResolved = "decision.resolved"
    case approvalRequested = "approval.requested"
    case approvalResolved = "approval.resolved"
    case usageRecorded = "usage.recorded"
    case agentSession = "agent.session"
    case runRetried = "run.retried"
    case runRestarted = "run.restarted"
    case runCompleted = "run.completed"
    case runFailed = "run.failed"
    case runCancelled = "run.cancelled"
    case runWorkspace = "run.workspace"
    case stepCommitted = "step.committed"
    case testsFinished = "tests.finished"
    case runApplied = "run.applied"
    case runPaused = "run.paused"
    case runResumed = "run.resumed"
    case runDiscarded = "run.discarded"
    case reviewVerdict = "review.verdict"
    case reviewRework = "review.rework"
    case reviewMalformed = "review.malformed"
    case consensusCandidate = "consensus.candidate"
    case consensusDecided = "consensus.decided"
    case runChildren = "run.children"
    case childMerged = "child.merged"
}

/// The typed payloads of every event type.
public enum EventBody: Sendable, Hashable {
    case runCreated(RunCreated)
    case runQueued(RunQueued)
    case runStarted
    case stepStarted(StepAttempt)
    case stepCompleted(StepCompleted)
    case stepFailed(StepFailed)
    case stepInterrupted(StepAttempt)
    case stepSkipped(StepSkipped)
    case decisionRequested(DecisionRequested)
    case decisionResolved(DecisionResolved)
    case approvalRequested(ApprovalRequested)
    case approvalResolved(ApprovalResolved)
    case usageRecorded(UsageRecorded)
    case agentSession(AgentSession)
    case runRetried(FromStep)
    case runRestarted(FromStep)
    case runCompleted
    case runFailed(RunFailed)
    case runCancelled(RunCancelled)
    case runWorkspace(WorkspaceRecorded)
    case stepCommitted(StepCommitted)
    case testsFinished(TestsFinished)
    case runApplied(Applied)
    case runPaused(RunPaused)
    case runResumed(RunResumed)
    case runDiscarded(Discarded)
    case reviewVerdict(ReviewVerdict)
    case reviewRework(ReviewRework)
    case reviewMalformed(ReviewMalformed)
    case consensusCandidate(ConsensusCandidate)
    case consensusDecided(ConsensusDecided)
    case runChildren(Children)
    case childMerged(ChildMerged)

    public struct RunCreated: Codable, Sendable, Hashable {
        public var pipelineId: String
        public var task: String
        public var inputs: [String: String]?
        public var steps: [StepInfo]
        /// Runs that must be done before this one starts.
        public var dependsOn: [String]?
        public var budget: RunBudget?
        /// A child run: the run whose fan-out step started it, and that step.
        public var parentRunId: String?
        public var parentStepId: String?
        /// What drover chose on the run's behalf and how to choose otherwise: the agent it picked for roles
        /// no config names (a built-in pipeline with `claude` or `codex` on PATH).
        public var notice: String?
        public init(pipelineId: String, task: String, inputs: [String: String]? = nil, steps: [StepInfo], dependsOn: [String]? = nil,
                    budget: RunBudget? = nil, parentRunId: String? = nil, parentStepId: String? = nil, notice: String? = nil) {
            self.budget = budget
            self.parentRunId = parentRunId
            self.parentStepId = parentStepId
            self.notice = notice
            self.pipelineId = pipelineId
            self.task = task
            self.inputs = inputs
            self.steps = steps
            self.dependsOn = dependsOn
        }
    }

    /// `run.queued`: why a created run has not started yet, or (reason `rate_limit`) why a started one
    /// waits until `retryAt` before its step re-runs.
    public struct RunQueued: Codable, Sendable, Hashable {
        public var reason: QueueReason
        /// With reason `dependency`: the runs not done yet.
        public var waitingFor: [String]?
        /// With reason `rate_limit`: when the step re-runs (ISO 8601 UTC).
        public var retryAt: String?
        /// With reason `rate_limit`: the step whose agent was rate limited.
        public var stepId: String?
        /// With reason `rate_limit`: what the agent said.
        public var message: String?
        public init(reason: QueueReason, waitingFor: [String]? = nil, retryAt: String? = nil, stepId: String? = nil,
                    message: String? = nil) {
            self.reason = reason
            self.waitingFor = waitingFor
            self.retryAt = retryAt
            self.stepId = stepId
            self.message = message
        }
    }

    public struct StepAttempt: Codable, Sendable, Hashable {
        public var stepId: String
        public var attempt: Int
        /// The role running this attempt when it is not the step's own: `fixer` rounds of a tests step.
        public var role: String?
        public init(stepId: String, attempt: Int, role: String? = nil) {
            self.stepId = stepId
            self.attempt = attempt
            self.role = role
        }
    }

    public struct StepCompleted: Codable, Sendable, Hashable {
        public var stepId: String
        public var attempt: Int
        public var output: String
        public init(stepId: String, attempt: Int, output: String) {
            self.stepId = stepId
            self.attempt = attempt
            self.output = output
        }
    }

    public struct StepFailed: Codable, Sendable, Hashable {
        public var stepId: String
        public var attempt: Int
        public var failure: Failure
        public init(stepId: String, attempt: Int, failure: Failure) {
            self.stepId = stepId
            self.attempt = attempt
            self.failure = failure
        }
    }

    /// `step.skipped`: the step's `when` condition was false when the run reached it.
    public struct StepSkipped: Codable, Sendable, Hashable {
        public var stepId: String
        /// Why, for people: the condition and the value it found.
        public var reason: String
        public init(stepId: String, reason: String) {
            self.stepId = stepId
            self.reason = reason
        }
    }

    public struct DecisionRequested: Codable, Sendable, Hashable {
        public var stepId: String
        public var decisionId: String
        public var question: String
        public var options: [String]
        /// The attempt that waits for the answer while it runs; absent when the attempt ended with the question.
        public var attempt: Int?
        /// Present when the decision is a tool permission.
        public var permission: ToolPermission?
        public init(stepId: String, decisionId: String, question: String, options: [String], attempt: Int? = nil,
                    permission: ToolPermission? = nil) {
            self.stepId = stepId
            self.decisionId = decisionId
            self.question = question
            self.options = options
            self.attempt = attempt
            self.permission = permission
        }
    }

    public struct DecisionResolved: Codable, Sendable, Hashable {
        public var stepId: String
        public var decisionId: String
        public var choice: String
        /// The reason given with the choice (a permission's deny), passed on to the agent.
        public var reason: String?
        /// Set when the answer went to the attempt that waited for it, which goes on; absent when the
        /// step re-runs with the answer in its prompt.
        public var attempt: Int?
        public init(stepId: String, decisionId: String, choice: String, reason: String? = nil, attempt: Int? = nil) {
            self.stepId = stepId
            self.decisionId = decisionId
            self.choice = choice
            self.reason = reason
            self.attempt = attempt
        }
    }

    public struct ApprovalRequested: Codable, Sendable, Hashable {
        public var stepId: String
        public var approvalId: String
        public var proposal: String
        /// The verdict of the review step that graded the proposal, shown next to it.
        public var review: ReviewSummary?
        public init(stepId: String, approvalId: String, proposal: String, review: ReviewSummary? = nil) {
            self.stepId = stepId
            self.approvalId = approvalId
            self.proposal = proposal
            self.review = review
        }
    }

    public struct ApprovalResolved: Codable, Sendable, Hashable {
        public var stepId: String
        public var approvalId: String
        public var status: ApprovalStatus
        public var feedback: String?
        public var proposal: String?
        public init(stepId: String, approvalId: String, status: ApprovalStatus, feedback: String? = nil, proposal: String? = nil) {
            self.stepId = stepId
            self.approvalId = approvalId
            self.status = status
            self.feedback = feedback
            self.proposal = proposal
        }
    }

    /// The session an agent reported for an attempt: a later attempt of the step resumes it.
    public struct AgentSession: Codable, Sendable, Hashable {
        public var stepId: String
        public var attempt: Int
        public var sessionId: String
        public init(stepId: String, attempt: Int, sessionId: String) {
            self.stepId = stepId
            self.attempt = attempt
            self.sessionId = sessionId
        }
    }

    /// One attempt's use of one model. `inputTokens` counts every input token, the cache's included
    /// (`cacheReadTokens` and `cacheWriteTokens` are parts of it); `costUSD` is Drover's price for them
    /// (`priceSource` says where it came from), `reportedCostUSD` the agent's own figure when it gives one.
    public struct UsageRecorded: Codable, Sendable, Hashable {
        public var stepId: String
        public var model: String
        public var inputTokens: Int
        public var outputTokens: Int
        public var cacheReadTokens: Int
        public var cacheWriteTokens: Int
        public var costUSD: Double
        public var reportedCostUSD: Double?
        /// Absent on events recorded before Drover priced usage itself.
        public var priceSource: PriceSource?
        public init(stepId: String, model: String, inputTokens: Int, outputTokens: Int, cacheReadTokens: Int = 0,
                    cacheWriteTokens: Int = 0, costUSD: Double, reportedCostUSD: Double? = nil, priceSource: PriceSource? = nil) {
            self.stepId = stepId
            self.model = model
            self.inputTokens = inputTokens
            self.outputTokens = outputTokens
            self.cacheReadTokens = cacheReadTokens
            self.cacheWriteTokens = cacheWriteTokens
            self.costUSD = costUSD
            self.reportedCostUSD = reportedCostUSD
            self.priceSource = priceSource
        }

        private enum CodingKeys: String, CodingKey {
            case stepId, model, inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens, costUSD, reportedCostUSD, priceSource
        }

        // Events recorded before the cache was counted have no cache fields: zero.
        public init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            stepId = try container.decode(String.self, forKey: .stepId)
            model = try container.decode(String.self, forKey: .model)
            inputTokens = try container.decode(Int.self, forKey: .inputTokens)
            outputTokens = try container.decode(Int.self, forKey: .outputTokens)
            cacheReadTokens = try container.decodeIfPresent(Int.self, forKey: .cacheReadTokens) ?? 0
            cacheWriteTokens = try container.decodeIfPresent(Int.self, forKey: .cacheWriteTokens) ?? 0
            costUSD = try container.decode(Double.self, forKey: .costUSD)
            reportedCostUSD = try container.decodeIfPresent(Double.self, forKey: .reportedCostUSD)
            priceSource = try container.decodeIfPresent(PriceSource.self, forKey: .priceSource)
        }
    }

    public struct FromStep: Codable, Sendable, Hashable {
        public var fromStep: String
        public init(fromStep: String) { self.fromStep = fromStep }
    }

    public struct RunFailed: Codable, Sendable, Hashable {
        public var failure: Failure
        public init(failure: Failure) { self.failure = failure }
    }

    public struct RunCancelled: Codable, Sendable, Hashable {
        public var reason: String
        public init(reason: String) { self.reason = reason }
    }

    /// Where the run's steps work (`run.workspace`), recorded once before its first step.
    public struct WorkspaceRecorded: Codable, Sendable, Hashable {
        public var isolation: IsolationMode
        public var path: String
        public var branch: String?
        public var base: String?
        public var baseCommit: String?
        public var note: String?
        /// The repository's remote (fetch URL) on a shared store: where other machines get the code.
        public var remote: String?
        public init(isolation: IsolationMode, path: String, branch: String? = nil, base: String? = nil,
                    baseCommit: String? = nil, note: String? = nil, remote: String? = nil) {
            self.isolation = isolation
            self.path = path
            self.branch = branch
            self.base = base
            self.baseCommit = baseCommit
            self.note = note
            self.remote = remote
        }
    }

    /// The engine committed what an attempt changed on the run's branch.
    public struct StepCommitted: Codable, Sendable, Hashable {
        public var stepId: String
        public var attempt: Int
        public var sha: String
        public var files: Int
        public var insertions: Int
        public var deletions: Int
        public init(stepId: String, attempt: Int, sha: String, files: Int, insertions: Int, deletions: Int) {
            self.stepId = stepId
            self.attempt = attempt
            self.sha = sha
            self.files = files
            self.insertions = insertions
            self.deletions = deletions
        }
    }

    /// One run of a tests step's command.
    public struct TestsFinished: Codable, Sendable, Hashable {
        public var stepId: String
        public var attempt: Int
        public var passed: Bool
        /// The last lines of the output (what a fixer is shown).
        public var summary: String
        public var exitCode: Int?
        /// Fixer rounds still allowed after this one failed (absent without a fixer).
        public var fixesLeft: Int?
        public init(stepId: String, attempt: Int, passed: Bool, summary: String, exitCode: Int? = nil, fixesLeft: Int? = nil) {
            self.stepId = stepId
            self.attempt = attempt
            self.passed = passed
            self.summary = summary
            self.exitCode = exitCode
            self.fixesLeft = fixesLeft
        }
    }

    /// `run/apply` brought the run's change onto the user's branch.
    public struct Applied: Codable, Sendable, Hashable {
        public var strategy: ApplyStrategy
        public var into: String?
        public var commit: String?
        /// The run's worktree was removed afterwards.
        public var worktreeRemoved: Bool
        public init(strategy: ApplyStrategy, into: String? = nil, commit: String? = nil, worktreeRemoved: Bool) {
            self.strategy = strategy
            self.into = into
            self.commit = commit
            self.worktreeRemoved = worktreeRemoved
        }
    }

    /// The run stopped where it stood because it reached its budget (`reason: "budget"`).
    public struct RunPaused: Codable, Sendable, Hashable {
        public var reason: String
        /// What the run has used so far.
        public var spent: Usage
        public var limit: RunBudget
        public init(reason: String, spent: Usage, limit: RunBudget) {
            self.reason = reason
            self.spent = spent
            self.limit = limit
        }
    }

    /// `run/resume`: a paused run goes on, with `budget` (the whole new budget) when it was raised.
    public struct RunResumed: Codable, Sendable, Hashable {
        public var budget: RunBudget?
        public init(budget: RunBudget? = nil) { self.budget = budget }
    }

    /// `run/discard` (or `drover gc`) threw the run's change away.
    public struct Discarded: Codable, Sendable, Hashable {
        /// The run's worktree was removed now (false when it was gone already).
        public var worktreeRemoved: Bool
        /// The run's branch was deleted; false when it is kept because it holds commits found nowhere else.
        public var branchDeleted: Bool
        public init(worktreeRemoved: Bool, branchDeleted: Bool) {
            self.worktreeRemoved = worktreeRemoved
            self.branchDeleted = branchDeleted
        }
    }

    /// `review.verdict`: a review step graded the output of the step it `reviews`.
    public struct ReviewVerdict: Codable, Sendable, Hashable {
        /// The review step.
        public var stepId: String
        /// The step whose output was graded.
        public var reviews: String
        /// 1 for the first grading since the reviewed step last started afresh.
        public var round: Int
        public var attempt: Int
        public var score: Double
        public var threshold: Double
        public var passed: Bool
        public var findings: [String]
        public init(stepId: String, reviews: String, round: Int, attempt: Int, score: Double, threshold: Double, passed: Bool,
                    findings: [String]) {
            self.stepId = stepId
            self.reviews = reviews
            self.round = round
            self.attempt = attempt
            self.score = score
            self.threshold = threshold
            self.passed = passed
            self.findings = findings
        }
    }

    /// `review.rework`: the reviewed step and every step up to the reviewer re-run, the findings in the
    /// reviewed step's prompt; `round` is the round the reviewer grades next.
    public struct ReviewRework: Codable, Sendable, Hashable {
        public var stepId: String
        public var reviews: String
        public var round: Int
        public init(stepId: String, reviews: String, round: Int) {
            self.stepId = stepId
            self.reviews = reviews
            self.round = round
        }
    }

    /// `review.malformed`: the reviewer's reply was not a verdict; it is asked once more with a repair prompt.
    public struct ReviewMalformed: Codable, Sendable, Hashable {
        public var stepId: String
        public var attempt: Int
        /// What was wrong with the reply.
        public var problem: String
        /// The reply (its first 4000 characters).
        public var text: String
        public init(stepId: String, attempt: Int, problem: String, text: String) {
            self.stepId = stepId
            self.attempt = attempt
            self.problem = problem
            self.text = text
        }
    }

    /// One agent of a consensus step answered, or gave no answer (`failure`); its attempt's log and
    /// usage are the attempt's own.
    public struct ConsensusCandidate: Codable, Sendable, Hashable {
        public var stepId: String
        public var attempt: Int
        public var role: String
        /// Its answer; empty when it gave none.
        public var output: String
        /// Why it gave no answer (it failed, timed out, asked a question or hit a rate limit); such a
        /// candidate takes no part in the vote or the judging.
        public var failure: Failure?
        /// In an isolated run: the commit of what it changed in its own worktree (nil when it changed nothing).
        public var commit: String?
        public init(stepId: String, attempt: Int, role: String, output: String, failure: Failure? = nil, commit: String? = nil) {
            self.stepId = stepId
            self.attempt = attempt
            self.role = role
            self.output = output
            self.failure = failure
            self.commit = commit
        }
    }

    /// A consensus step chose its output: by `vote` (the answer most candidates agree on) or by its `judge`.
    public struct ConsensusDecided: Codable, Sendable, Hashable {
        public var stepId: String
        public var strategy: ConsensusStrategy
        /// The role whose answer won; the judge's role when it merged the answers.
        public var winner: String
        /// The vote count or the judge's reasons.
        public var reasons: String?
        /// What becomes the step's output.
        public var output: String
        /// In an isolated run: the candidate whose file changes were brought into the run's worktree (the
        /// winner; for a judge's merged answer, the candidate its reply names in `changesFrom`, else the first that
        /// answered). Nil when no candidate changed a file.
        public var changesFrom: String?
        public init(stepId: String, strategy: ConsensusStrategy, winner: String, reasons: String? = nil, output: String,
                    changesFrom: String? = nil) {
            self.stepId = stepId
            self.strategy = strategy
            self.winner = winner
            self.reasons = reasons
            self.output = output
            self.changesFrom = changesFrom
        }
    }

    /// A fan-out step's output listed subtasks: a child run was created for each (or one replaces a
    /// child whose merge conflicted); the step waits for them.
    public struct Children: Codable, Sendable, Hashable {
        public var stepId: String
        public var attempt: Int
        /// The step's output (the list of subtasks): the step's output once its children are merged.
        public var output: String
        public var children: [ChildRun]
        public init(stepId: String, attempt: Int, output: String, children: [ChildRun]) {
            self.stepId = stepId
            self.attempt = attempt
            self.output = output
            self.children = children
        }
    }

    /// What became of one child run's change in its parent's working directory.
    public struct ChildMerged: Codable, Sendable, Hashable {
        public var stepId: String
        public var childRunId: String
        public var outcome: ChildMergeOutcome
        /// The parent's merge commit (outcome `merged`).
        public var commit: String?
        public init(stepId: String, childRunId: String, outcome: ChildMergeOutcome, commit: String? = nil) {
            self.stepId = stepId
            self.childRunId = childRunId
            self.outcome = outcome
            self.commit = commit
        }
    }

    /// Every event type's wire name, in the order the protocol lists them.
    public static let allTypes: [String] = EventType.allCases.map(\.rawValue)

    /// The type of this payload.
    public var eventType: EventType {
        switch self {
        case .runCreated: .runCreated
        case .runQueued: .runQueued
        case .runStarted: .runStarted
        case .stepStarted: .stepStarted
        case .stepCompleted: .stepCompleted
        case .stepFailed: .stepFailed
        case .stepInterrupted: .stepInterrupted
        case .stepSkipped: .stepSkipped
        case .decisionRequested: .decisionRequested
        case .decisionResolved: .decisionResolved
        case .approvalRequested: .approvalRequested
        case .approvalResolved: .approvalResolved
        case .usageRecorded: .usageRecorded
        case .agentSession: .agentSession
        case .runRetried: .runRetried
        case .runRestarted: .runRestarted
        case .runCompleted: .runCompleted
        case .runFailed: .runFailed
        case .runCancelled: .runCancelled
        case .runWorkspace: .runWorkspace
        case .stepCommitted: .stepCommitted
        case .testsFinished: .testsFinished
        case .runApplied: .runApplied
        case .runPaused: .runPaused
        case .runResumed: .runResumed
        case .runDiscarded: .runDiscarded
        case .reviewVerdict: .reviewVerdict
        case .reviewRework: .reviewRework
        case .reviewMalformed: .reviewMalformed
        case .consensusCandidate: .consensusCandidate
        case .consensusDecided: .consensusDecided
        case .runChildren: .runChildren
        case .childMerged: .childMerged
        }
    }

    /// The wire name of this payload.
    public var type: String { eventType.rawValue }
}

/// An empty `data` object for events that carry nothing.
private struct NoData: Codable {}

extension EventBody {
    /// Encodes the payload as the event's `data` member.
    public func encodeData(to container: inout KeyedEncodingContainer<Event.CodingKeys>) throws {
        switch self {
        case .runCreated(let data): try container.encode(data, forKey: .data)
        case .runQueued(let data): try container.encode(data, forKey: .data)
        case .stepStarted(let data), .stepInterrupted(let data): try container.encode(data, forKey: .data)
        case .stepCompleted(let data): try container.encode(data, forKey: .data)
        case .stepFailed(let data): try container.encode(data, forKey: .data)
        case .stepSkipped(let data): try container.encode(data, forKey: .data)
        case .decisionRequested(let data): try container.encode(data, forKey: .data)
        case .decisionResolved(let data): try container.encode(data, forKey: .data)
        case .approvalRequested(let data): try container.encode(data, forKey: .data)
        case .approvalResolved(let data): try container.encode(data, forKey: .data)
        case .usageRecorded(let data): try container.encode(data, forKey: .data)
        case .agentSession(let data): try container.encode(data, forKey: .data)
        case .runRetried(let data), .runRestarted(let data): try container.encode(data, forKey: .data)
        case .runFailed(let data): try container.encode(data, forKey: .data)
        case .runCancelled(let data): try container.encode(data, forKey: .data)
        case .runWorkspace(let data): try container.encode(data, forKey: .data)
        case .stepCommitted(let data): try container.encode(data, forKey: .data)
        case .testsFinished(let data): try container.encode(data, forKey: .data)
        case .runApplied(let data): try container.encode(data, forKey: .data)
        case .runPaused(let data): try container.encode(data, forKey: .data)
        case .runResumed(let data): try container.encode(data, forKey: .data)
        case .runDiscarded(let data): try container.encode(data, forKey: .data)
        case .reviewVerdict(let data): try container.encode(data, forKey: .data)
        case .reviewRework(let data): try container.encode(data, forKey: .data)
        case .reviewMalformed(let data): try container.encode(data, forKey: .data)
        case .consensusCandidate(let data): try container.encode(data, forKey: .data)
        case .consensusDecided(let data): try container.encode(data, forKey: .data)
        case .runChildren(let data): try container.encode(data, forKey: .data)
        case .childMerged(let data): try container.encode(data, forKey: .data)
        case .runStarted, .runCompleted: try container.encode(NoData(), forKey: .data)
        }
    }

    /// Decodes a payload of the given wire type from the event's `data` member.
    public static func decode(type: String, from container: KeyedDecodingContainer<Event.CodingKeys>) throws -> EventBody {
        func data<T: Decodable>(_: T.Type) throws -> T { try container.decode(T.self, forKey: .data) }
        guard let eventType = EventType(rawValue: type) else {
            throw DecodingError.dataCorruptedError(
                forKey: .type, in: container, debugDescription: "unknown event type '\(type)'")
        }
        switch eventType {
        case .runCreated: return .runCreated(try data(RunCreated.self))
        case .runQueued: return .runQueued(try data(RunQueued.self))
        case .runStarted: return .runStarted
        case .stepStarted: return .stepStarted(try data(StepAttempt.self))
        case .stepCompleted: return .stepCompleted(try data(StepCompleted.self))
        case .stepFailed: return .stepFailed(try data(StepFailed.self))
        case .stepInterrupted: return .stepInterrupted(try data(StepAttempt.self))
        case .stepSkipped: return .stepSkipped(try data(StepSkipped.self))
        case .decisionRequested: return .decisionRequested(try data(DecisionRequested.self))
        case .decisionResolved: return .decisionResolved(try data(DecisionResolved.self))
        case .approvalRequested: return .approvalRequested(try data(ApprovalRequested.self))
        case .approvalResolved: return .approvalResolved(try data(ApprovalResolved.self))
        case .usageRecorded: return .usageRecorded(try data(UsageRecorded.self))
        case .agentSession: return .agentSession(try data(AgentSession.self))
        case .runRetried: return .runRetried(try data(FromStep.self))
        case .runRestarted: return .runRestarted(try data(FromStep.self))
        case .runCompleted: return .runCompleted
        case .runFailed: return .runFailed(try data(RunFailed.self))
        case .runCancelled: return .runCancelled(try data(RunCancelled.self))
        case .runWorkspace: return .runWorkspace(try data(WorkspaceRecorded.self))
        case .stepCommitted: return .stepCommitted(try data(StepCommitted.self))
        case .testsFinished: return .testsFinished(try data(TestsFinished.self))
        case .runApplied: return .runApplied(try data(Applied.self))
        case .runPaused: return .runPaused(try data(RunPaused.self))
        case .runResumed: return .runResumed(try data(RunResumed.self))
        case .runDiscarded: return .runDiscarded(try data(Discarded.self))
        case .reviewVerdict: return .reviewVerdict(try data(ReviewVerdict.self))
        case .reviewRework: return .reviewRework(try data(ReviewRework.self))
        case .reviewMalformed: return .reviewMalformed(try data(ReviewMalformed.self))
        case .consensusCandidate: return .consensusCandidate(try data(ConsensusCandidate.self))
        case .consensusDecided: return .consensusDecided(try data(ConsensusDecided.self))
        case .runChildren: return .runChildren(try data(Children.self))
        case .childMerged: return .childMerged(try data(ChildMerged.self))
        }
    }
}

extension Event: Codable {
    public enum CodingKeys: String, CodingKey {
        case runId, seq, type, at, data
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        runId = try container.decode(String.self, forKey: .runId)
        seq = try container.decode(Int.self, forKey: .seq)
        at = try container.decode(String.self, forKey: .at)
        body = try EventBody.decode(type: try container.decode(String.self, forKey: .type), from: container)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(runId, forKey: .runId)
        try container.encode(seq, forKey: .seq)
        try container.encode(type, forKey: .type)
        try container.encode(at, forKey: .at)
        try body.encodeData(to: &container)
    }
}
