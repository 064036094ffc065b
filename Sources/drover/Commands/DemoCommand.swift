import DroverEngine
import DroverProtocol
import Foundation

/// `drover demo`: the built-in `demo` pipeline (fake agents, no API key) in a scratch git repository.
enum DemoCommand {
    static let subcommand = Subcommand(
        name: "demo",
        usage: "demo [--yes] [--store URL]",
        summary: "Run the built-in demo pipeline (fake agents) in a scratch git repository: steps, a decision, an approval.",
        options: [
            OptionSpec(name: "--yes", value: nil, help: "answer gates automatically (also when stdin is not a terminal)"),
            StoreChoice.option,
        ],
        run: run
    )

    static func run(_ arguments: ParsedArguments) async throws -> Int32 {
        try arguments.refusePositionals(command: "demo")
        let terminal = Terminal.current
        let gates: GateMode
        if arguments.has("--yes") {
            gates = .automatic(reason: "--yes was given")
        } else if !terminal.stdinIsTerminal {
            gates = .automatic(reason: "stdin is not a terminal")
        } else {
            gates = .interactive
        }
        let store = try StoreChoice.resolve(arguments)
        let workspace = try makeScratchRepository(terminal: terminal)
        let session = RunSession(
            workspace: workspace, store: store, start: .new(pipelineId: "demo", task: "Add a friendly greeting to README.md", inputs: nil),
            gates: gates, terminal: terminal)
        let code = try await session.run()
        // The scratch folder's engine has nothing left to do.
        EngineCommand.stopEngine(workspace)
        Console.line("")
        Console.line("The demo ran in \(workspace.path) (a scratch git repository). Look around:")
        Console.line("  drover runs --workspace \(workspace.path)")
        Console.line("  drover pipelines --workspace \(workspace.path)")
        return code
    }

    /// A temporary folder with `git init` and one committed file.
    static func makeScratchRepository(terminal: Terminal) throws -> URL {
        var template = Array((FileManager.default.temporaryDirectory.path + "/drover-demo-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw CLIError("cannot create a scratch folder in \(FileManager.default.temporaryDirectory.path): \(String(cString: strerror(errno)))")
        }
        let folder = URL(fileURLWithPath: String(cString: made), isDirectory: true).resolvingSymlinksInPath()
        try Data("# Demo project\n\nA scratch repository made by `drover demo`.\n".utf8)
            .write(to: folder.appendingPathComponent("README.md"))
        let steps: [[String]] = [
            ["init", "-q"],
            ["add", "README.md"],
            ["-c", "user.name=drover demo", "-c", "user.email=demo@drover.invalid", "commit", "-q", "-m", "Initial commit"],
        ]
        for step in steps {
            if let problem = git(step, in: folder) {
                Console.line(terminal.dim("  (git \(step.first(where: { !$0.hasPrefix("-") && !$0.contains("=") }) ?? "") failed: \(problem); the demo runs in a plain folder)"))
                break
            }
        }
        return folder
    }

    /// Runs git quietly; nil on success, else what went wrong.
    private static func git(_ arguments: [String], in folder: URL) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git"] + arguments
        process.currentDirectoryURL = folder
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        do { try process.run() } catch { return "cannot run git: \(error.localizedDescription)" }
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let line = message.split(separator: "\n").first.map(String.init) ?? "exit status \(process.terminationStatus)"
            return line
        }
        return nil
    }
}
