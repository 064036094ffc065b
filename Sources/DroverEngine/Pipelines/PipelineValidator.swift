import DroverProtocol
import Foundation

/// Reads a pipeline file into a `PipelineDefinition`, collecting every problem as a message that
/// names the step (1-based number and id) and the field, e.g.
/// `step 2 ('impl'): field 'prompt' is required for agent steps`.
///
/// Unknown fields are errors (a misspelt `requireApproval` must not silently drop a gate).
public enum PipelineValidator {
    /// The result of reading one file.
    public struct Result: Sendable {
        /// The pipeline, if the file had the right shape (it may still have `errors`).
        public var definition: PipelineDefinition?
        /// Every problem found; a pipeline with errors cannot be started.
        public var errors: [String]
    }

    static let pipelineFields: Set<String> = ["name", "description", "steps", "isolation"]
    static let stepFields: Set<String> = ["id", "kind", "role", "prompt", "command", "requiresApproval", "timeoutSeconds", "agent", "fixer",
                                          "consensus", "when", "reviews", "threshold", "maxRounds", "fanOut"]
    /// Agent-block fields every driver understands.
    static let commonAgentFields: Set<String> = ["driver", "model"]

    /// Parses and validates JSON text.
    public static func validate(data: Data) -> Result {
        let value: JSONValue
        do {
            value = try JSONParser().parse(Array(data))  // not Foundation's JSONDecoder: several times faster, run/start reads every pipeline
        } catch {
            return Result(definition: nil, errors: ["not valid JSON: \(describe(error))"])
        }
        return validate(json: value)
    }

    /// Validates a decoded JSON document.
    public static func validate(json: JSONValue) -> Result {
        var errors: [String] = []
        guard let object = json.objectValue else {
            return Result(definition: nil, errors: ["a pipeline must be a JSON object with 'name' and 'steps'"])
        }
        for key in object.keys.sorted() where !pipelineFields.contains(key) {
            errors.append("unknown field '\(key)' (allowed: name, description, steps, isolation)")
        }
        var name = ""
        switch object["name"] {
        case .string(let text) where !text.trimmingCharacters(in: .whitespaces).isEmpty: name = text
        case nil: errors.append("field 'name' is required")
        default: errors.append("field 'name' must be a non-empty string")
        }
        var description: String?
        if let value = object["description"] {
            if let text = value.stringValue { description = text } else { errors.append("field 'description' must be a string") }
        }
        var isolation: IsolationMode?
        if let value = object["isolation"] {
            if let mode = value.stringValue.flatMap(IsolationMode.init(rawValue:)) {
                isolation = mode
            } else {
                errors.append("field 'isolation' must be \"worktree\" or \"none\"")
            }
        }
        guard let stepValues = object["steps"]?.arrayValue else {
            errors.append(object["steps"] == nil ? "field 'steps' is required" : "field 'steps' must be an array of steps")
            return Result(definition: nil, errors: errors)
        }
        if stepValues.isEmpty { errors.append("field 'steps' must list at least one step") }

        var steps: [StepDefinition] = []
        var seen: [String: Int] = [:]
        for (index, value) in stepValues.enumerated() {
            let (step, stepErrors) = validateStep(value, number: index + 1, earlierSteps: steps)
            errors += stepErrors
            guard let step else { continue }
            if let first = seen[step.id] {
                errors.append("step \(index + 1) ('\(step.id)'): field 'id' duplicates step \(first)'s id; step ids must be unique")
            } else {
                seen[step.id] = index + 1
            }
            steps.append(step)
        }
        return Result(definition: PipelineDefinition(name: name, description: description, steps: steps, isolation: isolation),
                      errors: errors)
    }

