import DroverProtocol
import Foundation

/// The agent a step runs with, and where it was defined.
public struct ResolvedAgent: Sendable, Hashable {
    public var spec: AgentSpec
    public var source: PipelineInfo.Source
    /// Set when no config names an agent for the role and drover chose this one, found on PATH.
    public var detected: DetectedAgent? = nil
}

/// Agent configuration: `<workspace>/.drover/config.json` over `<configDir>/config.json`.
///
/// `{"agents": {"<role>": {"driver": "command"|"fake", "command", "args", "model", "script"}}}`.
/// A role in the workspace file replaces the same role in the user file as a whole.
/// `concurrency: {"maxRuns": N}` caps the runs working at once (the workspace's value wins; default
/// the number of cores); `rateLimits: {"backoffSeconds", "maxBackoffSeconds"}` sets the wait after a rate
/// limit whose agent did not say when to try again (`RateLimitBackoff`); `fanOut: {"maxDepth": N}` caps
/// how deep child runs of fan-out steps may nest (the workspace's value wins); `prices` and `budgets` are what
/// runs spend (`Config+Spending`); `store`
/// (`{"url": …}`) is read by the executable before the engine opens, from the user file only; other
/// top-level keys are errors.
public struct EngineConfig: Sendable {
    public var workspaceAgents: [String: AgentSpec] = [:]
    public var userAgents: [String: AgentSpec] = [:]
    /// How many runs may be `running` at once; more wait `queued` (reason `capacity`).
    public var maxRuns = Self.cores
    /// How many levels of child runs fan-out steps may nest: a run this deep may not fan out again.
    public var maxFanOutDepth = EngineConfig.defaultMaxFanOutDepth
    public static let defaultMaxFanOutDepth = 3
    static let fanOutDepthLimits = 1...10

    /// The cores this process may use, read once: the getter reads cgroup files, and a config is
    /// made (and thrown away when cached) before every attempt and admission.
    private static let cores = ProcessInfo.processInfo.activeProcessorCount
    /// How long a rate-limited step waits when its agent did not say (the workspace's values win).
    public var rateLimitBackoff = RateLimitBackoff()
    /// `prices` by `ModelPrices.key(for:)`: the workspace's over the user's, both over the built-in table.
    public var prices: [String: TokenPrices] = [:]
    /// `budgets`: the stricter of the two files' limits.
    public var budgets = BudgetDefaults()
    /// Problems in either file, each starting with the file's path.
    public var errors: [String] = []
    /// The problems with `prices` and `budgets` (also in `errors`): runs do not start while there are any.
    public var spendingErrors: [String] = []
    public var workspaceFile: URL
    public var userFile: URL

