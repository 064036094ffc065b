/// `decision/resolve`: answer an agent's question with one of its options.
public struct DecisionResolveRequest: RequestType {
    public typealias Response = RunResult
    public static let method = "decision/resolve"
    public var runId: String
    public var decisionId: String
    public var choice: String
    /// Why: passed on to the agent (a permission's deny says why the tool may not run).
    public var reason: String?
    public init(runId: String, decisionId: String, choice: String, reason: String? = nil) {
        self.runId = runId
        self.decisionId = decisionId
        self.choice = choice
        self.reason = reason
    }
}

/// `step/approve`: accept a gated step's output, optionally edited.
public struct StepApproveRequest: RequestType {
    public typealias Response = RunResult
    public static let method = "step/approve"
    public var runId: String
    public var approvalId: String
    public var proposal: String?
    public init(runId: String, approvalId: String, proposal: String? = nil) {
        self.runId = runId
        self.approvalId = approvalId
        self.proposal = proposal
    }
}

/// `step/requestChanges`: send a gated step back with feedback.
public struct StepRequestChangesRequest: RequestType {
    public typealias Response = RunResult
    public static let method = "step/requestChanges"
    public var runId: String
    public var approvalId: String
    public var feedback: String
    public init(runId: String, approvalId: String, feedback: String) {
        self.runId = runId
        self.approvalId = approvalId
        self.feedback = feedback
    }
}

/// `step/reject`: refuse a gated step's output; the run fails with kind `rejected`.
public struct StepRejectRequest: RequestType {
    public typealias Response = RunResult
    public static let method = "step/reject"
    public var runId: String
    public var approvalId: String
    public var reason: String?
    public init(runId: String, approvalId: String, reason: String? = nil) {
        self.runId = runId
        self.approvalId = approvalId
        self.reason = reason
    }
}

/// `inbox/list`: every open gate across the workspace's runs.
public struct InboxListRequest: RequestType {
    public typealias Response = InboxListResult
    public static let method = "inbox/list"
    public init() {}
}

/// One thing a blocked run waits on: an open gate (a decision or approval a person answers), or its
/// fan-out step's child runs (`children`: nothing to answer, it goes away when the children have ended).
public struct InboxItem: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable { case decision, approval, children }

    /// A child run a parent waits on, as it stands when `inbox/list` is answered.
    public struct Child: Codable, Sendable, Hashable {
        public var runId: String
        public var status: RunStatus
        public var task: String?
        public init(runId: String, status: RunStatus, task: String? = nil) {
            self.runId = runId
            self.status = status
            self.task = task
        }
    }

    public var runId: String
    public var stepId: String
    public var kind: Kind
    public var id: String
    public var question: String?
    public var options: [String]?
    public var proposal: String?
    /// Present when the decision is a tool permission the agent waits on.
    public var permission: ToolPermission?
    /// An approval's review: the verdict of the review step that graded the proposal.
    public var review: ReviewSummary?
    /// Kind `children`: the fan-out step's child runs in merge order, with their status now.
    public var children: [Child]?
    public var since: String
    public init(runId: String, stepId: String, kind: Kind, id: String, question: String? = nil,
                options: [String]? = nil, proposal: String? = nil, permission: ToolPermission? = nil, review: ReviewSummary? = nil,
                children: [Child]? = nil, since: String) {
        self.children = children
        self.permission = permission
        self.review = review
        self.runId = runId
        self.stepId = stepId
        self.kind = kind
        self.id = id
        self.question = question
        self.options = options
        self.proposal = proposal
        self.since = since
    }
}

/// The answer to `inbox/list`.
public struct InboxListResult: Codable, Sendable, Hashable {
    public var items: [InboxItem]
    public init(items: [InboxItem]) { self.items = items }
}
