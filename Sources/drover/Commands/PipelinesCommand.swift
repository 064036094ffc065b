import DroverEngine
import DroverProtocol
import Foundation

/// `drover pipelines`: every pipeline the workspace can run, with its source, steps and any errors
/// (what `pipeline/list` answers), which agent each role runs, and which ones need the workspace's trust by
/// `run/start`'s rule.
enum PipelinesCommand {
    static let subcommand = Subcommand(
        name: "pipelines",
        usage: "pipelines [--workspace DIR]",
        summary: "List the pipelines a workspace can run (built-in, yours, the workspace's), with steps and errors.",
        options: [Workspace.option],
        run: run
    )

    static func run(_ arguments: ParsedArguments) async throws -> Int32 {
        try arguments.refusePositionals(command: "pipelines")
        let workspace = try Workspace.resolve(arguments)
        let configDirectory = Workspace.configDirectory
        let queries = PipelineQueries(workspace: workspace, configDirectory: configDirectory)
        let trusted = TrustStore(configDirectory: configDirectory).isTrusted(workspace)
        let trustReasons = trusted ? [:] : queries.trustReasons()
        let t = Terminal.current
        let config = EngineConfig.load(workspace: workspace, configDirectory: configDirectory)
        let catalog = PipelineCatalog.load(workspace: workspace, configDirectory: configDirectory)
        let detected = DetectedAgent.onPath(environment: ProcessInfo.processInfo.environment).first
        for info in queries.pipelines() {
            let symbol = info.errors.isEmpty ? t.ok : t.failed
            var source = info.source.rawValue
            if let path = info.path { source += " \(path)" }
            Console.line("\(symbol) " + t.bold(info.id) + t.separator + info.name + t.dim("  (\(source))"))
            if let description = info.description { Console.line(t.dim("    \(description)")) }
            if !info.steps.isEmpty {
                let steps = info.steps.map { step in step.id + (step.role.map { " (\($0))" } ?? "") }
                Console.line("    steps: " + steps.joined(separator: " \(t.arrow) "))
            }
            for error in info.errors { Console.line("    " + t.red("error: \(error)")) }
            if info.errors.isEmpty, let reason = trustReasons[info.id] {
                Console.line("    " + t.yellow("needs trust (\(reason)): run 'drover trust' in \(workspace.path) to let it run"))
            }
            if info.errors.isEmpty, let entry = catalog.entry(info.id) {
                let agents = RoleAgent.of(entry, config: config, detected: detected).map { role in
                    role.role + " \(t.arrow) " + (role.agent.map { $0.spec.driver + ($0.detected != nil ? " (found on PATH)" : "") } ?? t.red("none"))
                }
                if !agents.isEmpty { Console.line("    agents: " + agents.joined(separator: ", ") + t.dim("  (drover doctor checks them)")) }
            }
        }
        Console.line(t.dim(Self.spending(config)))
        for error in config.errors { Console.line(t.red("config error: \(error)")) }
        return 0
    }

    /// Where costs come from and what limits them: the built-in price list's date, config `prices`, `budgets`.
    static func spending(_ config: EngineConfig) -> String {
        var parts = ["prices: built-in list of \(ModelPrices.asOf) (\(ModelPrices.table.count) models)"]
        if !config.prices.isEmpty { parts.append("config prices for " + config.prices.keys.sorted().joined(separator: ", ")) }
        let limits = [config.budgets.perRun.map { "per run " + Self.describe($0) },
                      config.budgets.perDay.map { "per day " + Self.describe($0) }].compactMap { $0 }
        parts.append("budgets: " + (limits.isEmpty ? "none configured" : limits.joined(separator: ", ")))
        return parts.joined(separator: "; ")
    }

    private static func describe(_ budget: RunBudget) -> String {
        [budget.maxUSD.map(Format.cost), budget.maxTokens.map { "\(Format.grouped($0)) tokens" }].compactMap { $0 }.joined(separator: " and ")
    }
}
