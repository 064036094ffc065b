import DroverEngine
import DroverProtocol
import Foundation

/// `drover doctor`: per role, which agent runs and where that was decided; per agent program, whether it
/// is installed (path, `--version`) and looks logged in — a local look, never a model call, never a secret.
enum DoctorCommand {
    static let subcommand = Subcommand(
        name: "doctor",
        usage: "doctor [--workspace DIR]",
        summary: "Show which agent each role runs, and whether its CLI is installed and logged in (no model call).",
        options: [Workspace.option],
        run: run
    )

    static func run(_ arguments: ParsedArguments) async throws -> Int32 {
        try arguments.refusePositionals(command: "doctor")
        let workspace = try Workspace.resolve(arguments)
        let configDirectory = Workspace.configDirectory
        let environment = ProcessInfo.processInfo.environment
        let t = Terminal.current
        var healthy = true
        var programs: [Program] = []

        Console.line(t.bold("Roles") + t.dim(" (what each role of the pipelines runs)"))
        let roles = RoleAgent.all(workspace: workspace, configDirectory: configDirectory, environment: environment)
        if roles.isEmpty { Console.line(t.dim("    no pipeline takes an agent from config")) }
        for role in roles {
            let used = t.dim("  pipelines: " + role.pipelines.joined(separator: ", "))
            guard let agent = role.agent else {
                healthy = false
                Console.line("\(t.failed) \(t.bold(role.role)): no agent configured" + used)
                Console.line("    set agents.\(role.role) in \(configDirectory.appendingPathComponent("config.json").path), "
                             + "or install claude or codex and run `drover init`")
                continue
            }
            let program = Program(agent.spec, environment: environment, workspace: workspace)
            if !programs.contains(program) { programs.append(program) }
            let missing = program.name != nil && program.path == nil
            if missing { healthy = false }
            Console.line("\(missing ? t.failed : t.ok) \(t.bold(role.role)) \(t.arrow) \(program.title)  \(t.dim(origin(agent, workspace: workspace, configDirectory: configDirectory)))" + used)
        }

        Console.line(t.bold("Agents"))
        if programs.isEmpty { Console.line(t.dim("    none to check")) }
        for program in programs {
            guard let name = program.name else {
                Console.line("\(t.ok) \(program.title): built into drover")
                continue
            }
            guard let path = program.path else {
                Console.line("\(t.failed) \(program.title): \(name) is not installed (not found\(name.contains("/") ? "" : " on PATH"))"
                             + (program.installHint.map { "; \($0)" } ?? ""))
                continue
            }
            let version = program.checksVersion ? Self.version(of: path) : nil
            Console.line("\(t.ok) \(program.title): \(path)" + (version.map { "  \($0)" } ?? ""))
            if let login = AgentLogin.check(driver: program.driver, environment: program.environment) {
                if !login.loggedIn { healthy = false }
                Console.line("    " + (login.loggedIn ? "looks logged in: " : t.yellow("not logged in: ")) + login.how)
            }
        }
        let config = EngineConfig.load(workspace: workspace, configDirectory: configDirectory)
        for error in config.errors {
            healthy = false
            Console.line(t.red("config error: \(error)"))
        }
        return healthy ? 0 : 1
    }

    /// Where the role's agent was decided.
    private static func origin(_ agent: ResolvedAgent, workspace: URL, configDirectory: URL) -> String {
        if agent.detected != nil { return "(chosen by drover: no agent configured, found on PATH; `drover init` writes a config)" }
        switch agent.source {
        case .workspace: return "(\(workspace.appendingPathComponent(".drover/config.json").path))"
        case .user: return "(\(configDirectory.appendingPathComponent("config.json").path))"
        case .builtin: return "(built in)"
        }
    }

    /// The program an agent block runs, as the launcher would find it.
    private struct Program: Equatable {
        var driver: String
        /// The command as configured (a name or a path); nil for the built-in fake agent.
        var name: String?
        var path: String?
        /// The attempt's environment as far as this can tell: drover's, with the block's `env`.
        var environment: [String: String]

        init(_ spec: AgentSpec, environment: [String: String], workspace: URL) {
            driver = spec.driver
            var merged = environment
            for (key, value) in spec.settings["env"]?.objectValue ?? [:] { if let value = value.stringValue { merged[key] = value } }
            self.environment = merged
            let defaults = Dictionary(uniqueKeysWithValues: DetectedAgent.candidates.map { ($0.driver, $0.program) })
            name = spec.settings["command"]?.stringValue ?? defaults[spec.driver]
            guard let name else { return }
            path = name.contains("/")
                ? (ExecutableSearch.isExecutableFile(name.hasPrefix("/") ? name : workspace.appendingPathComponent(name).path)
                    ? name : nil)
                : ExecutableSearch.find(name, searchPath: merged["PATH"])
        }

        var title: String { driver + (name.map { $0 == driver ? "" : " (\($0))" } ?? "") }
        /// Only the CLIs drover knows answer `--version` cheaply; any other program might start an agent.
        var checksVersion: Bool { DetectedAgent.candidates.contains { $0.driver == driver } }
        var installHint: String? {
            switch driver {
            case "claude": "install Claude Code: npm install -g @anthropic-ai/claude-code (or set the role's command)"
            case "codex": "install Codex: npm install -g @openai/codex (or set the role's command)"
            default: "check the role's command"
            }
        }
    }

    /// The first line `path --version` prints within 10 s; nil when it prints nothing or fails.
    private static func version(of path: String) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["--version"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        guard (try? process.run()) != nil else { return nil }
        if finished.wait(timeout: .now() + 10) == .timedOut {
            process.terminate()
            return "(no answer to --version within 10 s)"
        }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return text.split(whereSeparator: \.isNewline).first.map { String($0).trimmingCharacters(in: .whitespaces) }
    }
}
