import DroverEngine
import DroverProtocol
import DroverSupport
import Foundation

/// `drover init`: writes a config whose roles run the agent CLI found on PATH (claude, else codex), and
/// explains its options; never overwrites a config that exists.
enum InitCommand {
    static let subcommand = Subcommand(
        name: "init",
        usage: "init [--agent claude|codex] [--workspace-config] [--workspace DIR]",
        summary: "Write a config whose roles run the agent found on PATH (claude or codex); never overwrites one.",
        options: [
            OptionSpec(name: "--agent", value: "DRIVER", help: "which agent found on PATH the roles run (default: claude, else codex)"),
            OptionSpec(name: "--workspace-config", value: nil,
                       help: "write the workspace's .drover/config.json (needs `drover trust`) instead of your own config"),
            Workspace.option,
        ],
        run: run
    )

    static func run(_ arguments: ParsedArguments) async throws -> Int32 {
        try arguments.refusePositionals(command: "init")
        let workspace = try Workspace.resolve(arguments)
        let environment = ProcessInfo.processInfo.environment
        let found = DetectedAgent.onPath(environment: environment)
        let choice: DetectedAgent
        if let wanted = arguments.value("--agent") {
            let drivers = DetectedAgent.candidates.map(\.driver)
            guard drivers.contains(wanted) else {
                throw UsageError(description: "--agent must be one of \(drivers.joined(separator: ", ")) (got '\(wanted)')")
            }
            guard let agent = found.first(where: { $0.driver == wanted }) else {
                throw CLIError("\(wanted) is not on PATH; install it first, or choose " + (found.isEmpty ? "another" : found.map(\.driver).joined(separator: " or ")))
            }
            choice = agent
        } else {
            guard let agent = found.first else {
                throw CLIError("found neither claude nor codex on PATH: install Claude Code (npm install -g @anthropic-ai/claude-code) "
                               + "or Codex (npm install -g @openai/codex), or write the config yourself (README: Using Claude Code)")
            }
            choice = agent
        }
        let file = arguments.has("--workspace-config")
            ? workspace.appendingPathComponent(".drover/config.json") : Workspace.configDirectory.appendingPathComponent("config.json")
        let roles = RoleAgent.all(workspace: workspace, configDirectory: Workspace.configDirectory, environment: environment).map(\.role)
        let config = StarterConfig(agent: choice, roles: roles)
        try writeNew(file, text: config.text)

        let t = Terminal.current
        Console.line("\(t.ok) Wrote \(file.path): role\(roles.count == 1 ? "" : "s") \(roles.joined(separator: ", ")) run \(choice.driver) (\(choice.path)).")
        for line in config.explanation { Console.line("    " + line) }
        for other in found where other != choice {
            Console.line(t.dim("    Also found \(other.driver) (\(other.path)): `drover init --agent \(other.driver)` writes a config for it instead."))
        }
        if arguments.has("--workspace-config") {
            Console.line(t.yellow("    A workspace's config runs commands: `drover trust` lets it run."))
        }
        Console.line(t.dim("    `drover doctor` shows what each role runs and whether its CLI is ready."))
        return 0
    }

    /// Creates `file` (mode 0600, its folder 0700) with `text`; refuses when it exists.
    private static func writeNew(_ file: URL, text: String) throws {
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let descriptor = open(file.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else {
            if errno == EEXIST {
                throw CLIError("\(file.path) exists already; drover init never overwrites a config: edit it, or move it away and run drover init again")
            }
            throw CLIError("cannot create \(file.path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        if let error = writeAll(descriptor, Array(text.utf8)) {
            throw CLIError("cannot write \(file.path): \(String(cString: strerror(error)))")
        }
    }
}
