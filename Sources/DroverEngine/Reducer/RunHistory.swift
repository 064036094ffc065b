import DroverProtocol

/// What a run's event log remembers beyond the wire `Run`: every gate ever raised (with how it
/// was resolved) and every failed attempt. A pure fold, like `RunReducer`.
///
/// `GateRules` uses it to answer stale gate ids (an approval sent back for changes, a decision
/// answered two attempts ago); the step runner uses it to build the re-run context.
///
/// Epochs: `run.restarted` starts a clean slate for the steps it resets (their earlier decisions,
/// reviews and failures no longer reach the prompt); `run.retried` keeps the history, because a
/// retry is another try at the same work and the earlier failure messages are what it needs.
public struct RunHistory: Sendable, Hashable {
    /// A decision as raised and, maybe, answered.
    public struct DecisionRecord: Sendable, Hashable {
        public var id: String
        public var stepId: String
        public var question: String
        public var options: [String]
        public var chosen: String?
        /// The reason given with the choice.
        public var reason: String?
        /// Present for a tool permission.
        public var permission: ToolPermission?
        /// The answer reached the attempt that waited for it (so no later prompt needs to repeat it).
        public var answeredLive: Bool
        public var requestedAt: String
        /// The step was reset (retry/restart) before the decision was answered.
        public var superseded: Bool
        var epoch: Int
    }

    /// An approval as raised and, maybe, resolved.
    public struct ApprovalRecord: Sendable, Hashable {
        public var id: String
        public var stepId: String
        /// The agent's proposal (not the reviewer's edit).
        public var proposal: String
        public var status: ApprovalStatus
        public var feedback: String?
        /// The reviewer's edited proposal, if they approved with one.
        public var editedProposal: String?
        public var requestedAt: String
        /// The step was reset (retry/restart) before the approval was resolved.
        public var superseded: Bool
        /// The review step whose verdict was shown with the proposal: sending it back re-runs through it.
        public var reviewStepId: String?
        var epoch: Int
        /// When it was resolved (event seq), to list feedback in the order it was given.
        var resolvedSeq = 0
    }

    /// Where a review step's grade → rework loop stands, since the reviewed step last started afresh.
    public struct ReviewLoop: Sendable, Hashable {
        /// Rounds graded (the last verdict's round).
        public var graded = 0
        /// Extra rounds a person granted at the rounds-spent decision.
        public var grants = 0
        public var lastVerdict: EventBody.ReviewVerdict?
        /// The last reply that was not a verdict, since the last verdict: the next attempt is the repair.
        public var malformed: EventBody.ReviewMalformed?
        /// Replies that were not verdicts since the last verdict.
        public var malformedCount = 0
        /// The answer to the rounds-spent decision, until the engine has acted on it.
        public var choice: String?
    }

    /// A verdict below the threshold, as feedback for the reviewed step's re-run.
    struct VerdictFeedback: Sendable, Hashable {
        var verdict: EventBody.ReviewVerdict
        /// The reviewed step's output it graded.
        var proposal: String
        var epoch: Int
        var seq: Int
    }

    /// The rate limits in a row of one step, and what the agent said the last time.
    struct RateLimitRecord: Sendable, Hashable {
        var count: Int
        var message: String?
    }

    /// An agent session reported by an attempt of a step.
    struct SessionRecord: Sendable, Hashable {
        var id: String
        var epoch: Int
    }

    /// Where a tests step's test → fix → test loop stands.
    public struct TestsLoop: Sendable, Hashable {
        /// The role of the step's latest started attempt: nil for the tests command, else the fixer's.
        public var lastStartedRole: String?
        /// Fixer attempts started since the step was reset.
        public var fixRounds = 0
        /// The latest failing summary, given to the fixer.
        public var failingSummary: String?
    }

    /// A fan-out step's children since its last attempt: who they are, in merge order, and what
    /// became of each one's change.
    public struct FanOut: Sendable, Hashable {
        public var attempt: Int
        /// The step's output (its list of subtasks).
        public var output: String
        /// The current children in merge order (a retried child takes the place of the one it replaces).
        public var children: [ChildRun]
        /// Children a retry replaced, oldest first.
        public var replaced: [String] = []
        /// Children whose change was merged, found empty, skipped or left out.
        public var settled: [String: ChildMergeOutcome] = [:]
        /// The answer to the latest merge conflict, not acted on yet.
        public var mergeChoice: String?
        /// When the step last started waiting on children (its latest `run.children`).
        public var waitingSince = ""

