import DroverProtocol
import Foundation

/// Which agent each role of the workspace's pipelines runs, resolved as a run would resolve it now (the
/// workspace's config, the user's, else for a built-in pipeline's role the agent CLI found on PATH): what
/// `drover doctor` shows and `drover init` writes a config for.
public struct RoleAgent: Sendable, Hashable {
    public var role: String
    /// The pipelines whose steps take this role's agent from config.
    public var pipelines: [String]
    /// What the role runs; nil when no config names an agent and none can be chosen.
    public var agent: ResolvedAgent?

    /// Every role of every valid pipeline of the workspace, sorted by name.
    public static func all(workspace: URL, configDirectory: URL, environment: [String: String]) -> [RoleAgent] {
        let catalog = PipelineCatalog.load(workspace: workspace, configDirectory: configDirectory)
        let config = EngineConfig.load(workspace: workspace, configDirectory: configDirectory)
        let detected = DetectedAgent.onPath(environment: environment).first
        var pipelinesByRole: [String: [String]] = [:]
        var builtinRoles: Set<String> = []
        for entry in catalog.entries where entry.errors.isEmpty {
            guard let definition = entry.definition else { continue }
            for role in roles(of: definition) {
                pipelinesByRole[role, default: []].append(entry.id)
                if entry.source == .builtin { builtinRoles.insert(role) }
            }
        }
        return pipelinesByRole.keys.sorted().map { role in
            RoleAgent(role: role, pipelines: pipelinesByRole[role] ?? [],
                      agent: agent(forRole: role, builtin: builtinRoles.contains(role), config: config, detected: detected))
        }
    }

    /// The roles of one pipeline, in step order, each with what it runs.
    public static func of(_ entry: PipelineCatalog.Entry, config: EngineConfig, detected: DetectedAgent?) -> [RoleAgent] {
        guard let definition = entry.definition else { return [] }
        return roles(of: definition).map { role in
            RoleAgent(role: role, pipelines: [entry.id],
                      agent: agent(forRole: role, builtin: entry.source == .builtin, config: config, detected: detected))
        }
    }

    /// As `planSteps` resolves it: the config's agent, else for a built-in pipeline's role the one on PATH.
    private static func agent(forRole role: String, builtin: Bool, config: EngineConfig, detected: DetectedAgent?) -> ResolvedAgent? {
        config.agent(forRole: role) ?? (builtin ? detected.map { ResolvedAgent(spec: $0.spec, source: .builtin, detected: $0) } : nil)
    }

    /// The roles of `definition` whose agent comes from config: steps and fixers without an agent of their own.
    public static func roles(of definition: PipelineDefinition) -> [String] {
        var roles: [String] = []
        for step in definition.steps {
            if step.kind == .agent, step.agent == nil, let role = step.role, !roles.contains(role) { roles.append(role) }
            if let fixer = step.fixer, fixer.agent == nil, !roles.contains(fixer.role) { roles.append(fixer.role) }
        }
        return roles
    }
}
