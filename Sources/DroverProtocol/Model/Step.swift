/// What a step does.
public enum StepKind: String, WireEnum {
    case agent, command, tests
}

/// Where a step stands within its run.
public enum StepState: String, WireEnum {
    case pending, working, waiting, done, failed, skipped
}

/// An agent's question with options, parked until a person answers.
public struct Decision: Codable, Sendable, Hashable {
    public var id: String
    public var question: String
    public var options: [String]
    public var chosen: String?

    public init(id: String, question: String, options: [String], chosen: String? = nil) {
        self.id = id
        self.question = question
        self.options = options
        self.chosen = chosen
    }
}

/// The state of an approval gate.
public enum ApprovalStatus: String, WireEnum {
    case pending, approved, rejected
    case changesRequested = "changes_requested"
}

/// A step output waiting for a person to approve, send back or reject.
public struct Approval: Codable, Sendable, Hashable {
    public var id: String
    public var status: ApprovalStatus
    public var proposal: String
    public var feedback: String?

    public init(id: String, status: ApprovalStatus, proposal: String, feedback: String? = nil) {
        self.id = id
        self.status = status
        self.proposal = proposal
        self.feedback = feedback
    }
}

/// One step of a run.
public struct Step: Codable, Sendable, Hashable {
    public var id: String
    public var kind: StepKind
    public var role: String?
    public var state: StepState
    public var attempts: Int
    public var output: String?
    public var startedAt: String?
    public var finishedAt: String?
    public var decision: Decision?
    public var approval: Approval?

    public init(
        id: String, kind: StepKind, role: String? = nil, state: StepState = .pending, attempts: Int = 0,
        output: String? = nil, startedAt: String? = nil, finishedAt: String? = nil,
        decision: Decision? = nil, approval: Approval? = nil
    ) {
        self.id = id
        self.kind = kind
        self.role = role
        self.state = state
        self.attempts = attempts
        self.output = output
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.decision = decision
        self.approval = approval
    }
}

/// Why a step or run failed, and what to do about it.
public struct Failure: Codable, Sendable, Hashable {
    /// The category of a failure; stable strings clients may switch on.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case agent, timeout, tests, rejected, cancelled, interrupted, dependency, `internal`
    }

    public var kind: Kind
    public var message: String
    public var hint: String
    public var stepId: String?

    public init(kind: Kind, message: String, hint: String, stepId: String? = nil) {
        self.kind = kind
        self.message = message
        self.hint = hint
        self.stepId = stepId
    }
}
