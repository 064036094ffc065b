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