        /// The first child whose change is not settled yet.
        public var nextToSettle: ChildRun? { children.first { settled[$0.runId] == nil } }
    }

    /// A failed attempt of a step.
    public struct FailureRecord: Sendable, Hashable {
        public var stepId: String
        public var attempt: Int
        public var failure: Failure
        var epoch: Int
    }

    public private(set) var stepIds: [String] = []
    public private(set) var decisions: [DecisionRecord] = []
    public private(set) var approvals: [ApprovalRecord] = []
    public private(set) var failures: [FailureRecord] = []
    /// The last session each step's agent reported, with the epoch it belongs to.
    private var sessions: [String: SessionRecord] = [:]
    /// Steps whose session ended in a failure: later attempts start afresh until one reports a new session.
    private var failedLast: Set<String> = []
    /// Every commit the engine made on the run's branch, oldest first.
    public private(set) var commits: [EventBody.StepCommitted] = []
    /// Each tests step's fixer loop since the step was last reset.
    public private(set) var testsLoops: [String: TestsLoop] = [:]
    /// Each fan-out step's children since its last attempt started.
    public private(set) var fanOuts: [String: FanOut] = [:]
    /// Per step, the rate limits its agent hit since an attempt of it last ended otherwise (for the
    /// backoff and the re-run context).
    private var rateLimits: [String: RateLimitRecord] = [:]
    /// Each consensus step's answers since its last decision, interruption or reset (`consensus.candidate`).
    private var consensusRounds: [String: [EventBody.ConsensusCandidate]] = [:]
    /// The newest `tests.finished` of the run (for `{{tests.summary}}`).
    public private(set) var latestTests: EventBody.TestsFinished?
    /// Each review step's loop.
    public private(set) var reviewLoops: [String: ReviewLoop] = [:]
    private var verdictFeedback: [VerdictFeedback] = []
    private var stepKinds: [String: StepKind] = [:]
    /// The last output each step completed with.
    private var outputs: [String: String] = [:]
    private var epochs: [String: Int] = [:]

    public init() {}

    /// The history of a whole event log.
    public init(events: [Event]) {
        for event in events { apply(event) }
    }

