import DroverProtocol

/// A pipeline as written in a `.drover/pipelines/<id>.json` file (or built in).
public struct PipelineDefinition: Codable, Sendable, Hashable {
    public var name: String
    public var description: String?
    public var steps: [StepDefinition]
    /// The run's isolation when `run/start` does not say (`worktree` for a git workspace if absent).
    public var isolation: IsolationMode?

    public init(name: String, description: String? = nil, steps: [StepDefinition], isolation: IsolationMode? = nil) {
        self.name = name
        self.description = description
        self.steps = steps
        self.isolation = isolation
    }

    /// The step with this id.
    public func step(_ id: String) -> StepDefinition? { steps.first { $0.id == id } }

    /// The steps as announced in `run.created` and `pipeline/list`.
    public var stepInfos: [StepInfo] { steps.map { StepInfo(id: $0.id, kind: $0.kind, role: $0.role) } }
}

/// One step of a pipeline.
///
/// `tests` steps run their command like `command` steps and fail with kind `tests`; with a `fixer`, a
/// failing run of the command is handed to the fixer's agent and the command re-runs, up to
/// `fixer.maxAttempts` times, before the step fails.
public struct StepDefinition: Codable, Sendable, Hashable {
    public var id: String
    public var kind: StepKind
    public var role: String?
    public var prompt: String?
    public var command: CommandSpec?
    public var requiresApproval: Bool?
    public var timeoutSeconds: Double?
    public var agent: AgentSpec?
    /// Who fixes a failing tests step.
    public var fixer: FixerSpec?
    /// Several roles answer this agent step; one answer wins (`ConsensusSpec`).
    public var consensus: ConsensusSpec?
    /// Run the step only if this holds when the run reaches it; otherwise it is `skipped`.
    public var when: StepCondition?
    /// The step's output lists subtasks, each run as a child run (`FanOutSpec`).
    public var fanOut: FanOutSpec?
    /// A review step: the earlier step whose output it grades.
    public var reviews: String?
    /// A review step: the score (0…1) that passes (default 0.8).
    public var threshold: Double?
    /// A review step: grading rounds before a person decides (default 2).
    public var maxRounds: Int?

    public static let defaultThreshold = 0.8
    public static let defaultMaxRounds = 2

    public init(id: String, kind: StepKind, role: String? = nil, prompt: String? = nil, command: CommandSpec? = nil,
                requiresApproval: Bool? = nil, timeoutSeconds: Double? = nil, agent: AgentSpec? = nil, fixer: FixerSpec? = nil,
                consensus: ConsensusSpec? = nil, when: StepCondition? = nil, fanOut: FanOutSpec? = nil) {
        self.id = id
        self.kind = kind
        self.role = role
        self.prompt = prompt
        self.command = command
        self.requiresApproval = requiresApproval
        self.timeoutSeconds = timeoutSeconds
        self.agent = agent
        self.fixer = fixer
        self.consensus = consensus
        self.when = when
        self.fanOut = fanOut
    }

    /// Whether the step's output waits for a person's approval.
    public var needsApproval: Bool { requiresApproval ?? false }
}

extension PipelineDefinition {
    /// The review step that grades `stepId`'s output, if any (its approval then waits for the review).
    public func reviewer(of stepId: String) -> StepDefinition? {
        steps.first { $0.kind == .review && $0.reviews == stepId }
    }
}

/// A tests step's fixer: `{"role", "maxAttempts"?, "agent"?, "prompt"?}` (or just the role as a string).
public struct FixerSpec: Codable, Sendable, Hashable {
    /// The role whose agent fixes (from config.json unless `agent` is given inline).
    public var role: String
    /// Fixer rounds before the step fails (default 2).
    public var maxAttempts: Int
    public var agent: AgentSpec?
    /// Replaces the built-in fixer prompt; may use the step's placeholders.
    public var prompt: String?

    public static let defaultMaxAttempts = 2

    public init(role: String, maxAttempts: Int = FixerSpec.defaultMaxAttempts, agent: AgentSpec? = nil, prompt: String? = nil) {
        self.role = role
        self.maxAttempts = maxAttempts
        self.agent = agent
        self.prompt = prompt
    }
}

/// A command: an argv (the program resolved via PATH), one string run by `/bin/sh -c`, or (tests steps
/// only) `"auto"`: the project's test command, detected when the step runs (`TestCommandDetection`).
public enum CommandSpec: Codable, Sendable, Hashable {
    case argv([String])
    case shell(String)
    case auto

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self = text == "auto" ? .auto : .shell(text)
        } else {
            self = .argv(try container.decode([String].self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .argv(let argv): try container.encode(argv)
        case .shell(let text): try container.encode(text)
        case .auto: try container.encode("auto")
        }
    }
}

/// Which agent runs a step: inline in a pipeline step, or configured for a role.
public struct AgentSpec: Codable, Sendable, Hashable {
    /// The name of a registered `AgentDriver`.
    public var driver: String
    public var model: String?
    /// The block's other fields, read by its driver (e.g. the fake driver's `script`).
    public var settings: [String: JSONValue]

    public init(driver: String, model: String? = nil, settings: [String: JSONValue] = [:]) {
        self.driver = driver
        self.model = model
        self.settings = settings
    }

    /// Read as the agent block it was written as: `{"driver", "model"?, …settings}`.
    public init(from decoder: Decoder) throws {
        var object = try JSONValue(from: decoder).objectValue ?? [:]
        guard let driver = object.removeValue(forKey: "driver")?.stringValue else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "an agent block needs a 'driver'"))
        }
        self.driver = driver
        self.model = object.removeValue(forKey: "model")?.stringValue
        self.settings = object
    }

    public func encode(to encoder: Encoder) throws {
        var object = settings
        object["driver"] = .string(driver)
        if let model { object["model"] = .string(model) }
        try JSONValue.object(object).encode(to: encoder)
    }
}
