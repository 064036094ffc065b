import CBuildInfo
import DroverEngine
import DroverFakeAgent
import DroverProtocol
import DroverStore
import DroverSupport
import Foundation

/// Every subcommand, in the order `drover --help` lists them.
enum Subcommands {
    static let all: [Subcommand] = [
        DemoCommand.subcommand,
        RunCommand.subcommand,
        AttachCommand.subcommand,
        RetryCommand.subcommand,
        RestartCommand.subcommand,
        ResumeCommand.subcommand,
        CancelCommand.subcommand,
        DiffCommand.subcommand,
        ApplyCommand.subcommand,
        DiscardCommand.subcommand,
        GCCommand.subcommand,
        RunsCommand.subcommand,
        StatusCommand.subcommand,
        ReportCommand.subcommand,
        LogsCommand.subcommand,
        PipelinesCommand.subcommand,
        InitCommand.subcommand,
        DoctorCommand.subcommand,
        TrustCommand.subcommand,
        ServeCommand.subcommand,
        EngineCommand.subcommand,
        WorkerCommand.subcommand,
    ]
}

func printHelp() {
    var text = """
    drover \(DroverVersion.string) — drive AI coding agents through pipelines with human gates.

    Usage: drover <command> [options]

    Commands:

    """
    for command in Subcommands.all {
        text += "  " + command.name.padding(toLength: 12, withPad: " ", startingAt: 0) + command.summary + "\n"
    }
    text += """

    Start with 'drover demo' (fake agents, no API key needed). Run 'drover <command> --help' for a
    command's options; 'drover --version' prints the version. Colour is off when stdout is not a
    terminal or NO_COLOR is set.

    """
    FileHandle.standardOutput.write(Data(text.utf8))
}

/// Prints `drover: <message>` (one line) on stderr and exits.
func fail(_ message: String, code: Int32 = 2) -> Never {
    let oneLine = message.split(whereSeparator: \.isNewline).joined(separator: " ")
    ProcessExit.exit(code) { Console.error(oneLine) }
}

MallocThresholds.fix()
let arguments = Array(CommandLine.arguments.dropFirst())
guard let first = arguments.first else {
    printHelp()
    exit(0)
}
switch first {
case "--help", "-h", "help":
    printHelp()
    exit(0)
case "--version", "-V", "version":
    print("drover \(DroverVersion.string) (commit \(String(cString: drover_build_commit())))")
    exit(0)
case FakeDriver.subcommand:
    // The built-in fake agent: the engine runs this binary as a subprocess.
    exit(FakeAgent.main(arguments: Array(arguments.dropFirst()), environment: ProcessInfo.processInfo.environment))
default:
    break
}
// `serve` is found without building every other command's table (their options, help and the types
// they name): editors wait on its start-up.
guard let command = first == "serve" ? ServeCommand.subcommand : Subcommands.all.first(where: { $0.name == first }) else {
    fail("unknown command '\(first)'. Commands: \(Subcommands.all.map(\.name).joined(separator: ", ")). See 'drover --help'.")
}
let rest = Array(arguments.dropFirst())
if rest.contains("--help") || rest.contains("-h") {
    FileHandle.standardOutput.write(Data(command.help.utf8))
    exit(0)
}
/// Prints what went wrong for people (`fail`), by the kind of error.
func failing(with error: any Error) -> Never {
    switch error {
    case let error as UsageError: fail("\(error.description). See 'drover \(command.name) --help'.")
    // The engine's messages are written for people: print them as they are.
    case let error as EngineError: fail(error.message, code: 1)
    case let error as ResponseError: fail(error.message, code: 1)
    case let error as StoreError: fail(error.message, code: 1)
    case let error as CLIError: fail(error.description, code: 1)
    default: fail(error.localizedDescription, code: 1)
    }
}

/// Runs an async command in a task while the main thread parks; never returns. Not inlined: a `Task`
/// in `main` itself has the runtime build `TaskPriority?`'s metadata (by its mangled name, the
/// demangler's first use) before anything else, which `drover serve` would pay for at every start.
@inline(never)
func runInTask(_ run: @escaping @Sendable (ParsedArguments) async throws -> Int32, _ parsed: ParsedArguments) -> Never {
    Task {
        do {
            ProcessExit.exit(try await run(parsed))
        } catch {
            failing(with: error)
        }
    }
    dispatchMain()
}

// No `await` up here: an async top-level would start the concurrency runtime's main executor before
// anything else, which `drover serve` (whose start-up editors wait on) does not need. Async commands
// run in a task while the main thread parks.
do {
    let parsed = try parseArguments(rest, options: command.options, command: command.name)
    switch command.entry {
    case .ownsMainThread(let serve):
        try serve(parsed)
    case .async(let run):
        runInTask(run, parsed)
    }
} catch {
    failing(with: error)
}