    /// Folds one more event in.
    public mutating func apply(_ event: Event) {
        switch event.body {
        case .runCreated(let data):
            stepIds = data.steps.map(\.id)
            stepKinds = Dictionary(data.steps.map { ($0.id, $0.kind) }, uniquingKeysWith: { first, _ in first })
        case .runQueued(let data):
            guard data.reason == .rateLimit, let stepId = data.stepId else { break }
            rateLimits[stepId] = RateLimitRecord(count: (rateLimits[stepId]?.count ?? 0) + 1, message: data.message)
            // A rate-limited fixer round did no fixing: it does not use up one of the step's rounds.
            if testsLoops[stepId]?.lastStartedRole != nil, let rounds = testsLoops[stepId]?.fixRounds, rounds > 0 {
                testsLoops[stepId]?.fixRounds = rounds - 1
            }
        case .decisionRequested(let data):
            rateLimits[data.stepId] = nil
            decisions.append(DecisionRecord(
                id: data.decisionId, stepId: data.stepId, question: data.question, options: data.options,
                chosen: nil, permission: data.permission, answeredLive: false, requestedAt: event.at, superseded: false,
                epoch: epoch(data.stepId)))
        case .decisionResolved(let data):
            if fanOuts[data.stepId] != nil { fanOuts[data.stepId]?.mergeChoice = data.choice }
            if let index = decisions.firstIndex(where: { $0.id == data.decisionId }) {
                decisions[index].chosen = data.choice
                decisions[index].reason = data.reason
                decisions[index].answeredLive = data.attempt != nil
                if isReviewDecision(decisions[index]) {
                    reviewLoops[data.stepId, default: ReviewLoop()].choice = data.choice
                    if data.choice == ReviewChoice.grantRound { reviewLoops[data.stepId, default: ReviewLoop()].grants += 1 }
                }
            }
        case .approvalRequested(let data):
            rateLimits[data.stepId] = nil
            approvals.append(ApprovalRecord(
                id: data.approvalId, stepId: data.stepId, proposal: data.proposal, status: .pending,
                feedback: nil, editedProposal: nil, requestedAt: event.at, superseded: false, reviewStepId: data.review?.stepId,
                epoch: epoch(data.stepId)))
        case .approvalResolved(let data):
            if let index = approvals.firstIndex(where: { $0.id == data.approvalId }) {
                approvals[index].status = data.status
                approvals[index].feedback = data.feedback ?? approvals[index].feedback
                if data.status == .approved { approvals[index].editedProposal = data.proposal }
                approvals[index].resolvedSeq = event.seq
            }
        case .agentSession(let data):
            sessions[data.stepId] = SessionRecord(id: data.sessionId, epoch: epoch(data.stepId))
            failedLast.remove(data.stepId)
        case .stepCompleted(let data):
            rateLimits[data.stepId] = nil
            outputs[data.stepId] = data.output
            reviewLoops[data.stepId]?.choice = nil
        case .reviewVerdict(let data):
            var loop = reviewLoops[data.stepId, default: ReviewLoop()]
            loop.graded = data.round
            loop.lastVerdict = data
            loop.malformed = nil
            loop.malformedCount = 0
            reviewLoops[data.stepId] = loop
            if !data.passed {
                verdictFeedback.append(VerdictFeedback(verdict: data, proposal: outputs[data.reviews] ?? "", epoch: epoch(data.reviews),
                                                       seq: event.seq))
            }
        case .reviewMalformed(let data):
            reviewLoops[data.stepId, default: ReviewLoop()].malformed = data
            reviewLoops[data.stepId, default: ReviewLoop()].malformedCount += 1
        case .reviewRework(let data):
            let range = stepIds.drop { $0 != data.reviews }
            for stepId in range.prefix(through: range.firstIndex(of: data.stepId) ?? range.endIndex - 1) { testsLoops[stepId] = nil }
            var loop = data.round <= 1 ? ReviewLoop() : reviewLoops[data.stepId, default: ReviewLoop()]
            loop.choice = nil
            loop.malformed = nil
            loop.malformedCount = 0
            reviewLoops[data.stepId] = loop
        case .stepStarted(let data):
            fanOuts[data.stepId] = nil
            testsLoops[data.stepId, default: TestsLoop()].lastStartedRole = data.role
            if data.role != nil { testsLoops[data.stepId, default: TestsLoop()].fixRounds += 1 }
        case .testsFinished(let data):
            latestTests = data
            testsLoops[data.stepId, default: TestsLoop()].failingSummary = data.passed ? nil : data.summary
        case .stepCommitted(let data):
            commits.append(data)
        case .consensusCandidate(let data):
            consensusRounds[data.stepId, default: []].append(data)
        case .consensusDecided(let data):
            consensusRounds[data.stepId] = nil
        case .stepInterrupted(let data):
            // The round's candidates ran at once and their worktrees are gone: an interrupted round starts afresh.
            consensusRounds[data.stepId] = nil
        case .runChildren(let data):
            var fanOut = fanOuts[data.stepId] ?? FanOut(attempt: data.attempt, output: data.output, children: [])
            for child in data.children {
                if let replaced = child.replaces, let index = fanOut.children.firstIndex(where: { $0.runId == replaced }) {
                    fanOut.children[index] = child
                    fanOut.replaced.append(replaced)
                } else {
                    fanOut.children.append(child)
                }
            }
            fanOut.mergeChoice = nil
            fanOut.waitingSince = event.at
            fanOuts[data.stepId] = fanOut
        case .childMerged(let data):
            fanOuts[data.stepId]?.settled[data.childRunId] = data.outcome
            fanOuts[data.stepId]?.mergeChoice = nil
        case .stepFailed(let data):
            rateLimits[data.stepId] = nil
            failedLast.insert(data.stepId)
            failures.append(FailureRecord(stepId: data.stepId, attempt: data.attempt, failure: data.failure, epoch: epoch(data.stepId)))
        case .runRetried(let data), .runRestarted(let data):
            let reset = Set(stepIds.drop { $0 != data.fromStep })
            for index in decisions.indices where reset.contains(decisions[index].stepId) && decisions[index].chosen == nil {
                decisions[index].superseded = true
            }
            for index in approvals.indices where reset.contains(approvals[index].stepId) && approvals[index].status == .pending {
                approvals[index].superseded = true
            }
            for stepId in reset {
                testsLoops[stepId] = nil
                rateLimits[stepId] = nil
                reviewLoops[stepId] = nil
                consensusRounds[stepId] = nil
                fanOuts[stepId] = nil
            }
            if case .runRestarted = event.body {
                for stepId in reset { epochs[stepId, default: 0] += 1 }
            }
        case .runCancelled:
            break // pending gates stay pending; GateRules refuses them because the run is terminal
        default:
            break
        }
    }