    private static func validateStep(_ value: JSONValue, number: Int, earlierSteps: [StepDefinition]) -> (StepDefinition?, [String]) {
        let earlier = earlierSteps.map(\.id)
        let earlierFanOut = earlierSteps.contains { $0.fanOut != nil }
        guard let object = value.objectValue else { return (nil, ["step \(number): must be an object"]) }
        let rawId = object["id"]?.stringValue
        let label = rawId.map { "step \(number) ('\($0)')" } ?? "step \(number)"
        var errors: [String] = []
        func error(_ text: String) { errors.append("\(label): \(text)") }

        for key in object.keys.sorted() where !stepFields.contains(key) {
            error("unknown field '\(key)' (allowed: \(stepFields.sorted().joined(separator: ", ")))")
        }
        guard let id = rawId else {
            error(object["id"] == nil ? "field 'id' is required" : "field 'id' must be a string")
            return (nil, errors)
        }
        if !Identifiers.isValidID(id) { error("field 'id' must match \(Identifiers.idRule)") }

        var kind = StepKind.agent
        switch object["kind"] {
        case nil: error("field 'kind' is required (agent, command, tests or review)")
        case .string(let text):
            if let parsed = StepKind(rawValue: text) { kind = parsed } else { error("field 'kind' is '\(text)'; use agent, command, tests or review") }
        default: error("field 'kind' must be a string: agent, command, tests or review")
        }

        func optionalString(_ field: String) -> String? {
            guard let value = object[field] else { return nil }
            guard let text = value.stringValue else { error("field '\(field)' must be a string"); return nil }
            return text
        }
        let role = optionalString("role")
        let prompt = optionalString("prompt")
        if let role, role.isEmpty { error("field 'role' must not be empty") }

        var requiresApproval: Bool?
        if let value = object["requiresApproval"] {
            if case .bool(let flag) = value { requiresApproval = flag } else { error("field 'requiresApproval' must be true or false") }
        }
        var timeout: Double?
        if let value = object["timeoutSeconds"] {
            switch value {
            case .int(let seconds) where seconds > 0: timeout = Double(seconds)
            case .double(let seconds) where seconds > 0: timeout = seconds
            default: error("field 'timeoutSeconds' must be a number of seconds greater than 0")
            }
        }

        var command: CommandSpec?
        if let value = object["command"] {
            switch value {
            case .string(let text) where text == "auto":
                if kind == .tests {
                    command = .auto
                } else {
                    error("field 'command': \"auto\" (detect the project's test command) is for tests steps only; give this step its command, e.g. [\"make\", \"lint\"]")
                }
            case .string(let text) where !text.trimmingCharacters(in: .whitespaces).isEmpty: command = .shell(text)
            case .array(let items) where !items.isEmpty && items.allSatisfy({ $0.stringValue != nil }):
                command = .argv(items.compactMap(\.stringValue))
            default: error("field 'command' must be a non-empty string (run by /bin/sh -c) or a non-empty array of strings (argv)")
            }
        }

        var agent: AgentSpec?
        if let value = object["agent"] {
            let (spec, agentErrors) = validateAgent(value, field: "agent")
            agent = spec
            errors += agentErrors.map { "\(label): \($0)" }
        }

        switch kind {
        case .agent, .review:
            if prompt == nil, object["prompt"] == nil { error("field 'prompt' is required for \(kind.rawValue) steps") }
            if object["consensus"] != nil {
                if role != nil || object["agent"] != nil {
                    error("field 'consensus' names the roles that answer; leave out 'role' and 'agent'")
                }
            } else if role == nil, object["agent"] == nil {
                error("\(kind.rawValue) steps need a 'role' (mapped to an agent in config.json) or an inline 'agent' block")
            }
            if object["command"] != nil { error("field 'command' is for command and tests steps; \(kind.rawValue) steps use 'prompt'") }
        case .command, .tests:
            if object["command"] == nil { error("field 'command' is required for \(kind.rawValue) steps") }
            if object["agent"] != nil { error("field 'agent' is for agent steps; \(kind.rawValue) steps run their 'command'") }
        }
        var fixer: FixerSpec?
        if let value = object["fixer"] {
            if kind != .tests {
                error("field 'fixer' is for tests steps only")
            } else {
                let (spec, fixerErrors) = validateFixer(value)
                fixer = spec
                errors += fixerErrors.map { "\(label): \($0)" }
            }
        }

        var reviews: String?
        var threshold: Double?
        var maxRounds: Int?
        if kind == .review {
            switch object["reviews"] {
            case nil: error("field 'reviews' is required for review steps: the id of the earlier step whose output it grades")
            case .string(let target)?:
                reviews = target
                errors += referenceErrors(target, field: "reviews", stepId: id, earlier: earlier).map { "\(label): \($0)" }
                if let reviewed = earlierSteps.first(where: { $0.id == target }), reviewed.kind == .review {
                    error("field 'reviews': '\(target)' is a review step; a review grades the output of an agent, command or tests step")
                }
            default: error("field 'reviews' must be the id of an earlier step")
            }
            switch object["threshold"] {
            case nil: break
            case .int(let value)? where value == 0 || value == 1: threshold = Double(value)
            case .double(let value)? where value >= 0 && value <= 1: threshold = value
            default: error("field 'threshold' must be a number from 0 to 1 (the score that passes)")
            }
            switch object["maxRounds"] {
            case nil: break
            case .int(let value)? where value >= 1 && value <= 10: maxRounds = value
            default: error("field 'maxRounds' must be a whole number from 1 to 10")
            }
            if object["requiresApproval"] != nil {
                error("field 'requiresApproval' is not for review steps; put it on the reviewed step, whose approval then shows the review")
            }
        } else {
            for field in ["reviews", "threshold", "maxRounds"] where object[field] != nil {
                error("field '\(field)' is for review steps (\"kind\": \"review\")")
            }
        }

        var consensus: ConsensusSpec?
        if let value = object["consensus"] {
            if kind != .agent {
                error("field 'consensus' is for agent steps only")
            } else {
                let (spec, consensusErrors) = ConsensusSpec.validate(value)
                consensus = spec
                errors += consensusErrors.map { "\(label): \($0)" }
            }
        }
        var when: StepCondition?
        if let value = object["when"] {
            let (condition, conditionErrors) = validateCondition(value, field: "when")
            when = condition
            errors += conditionErrors.map { "\(label): \($0)" }
            if let condition { errors += referenceErrors(condition.step, field: "when.step", stepId: id, earlier: earlier).map { "\(label): \($0)" } }
        }

        var fanOut: FanOutSpec?
        if let value = object["fanOut"] {
            if kind == .tests {
                error("field 'fanOut' is for agent and command steps, whose output lists the subtasks")
            } else if requiresApproval == true {
                error("field 'fanOut' cannot be combined with 'requiresApproval' yet; approve the plan in an earlier step")
            } else {
                let (spec, fanOutErrors) = FanOutSpec.validate(value)
                fanOut = spec
                errors += fanOutErrors.map { "\(label): \($0)" }
            }
        }

        if let prompt {
            for reference in Template.references(in: prompt) {
                switch reference {
                case .task, .input, .diff, .diffStat, .testsSummary: break
                case .children:
                    if !earlierFanOut { error("field 'prompt': {{children}} needs an earlier step with 'fanOut'") }
                case .previousOutput:
                    if earlier.isEmpty { error("field 'prompt': {{previous.output}} has no previous step in the first step") }
                case .stepOutput(let stepId):
                    if stepId == id {
                        error("field 'prompt': {{steps.\(stepId).output}} refers to this step itself; use an earlier step")
                    } else if !earlier.contains(stepId) {
                        let known = earlier.isEmpty ? "there are none" : "earlier steps: " + earlier.joined(separator: ", ")
                        error("field 'prompt': {{steps.\(stepId).output}} refers to an unknown or later step (\(known))")
                    }
                case .unknown(let name):
                    error("field 'prompt': unknown placeholder {{\(name)}} (use {{task}}, {{steps.<id>.output}}, {{previous.output}}, {{inputs.<key>}}, {{diff}}, {{diff.stat}}, {{tests.summary}} or {{children}})")
                }
            }
        }

        var step = StepDefinition(id: id, kind: kind, role: role, prompt: prompt, command: command,
                                  requiresApproval: requiresApproval, timeoutSeconds: timeout, agent: agent, fixer: fixer,
                                  consensus: consensus, when: when, fanOut: fanOut)
        step.reviews = reviews
        step.threshold = threshold
        step.maxRounds = maxRounds
        return (step, errors)
    }

