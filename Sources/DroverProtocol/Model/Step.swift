/// What a step does.
public enum StepKind: String, WireEnum {
    /// `review`: an agent grades an earlier step's output against a threshold (`review.verdict`).
    case agent, command, tests, review
}

/// How a consensus step picks among its agents' answers.
public enum ConsensusStrategy: String, WireEnum {
    /// The answer most agents agree on (compared as JSON when it parses, else as text with case and spacing ignored).
    case vote
    /// A judge role reads every answer and picks or merges one, with its reasons.
    case judge
}

/// One child run of a fan-out step: its id and the subtask it was given.
public struct ChildRun: Codable, Sendable, Hashable {
    public var runId: String
    public var task: String
    /// The child this one replaces (retried on top of the parent after its merge conflicted).
    public var replaces: String?
    public init(runId: String, task: String, replaces: String? = nil) {
        self.runId = runId
        self.task = task
        self.replaces = replaces
    }
}

/// What became of a child run's change in its parent: `merged` into the parent's working directory,
/// `nothing` to merge (no change, or the runs share one folder), `skipped` (a person chose so after a
/// conflict), `failed` (the child did not end done; its change is left out).
public enum ChildMergeOutcome: String, WireEnum {
    case merged, nothing, skipped, failed
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
    /// The attempt that waits for the answer while it runs (a tool permission); absent when the
    /// attempt ended with the question and the step re-runs with the answer.
    public var attempt: Int?
    /// Present when the decision is a tool permission: which tool and what it would do.
    public var permission: ToolPermission?

    public init(id: String, question: String, options: [String], chosen: String? = nil, attempt: Int? = nil,
                permission: ToolPermission? = nil) {
        self.id = id
        self.question = question
        self.options = options
        self.chosen = chosen
        self.attempt = attempt
        self.permission = permission
    }
}

/// A tool an agent asks permission to use. The decision's options are the agent's own (an ACP agent's
/// "Always Allow" / "Allow" / "Reject"), or drover's `ToolPermission.options` for Claude Code; `optionKinds`
/// says what each of them does.
public struct ToolPermission: Codable, Sendable, Hashable {
    /// The tool's name as the agent calls it (`Bash`, `Write`; an ACP agent's tool kind or title).
    public var tool: String
    /// What the call would do, one line ("npm install left-pad", "Sources/x.swift").
    public var input: String
    /// What each of the decision's options does, in the same order, so a client can style allow and reject.
    /// Absent in decisions recorded before it existed, whose options are always `ToolPermission.options`.
    public var optionKinds: [PermissionOptionKind]?

    /// Drover's own options, for agents that offer none (Claude Code), in this order.
    public static let options = [allowOnce, allowForRun, deny]
    public static let allowOnce = "allow once"
    public static let allowForRun = "allow for this run"
    public static let deny = "deny"
    /// What drover's own options do.
    public static let kinds: [PermissionOptionKind] = [.allowOnce, .allowAlways, .rejectOnce]

    public init(tool: String, input: String, optionKinds: [PermissionOptionKind]? = nil) {
        self.tool = tool
        self.input = input
        self.optionKinds = optionKinds
    }

    /// What choosing `choice` among the decision's `options` does; nil for a text that is not one of them.
    public func kind(of choice: String, options: [String]) -> PermissionOptionKind? {
        let kinds = optionKinds ?? Self.kinds
        let names = optionKinds == nil ? Self.options : options
        guard let index = names.firstIndex(of: choice), index < kinds.count else { return nil }
        return kinds[index]
    }
}

/// What a permission option does (the Agent Client Protocol's kinds): allow or reject, this once or from now on.
public enum PermissionOptionKind: String, WireEnum {
    case allowOnce = "allow_once"
    case allowAlways = "allow_always"
    case rejectOnce = "reject_once"
    case rejectAlways = "reject_always"

    /// Whether the tool may run.
    public var allows: Bool { self == .allowOnce || self == .allowAlways }
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
    /// The reviewer step's last verdict on the proposal, when a review step grades the step.
    public var review: ReviewSummary?

    public init(id: String, status: ApprovalStatus, proposal: String, feedback: String? = nil, review: ReviewSummary? = nil) {
        self.id = id
        self.status = status
        self.proposal = proposal
        self.feedback = feedback
        self.review = review
    }
}

/// A reviewer step's verdict, as shown next to the proposal it graded.
public struct ReviewSummary: Codable, Sendable, Hashable {
    /// The reviewer step.
    public var stepId: String
    public var round: Int
    /// In [0, 1].
    public var score: Double
    public var threshold: Double
    /// `score >= threshold`; false when a person accepted a review below the threshold.
    public var passed: Bool
    public var findings: [String]

    public init(stepId: String, round: Int, score: Double, threshold: Double, passed: Bool, findings: [String]) {
        self.stepId = stepId
        self.round = round
        self.score = score
        self.threshold = threshold
        self.passed = passed
        self.findings = findings
    }
}

/// The options of the decision a reviewer step raises when its rounds are spent below the threshold.
public enum ReviewChoice {
    /// The reviewed steps re-run once more with the findings, and the reviewer grades again.
    public static let grantRound = "grant another round"
    /// The review step completes with its last verdict; the run goes on.
    public static let accept = "accept as is"
    /// The run fails (kind `rejected`).
    public static let fail = "fail the run"
    public static let options = [grantRound, accept, fail]
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
    /// A fan-out step's child runs, in the order their changes are merged (set by `run.children`).
    public var children: [String]?

    public init(
        id: String, kind: StepKind, role: String? = nil, state: StepState = .pending, attempts: Int = 0,
        output: String? = nil, startedAt: String? = nil, finishedAt: String? = nil,
        decision: Decision? = nil, approval: Approval? = nil, children: [String]? = nil
    ) {
        self.children = children
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