    private func epoch(_ stepId: String) -> Int { epochs[stepId, default: 0] }

    /// The rounds-spent decision of a review step (not a question its agent asked).
    private func isReviewDecision(_ decision: DecisionRecord) -> Bool {
        stepKinds[decision.stepId] == .review && decision.options == ReviewChoice.options && decision.permission == nil
    }
    /// The answers a consensus step collected since it last decided (or was reset), in order.
    public func consensusRound(_ stepId: String) -> [EventBody.ConsensusCandidate] { consensusRounds[stepId] ?? [] }

    /// The decision with this id.
    public func decision(_ id: String) -> DecisionRecord? { decisions.first { $0.id == id } }

    /// The approval with this id.
    public func approval(_ id: String) -> ApprovalRecord? { approvals.first { $0.id == id } }

    /// The number the next decision of `stepId` gets (1-based, unique in the run).
    public func nextDecisionNumber(stepId: String) -> Int { decisions.filter { $0.stepId == stepId }.count + 1 }

    /// The number the next approval of `stepId` gets (1-based, unique in the run).
    public func nextApprovalNumber(stepId: String) -> Int { approvals.filter { $0.stepId == stepId }.count + 1 }

    /// The agent session a new attempt of `stepId` should resume: the last one its agent reported
    /// since the step's last restart, unless that attempt failed (a failed conversation is not
    /// continued; the re-run starts afresh with the failure in its prompt).
    public func resumableSession(stepId: String) -> String? {
        guard let session = sessions[stepId], session.epoch == epoch(stepId), !failedLast.contains(stepId) else { return nil }
        return session.id
    }

    /// How many times in a row the agent of `stepId` was rate limited (0 once an attempt ends otherwise).
    public func consecutiveRateLimits(stepId: String) -> Int {
        rateLimits[stepId]?.count ?? 0
    }

    /// The tools a person allowed from now on ("allow for this run", an ACP agent's `allow_always` option),
    /// which later attempts of any step may use without asking again; since each step's last restart.
    public var toolsAllowedForRun: [String] {
        var tools: [String] = []
        for decision in decisions where decision.epoch == epoch(decision.stepId) {
            guard let permission = decision.permission, let chosen = decision.chosen,
                  permission.kind(of: chosen, options: decision.options) == .allowAlways else { continue }
            if !tools.contains(permission.tool) { tools.append(permission.tool) }
        }
        return tools
    }

    /// What a re-run of `stepId` must be told, since its last restart. Answers that reached the agent
    /// while it ran are not repeated.
    public func rerunContext(stepId: String) -> RerunContext {
        let current = epoch(stepId)
        return RerunContext(
            decisions: decisions.filter { $0.stepId == stepId && $0.epoch == current && $0.chosen != nil && !$0.answeredLive }
                .map { .init(question: $0.question, choice: $0.chosen ?? "", reason: $0.reason) },
            reviews: reviewFeedback(stepId: stepId, epoch: current),
            failures: failures.filter { $0.stepId == stepId && $0.epoch == current }
                .map { .init(attempt: $0.attempt, kind: $0.failure.kind, message: $0.failure.message) },
            rateLimited: rateLimits[stepId].map { $0.message ?? "" })
    }
}