    /// The user's configuration directory: `DROVER_CONFIG_DIR`, else `$XDG_CONFIG_HOME/drover`,
    /// else `~/.config/drover`.
    public static func configDirectory(environment: [String: String]) -> URL {
        if let dir = environment["DROVER_CONFIG_DIR"], !dir.isEmpty { return URL(fileURLWithPath: dir, isDirectory: true) }
        if let xdg = environment["XDG_CONFIG_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg, isDirectory: true).appendingPathComponent("drover", isDirectory: true)
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return URL(fileURLWithPath: home, isDirectory: true).appendingPathComponent(".config/drover", isDirectory: true)
    }

    /// Both files as they are now (each parsed again only when it changed: `FileValueCache`).
    public static func load(workspace: URL, configDirectory: URL) -> EngineConfig {
        load(Files(workspace: workspace, configDirectory: configDirectory))
    }

    /// Where the two files are; a long-lived caller makes this once and loads with it before every attempt.
    public struct Files: Sendable {
        let workspaceFile: URL
        let userFile: URL
        /// Their paths, user file first: what the cache is keyed and checked by.
        let paths: [String]

        public init(workspace: URL, configDirectory: URL) {
            workspaceFile = workspace.appendingPathComponent(".drover/config.json")
            userFile = configDirectory.appendingPathComponent("config.json")
            paths = [userFile.path, workspaceFile.path]
        }
    }

    /// Both `files` as they are now (each parsed again only when it changed: `FileValueCache`).
    public static func load(_ files: Files) -> EngineConfig {
        // Parsed again only when either file changed (`FileValueCache`): this runs before every attempt.
        parsed.value(at: files.paths) {
            var config = EngineConfig(workspaceFile: files.workspaceFile, userFile: files.userFile)
            config.userAgents = read(config.userFile, allowsStore: true, into: &config)
            config.workspaceAgents = read(config.workspaceFile, allowsStore: false, into: &config)
            return config
        }
    }

    private static let parsed = FileValueCache<EngineConfig>()

    /// Reads a section that holds one whole number (`concurrency.maxRuns`, `fanOut.maxDepth`) into `count`;
    /// `mustBe` says what a wrong value should have been.
    private static func readCount(_ value: JSONValue?, section: String, key: String, allowed: ClosedRange<Int>, mustBe: String,
                                  file: URL, errors: inout [String], count: inout Int) {
        guard let value else { return }
        guard let object = value.objectValue else {
            errors.append("\(file.path): field '\(section)' must be an object like {\"\(key)\": \(allowed.lowerBound + 1)}")
            return
        }
        for other in object.keys.sorted() where other != key {
            errors.append("\(file.path): unknown field '\(section).\(other)' (allowed: \(key))")
        }
        guard let given = object[key] else { return }
        guard case .int(let number) = given, allowed.contains(number) else {
            errors.append("\(file.path): field '\(section).\(key)' must be \(mustBe)")
            return
        }
        count = number
    }

    /// Reads `rateLimits` of one file into `backoff`.
    private static func readRateLimits(_ value: JSONValue?, file: URL, errors: inout [String], backoff: inout RateLimitBackoff) {
        guard let value else { return }
        guard let object = value.objectValue else {
            errors.append("\(file.path): field 'rateLimits' must be an object like {\"backoffSeconds\": 30, \"maxBackoffSeconds\": 900}")
            return
        }
        for key in object.keys.sorted() where key != "backoffSeconds" && key != "maxBackoffSeconds" {
            errors.append("\(file.path): unknown field 'rateLimits.\(key)' (allowed: backoffSeconds, maxBackoffSeconds)")
        }
        for (key, path) in [("backoffSeconds", \RateLimitBackoff.firstSeconds), ("maxBackoffSeconds", \RateLimitBackoff.maxSeconds)] {
            guard let given = object[key] else { continue }
            guard let seconds = given.numberValue, seconds > 0 else {
                errors.append("\(file.path): field 'rateLimits.\(key)' must be a positive number of seconds")
                continue
            }
            backoff[keyPath: path] = seconds
        }
    }

    /// Reads one file's settings into `config`; returns its agents.
    private static func read(_ file: URL, allowsStore: Bool, into config: inout EngineConfig) -> [String: AgentSpec] {
        guard let data = FileManager.default.contents(atPath: file.path) else { return [:] }
        let json: JSONValue
        do {
            json = try JSONParser().parse(Array(data))  // read at every step: our parser, not Foundation's JSONDecoder
        } catch {
            config.errors.append("\(file.path): not valid JSON")
            return [:]
        }
        guard let object = json.objectValue else {
            config.errors.append("\(file.path): must be a JSON object like {\"agents\": {...}}")
            return [:]
        }
        if object["store"] != nil, !allowsStore {
            // A checkout must not send a user's runs (and credentials) to a server it names.
            config.errors.append("\(file.path): 'store' belongs in the user config (~/.config/drover/config.json), not a workspace's")
        }
        for key in object.keys.sorted() where !["agents", "concurrency", "fanOut", "prices", "budgets", "rateLimits", "store"].contains(key) {
            config.errors.append("\(file.path): unknown field '\(key)' (allowed: agents, concurrency, fanOut, prices, budgets, rateLimits, store)")
        }
        readCount(object["concurrency"], section: "concurrency", key: "maxRuns", allowed: 1...Int.max,
                  mustBe: "a whole number of runs, at least 1", file: file, errors: &config.errors, count: &config.maxRuns)
        readCount(object["fanOut"], section: "fanOut", key: "maxDepth", allowed: fanOutDepthLimits,
                  mustBe: "a whole number from \(fanOutDepthLimits.lowerBound) to \(fanOutDepthLimits.upperBound): "
                      + "how many levels of child runs fan-out steps may nest",
                  file: file, errors: &config.errors, count: &config.maxFanOutDepth)
        readRateLimits(object["rateLimits"], file: file, errors: &config.errors, backoff: &config.rateLimitBackoff)
        readPrices(object["prices"], file: file, into: &config)
        readBudgets(object["budgets"], file: file, into: &config)
        guard let agentsValue = object["agents"] else { return [:] }
        guard let agents = agentsValue.objectValue else {
            config.errors.append("\(file.path): field 'agents' must map role names to agent blocks")
            return [:]
        }
        var result: [String: AgentSpec] = [:]
        for (role, value) in agents.sorted(by: { $0.key < $1.key }) {
            let (spec, problems) = PipelineValidator.validateAgent(value, field: "agents.\(role)")
            config.errors += problems.map { "\(file.path): \($0)" }
            if let spec, problems.isEmpty { result[role] = spec }
        }
        return result
    }

    /// The agent configured for `role`: the workspace's, else the user's.
    public func agent(forRole role: String) -> ResolvedAgent? {
        if let spec = workspaceAgents[role] { return ResolvedAgent(spec: spec, source: .workspace) }
        if let spec = userAgents[role] { return ResolvedAgent(spec: spec, source: .user) }
        return nil
    }
}

/// How each step of a pipeline would run, and whether that needs the workspace's trust.
public struct StepPlan: Sendable, Hashable {
    public var stepId: String
    /// Nil for command and tests steps.
    public var agent: ResolvedAgent?
    /// Where the thing that runs (the step's command, or its agent) was defined.
    public var source: PipelineInfo.Source
    /// The agent of a tests step's fixer.
    public var fixerAgent: ResolvedAgent?
    /// A consensus step's agents by role (the answering roles and the judge).
    public var roleAgents: [String: ResolvedAgent] = [:]
}

/// Resolves every step's agent; throws invalid params naming each role that has none.
/// A built-in pipeline's role with no agent configured runs `detected` (the first agent CLI on PATH).
func planSteps(pipelineId: String, definition: PipelineDefinition, source: PipelineInfo.Source,
               config: EngineConfig, configDirectory: URL, detected: DetectedAgent? = nil) throws -> [StepPlan] {
    var plans: [StepPlan] = []
    var missing: [(step: String, role: String)] = []
    let fallback = source == .builtin ? detected.map { ResolvedAgent(spec: $0.spec, source: .builtin, detected: $0) } : nil
    for step in definition.steps {
        switch step.kind {
        case .command, .tests:
            var plan = StepPlan(stepId: step.id, agent: nil, source: source)
            if let fixer = step.fixer {
                if let inline = fixer.agent {
                    plan.fixerAgent = ResolvedAgent(spec: inline, source: source)
                } else if let resolved = config.agent(forRole: fixer.role) {
                    plan.fixerAgent = resolved
                    // A fixer from the workspace's config runs what the workspace says: that needs trust too.
                    if resolved.source == .workspace { plan.source = .workspace }
                } else if let fallback {
                    plan.fixerAgent = fallback
                } else {
                    missing.append((step.id, fixer.role))
                }
            }
            plans.append(plan)
        case .agent, .review:
            if let consensus = step.consensus {
                var plan = StepPlan(stepId: step.id, agent: nil, source: source)
                for role in consensus.roles {
                    guard let resolved = config.agent(forRole: role) else {
                        missing.append((step.id, role))
                        continue
                    }
                    plan.roleAgents[role] = resolved
                    if resolved.source == .workspace { plan.source = .workspace }
                }
                plans.append(plan)
            } else if let inline = step.agent {
                plans.append(StepPlan(stepId: step.id, agent: ResolvedAgent(spec: inline, source: source),
                                      source: source))
            } else if let role = step.role, let resolved = config.agent(forRole: role) {
                plans.append(StepPlan(stepId: step.id, agent: resolved, source: resolved.source))
            } else if step.role != nil, let fallback {
                plans.append(StepPlan(stepId: step.id, agent: fallback, source: source))
            } else {
                missing.append((step.id, step.role ?? "?"))
            }
        }
    }
    if !missing.isEmpty {
        let roles = Array(Set(missing.map(\.role))).sorted()
        let which = missing.map { "step '\($0.step)' needs role '\($0.role)'" }.joined(separator: ", ")
        let snippet = roles.map { "\"\($0)\": {\"driver\": \"command\", \"command\": \"my-agent\", \"args\": []}" }.joined(separator: ", ")
        var message = "Pipeline '\(pipelineId)': no agent is configured for role\(roles.count == 1 ? "" : "s") "
            + roles.map { "'\($0)'" }.joined(separator: ", ") + " (\(which)). "
            + "Add to \(configDirectory.appendingPathComponent("config.json").path) or <workspace>/.drover/config.json: "
            + "{\"agents\": {\(snippet)}}"
        if source == .builtin {
            message += ". Or install Claude Code (`claude`) or Codex (`codex`) on PATH: a built-in pipeline's roles then run it, "
                + "and `drover init` writes a config for it"
        }
        if !config.errors.isEmpty { message += ". Config problems: " + config.errors.joined(separator: "; ") }
        throw EngineError.invalid(message, details: ["roles": .array(roles.map(JSONValue.string))])
    }
    return plans
}

/// What a run says once when drover chose the agent of roles no config names (`run.created`'s `notice`):
/// which agent, for which roles, and how to choose another; nil when every role's agent is configured.
func detectedAgentNotice(plans: [StepPlan], definition: PipelineDefinition, configDirectory: URL) -> String? {
    var roles: [String] = []
    var chosen: DetectedAgent?
    for plan in plans {
        guard let step = definition.step(plan.stepId) else { continue }
        for (agent, role) in [(plan.agent, step.role), (plan.fixerAgent, step.fixer?.role)] {
            guard let detected = agent?.detected, let role else { continue }
            chosen = detected
            if !roles.contains(role) { roles.append(role) }
        }
    }
    guard let chosen else { return nil }
    let file = configDirectory.appendingPathComponent("config.json").path
    return "No agent is configured for role\(roles.count == 1 ? "" : "s") " + roles.map { "'\($0)'" }.joined(separator: ", ")
        + ": drover runs \(chosen.driver) (\(chosen.path)), found on PATH. To choose another, run `drover init` "
        + "or set {\"agents\": {\"<role>\": {\"driver\": …}}} in \(file) or the workspace's .drover/config.json; "
        + "`drover doctor` shows what each role runs."
}