    /// Where a field that names a step (`when.step`, `reviews`) points: only an earlier step may be
    /// named, so a pipeline's references can never form a cycle.
    static func referenceErrors(_ target: String, field: String, stepId: String, earlier: [String]) -> [String] {
        if target == stepId { return ["field '\(field)': '\(target)' is this step itself (a cycle); name an earlier step"] }
        if earlier.contains(target) { return [] }
        let known = earlier.isEmpty ? "there are none before this step" : "earlier steps: " + earlier.joined(separator: ", ")
        return ["field '\(field)': '\(target)' is not an earlier step of this pipeline (\(known)); a step can only depend on steps before it"]
    }

    /// `"when": {"step", "path"?, and one of "equals" | "notEquals" | "in" | "notIn"}`; messages start with the field.
    static func validateCondition(_ value: JSONValue, field: String) -> (StepCondition?, [String]) {
        let shape = "{\"step\": \"<earlier step id>\", \"path\": \"<dotted.path>\", and one of \"equals\", \"notEquals\", \"in\", \"notIn\"}"
        guard let object = value.objectValue else { return (nil, ["field '\(field)' must be an object: \(shape)"]) }
        var errors: [String] = []
        let allowed = ["step", "path"] + StepCondition.Test.fields
        for key in object.keys.sorted() where !allowed.contains(key) {
            errors.append("field '\(field).\(key)' is unknown (allowed: \(allowed.joined(separator: ", ")))")
        }
        guard let step = object["step"]?.stringValue, !step.isEmpty else {
            return (nil, errors + ["field '\(field).step' is required: the id of the earlier step whose JSON output is read"])
        }
        var path = ""
        if let value = object["path"] {
            if let text = value.stringValue, text.isEmpty || !text.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty) {
                path = text
            } else {
                errors.append("field '\(field).path' must be a dotted path such as \"size\" or \"estimate.files.0\" (no empty segments)")
            }
        }
        let tests = StepCondition.Test.fields.filter { object[$0] != nil }
        guard tests.count == 1, let name = tests.first, let operand = object[name] else {
            let found = tests.isEmpty ? "none" : tests.joined(separator: ", ")
            return (nil, errors + ["field '\(field)' needs exactly one of equals, notEquals, in, notIn (found \(found))"])
        }
        let test: StepCondition.Test
        switch name {
        case "equals": test = .equals(operand)
        case "notEquals": test = .notEquals(operand)
        default:
            guard let list = operand.arrayValue, !list.isEmpty else {
                return (nil, errors + ["field '\(field).\(name)' must be a non-empty list of values, e.g. [\"medium\", \"large\"]"])
            }
            test = name == "in" ? .isIn(list) : .notIn(list)
        }
        return (StepCondition(step: step, path: path, test: test), errors)
    }

    /// `"fixer": "role"` or `{"role", "maxAttempts"?, "agent"?, "prompt"?}`.
    private static func validateFixer(_ value: JSONValue) -> (FixerSpec?, [String]) {
        if let role = value.stringValue {
            return role.isEmpty ? (nil, ["field 'fixer' must not be empty"]) : (FixerSpec(role: role), [])
        }
        guard let object = value.objectValue else {
            return (nil, ["field 'fixer' must be a role name or {\"role\", \"maxAttempts\"?, \"agent\"?, \"prompt\"?}"])
        }
        var errors: [String] = []
        for key in object.keys.sorted() where !["role", "maxAttempts", "agent", "prompt"].contains(key) {
            errors.append("field 'fixer.\(key)' is unknown (allowed: agent, maxAttempts, prompt, role)")
        }
        guard let role = object["role"]?.stringValue, !role.isEmpty else {
            return (nil, errors + ["field 'fixer.role' is required: the role whose agent fixes failing tests"])
        }
        var spec = FixerSpec(role: role)
        switch object["maxAttempts"] {
        case nil: break
        case .int(let count) where count >= 1 && count <= 20: spec.maxAttempts = count
        default: errors.append("field 'fixer.maxAttempts' must be a whole number from 1 to 20")
        }
        if let prompt = object["prompt"] {
            if let text = prompt.stringValue { spec.prompt = text } else { errors.append("field 'fixer.prompt' must be a string") }
        }
        if let agent = object["agent"] {
            let (parsed, agentErrors) = validateAgent(agent, field: "fixer.agent")
            spec.agent = parsed
            errors += agentErrors
        }
        return (spec, errors)
    }

    /// Validates an agent block (inline in a step, or a role in config.json); messages start with the field.
    /// `driver` and `model` are common to all drivers; the other fields are the driver's (see `AgentDriver`).
    static func validateAgent(_ value: JSONValue, field: String) -> (AgentSpec?, [String]) {
        guard let object = value.objectValue else { return (nil, ["field '\(field)' must be an object with a 'driver'"]) }
        let supported = AgentDrivers.names.joined(separator: ", ")
        guard let driverName = object["driver"]?.stringValue else {
            return (nil, ["field '\(field).driver' is required (\(supported))"])
        }
        guard let driver = AgentDrivers.named(driverName) else {
            return (nil, ["field '\(field).driver': unknown driver '\(driverName)'; use \(supported)"])
        }
        var errors: [String] = []
        let allowed = commonAgentFields.union(driver.settingNames)
        for key in object.keys.sorted() where !allowed.contains(key) {
            errors.append("field '\(field).\(key)' is unknown (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
        var spec = AgentSpec(driver: driverName)
        if let value = object["model"] {
            if let text = value.stringValue { spec.model = text } else { errors.append("field '\(field).model' must be a string") }
        }
        spec.settings = object.filter { driver.settingNames.contains($0.key) }
        errors += driver.validate(spec.settings, field: field)
        return (spec, errors)
    }

    private static func describe(_ error: Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return underlying ?? context.debugDescription
        }
        return "\(error)"
    }
}
