import DroverProtocol

/// A pipeline as written in a `.drover/pipelines/<id>.json` file (or built in).
public struct PipelineDefinition: Codable, Sendable, Hashable {
    public var name: String
    public var description: String?
    public var steps: [StepDefinition]

    public init(name: String, description: String? = nil, steps: [StepDefinition]) {
        self.name = name
        self.description = description
        self.steps = steps
    }

    /// The step with this id.
    public func step(_ id: String) -> StepDefinition? { steps.first { $0.id == id } }

    /// The steps as announced in `run.created` and `pipeline/list`.
    public var stepInfos: [StepInfo] { steps.map { StepInfo(id: $0.id, kind: $0.kind, role: $0.role) } }
}

/// One step of a pipeline.
///
/// `tests` steps run their command like `command` steps and fail with kind `tests`; the fixer
/// loop and `"command": "auto"` come later (`fixer` is accepted and ignored until then).
public struct StepDefinition: Codable, Sendable, Hashable {
    public var id: String
    public var kind: StepKind
    public var role: String?
    public var prompt: String?
    public var command: CommandSpec?
    public var requiresApproval: Bool?
    public var timeoutSeconds: Double?
    public var agent: AgentSpec?

    public init(id: String, kind: StepKind, role: String? = nil, prompt: String? = nil, command: CommandSpec? = nil,
                requiresApproval: Bool? = nil, timeoutSeconds: Double? = nil, agent: AgentSpec? = nil) {
        self.id = id
        self.kind = kind
        self.role = role
        self.prompt = prompt
        self.command = command
        self.requiresApproval = requiresApproval
        self.timeoutSeconds = timeoutSeconds
        self.agent = agent
    }

    /// Whether the step's output waits for a person's approval.
    public var needsApproval: Bool { requiresApproval ?? false }
}

/// A command: an argv (the program resolved via PATH) or one string run by `/bin/sh -c`.
public enum CommandSpec: Codable, Sendable, Hashable {
    case argv([String])
    case shell(String)

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) { self = .shell(text) } else { self = .argv(try container.decode([String].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .argv(let argv): try container.encode(argv)
        case .shell(let text): try container.encode(text)
        }
    }
}

/// Drivers this engine can launch.
public enum DriverKind: String, Codable, Sendable, CaseIterable {
    case fake, command

    /// Drivers the design names that are not built yet.
    static let later: Set<String> = ["claude", "codex"]
}

/// Which agent runs a step: inline in a pipeline step, or configured for a role.
public struct AgentSpec: Codable, Sendable, Hashable {
    public var driver: DriverKind
    /// The fake agent's turns (`driver: fake`).
    public var script: JSONValue?
    /// The program (`driver: command`): a path, or a name looked up on PATH.
    public var command: String?
    public var args: [String]?
    public var model: String?

    public init(driver: DriverKind, script: JSONValue? = nil, command: String? = nil, args: [String]? = nil, model: String? = nil) {
        self.driver = driver
        self.script = script
        self.command = command
        self.args = args
        self.model = model
    }
}