extension RunHistory {
    /// A person's requested changes and rejections, and review steps' verdicts below their threshold,
    /// in the order they were given.
    fileprivate func reviewFeedback(stepId: String, epoch: Int) -> [RerunContext.Review] {
        let people = approvals.filter { $0.stepId == stepId && $0.epoch == epoch && ($0.status == .changesRequested || $0.status == .rejected) }
            .map { (seq: $0.resolvedSeq, review: RerunContext.Review(rejected: $0.status == .rejected, feedback: $0.feedback, proposal: $0.proposal)) }
        let reviewers = verdictFeedback.filter { $0.verdict.reviews == stepId && $0.epoch == epoch }
            .map { (seq: $0.seq, review: RerunContext.Review(rejected: false, feedback: ReviewVerdictText.feedback($0.verdict), proposal: $0.proposal)) }
        return (people + reviewers).sorted { $0.seq < $1.seq }.map(\.review)
    }
}

/// The context the engine appends to a re-run's prompt.
public struct RerunContext: Sendable, Hashable {
    public struct DecisionAnswer: Sendable, Hashable {
        public var question: String
        public var choice: String
        public var reason: String?
        public init(question: String, choice: String, reason: String? = nil) {
            self.question = question
            self.choice = choice
            self.reason = reason
        }
    }

    public struct Review: Sendable, Hashable {
        public var rejected: Bool
        public var feedback: String?
        public var proposal: String
        public init(rejected: Bool, feedback: String?, proposal: String) {
            self.rejected = rejected
            self.feedback = feedback
            self.proposal = proposal
        }
    }

    public struct FailedAttempt: Sendable, Hashable {
        public var attempt: Int
        public var kind: Failure.Kind
        public var message: String
    }

    public var decisions: [DecisionAnswer]
    public var reviews: [Review]
    public var failures: [FailedAttempt]
    /// Set when the step's last attempt was rate limited: what the agent said (maybe empty).
    public var rateLimited: String?

    public init(decisions: [DecisionAnswer] = [], reviews: [Review] = [], failures: [FailedAttempt] = [], rateLimited: String? = nil) {
        self.decisions = decisions
        self.reviews = reviews
        self.failures = failures
        self.rateLimited = rateLimited
    }

    public var isEmpty: Bool { decisions.isEmpty && reviews.isEmpty && failures.isEmpty && rateLimited == nil }

    /// The whole prompt of an attempt that resumes its agent's session: the agent has the task and
    /// the earlier turns already, so only what happened since (the answers, the reviews, failures).
    public func renderedForResume() -> String {
        var lines = rendered().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        while lines.first?.isEmpty == true || lines.first == "---" { lines.removeFirst() }
        if lines.first == "Context from earlier attempts of this step:" {
            lines[0] = "Continue the same task. Since your last turn:"
        }
        return lines.joined(separator: "\n")
    }

    /// The block appended to the prompt; empty when there is nothing to say.
    ///
    /// Every answered decision and every failure message is listed; of the reviews, all feedback
    /// is listed but only the newest proposal is quoted in full (it is what the agent revises).
    public func rendered() -> String {
        guard !isEmpty else { return "" }
        var lines = ["", "", "---", "Context from earlier attempts of this step:"]
        for decision in decisions {
            lines.append("Decision: \(decision.question) → \(decision.choice)" + (decision.reason.map { " (\($0))" } ?? ""))
        }
        for (index, review) in reviews.enumerated() {
            let verb = review.rejected ? "rejected" : "requested changes to"
            let feedback = review.feedback.map { $0.isEmpty ? "(no reason given)" : $0 } ?? "(no reason given)"
            lines.append("The reviewer \(verb) your previous proposal: \(feedback)")
            if index == reviews.count - 1 {
                lines.append("Previous proposal:")
                lines.append(review.proposal)
            }
        }
        for failure in failures {
            lines.append("Attempt \(failure.attempt) failed (\(failure.kind.rawValue)): \(failure.message)")
        }
        if let said = rateLimited {
            lines.append("You were rate limited by the model API\(said.isEmpty ? "" : " (\(said))"); the limit has passed: continue where you left off.")
        }
        return lines.joined(separator: "\n")
    }
}
