import DroverEngine
import DroverServer
import DroverSQLite
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `drover engine [start|status|stop|drain]`: the workspace's engine process, which drives every
/// run and serves every client (`drover serve`, `drover run`, …) over a Unix socket.
enum EngineCommand {
    static let subcommand = Subcommand(
        name: "engine",
        usage: "engine [start|status|stop|drain] [--workspace DIR] [--idle-timeout SECONDS] [--foreground] [--store URL]",
        summary: "Start, inspect, stop or drain the workspace's engine (clients start it on their own).",
        options: [
            Workspace.option,
            OptionSpec(name: "--idle-timeout", value: "SECONDS",
                       help: "exit after this long with no clients and nothing running or queued (default 600, or $DROVER_ENGINE_IDLE_TIMEOUT)"),
            OptionSpec(name: "--foreground", value: nil, help: "run the engine in this process (logs on stderr) instead of detached"),
            OptionSpec(name: "--status", value: nil, help: "same as 'status'"),
            OptionSpec(name: "--stop", value: nil, help: "same as 'stop': interrupt the agents (the next engine resumes them) and exit"),
            OptionSpec(name: "--drain", value: nil, help: "same as 'drain': start no more runs, exit once no run is working"),
            OptionSpec(name: "--quiet", value: nil, help: "print nothing on success"),
            OptionSpec(name: "--log-level", value: "LEVEL", help: "error, warning, info or debug (default info); the log is .drover/engine.log"),
            StoreChoice.option,
        ],
        run: run
    )

    static func run(_ arguments: ParsedArguments) async throws -> Int32 {
        var action = arguments.positionals.first ?? "start"
        for flag in ["status", "stop", "drain"] where arguments.has("--\(flag)") { action = flag }
        if arguments.positionals.count > 1 {
            throw UsageError(description: "'drover engine' takes one action (start, status, stop or drain), not '\(arguments.positionals[1])'")
        }
        // A removed workspace's engine can still be asked about and stopped (it runs until told, or idle).
        let workspace = try Workspace.resolve(arguments, mayBeGone: action != "start")
        let quiet = arguments.has("--quiet")
        switch action {
        case "start":
            if arguments.has("--foreground") { try foreground(arguments, workspace: workspace) }
            return try start(arguments, workspace: workspace, quiet: quiet)
        case "status":
            guard let link = try EngineConnector.connect(workspace: workspace, hello: EngineConnector.hello(.status)) else {
                Console.line("No engine runs for \(workspace.path); the next client (drover serve, drover run) starts one.")
                return 1
            }
            close(link.fd)
            let reply = link.reply
            Console.line("Engine \(reply["pid"] ?? "?") drives \(reply["workspace"] ?? workspace.path)")
            Console.line("  since \(reply["startedAt"] ?? "?"); clients \(reply["clients"] ?? 0); agents working \(reply["liveAttempts"] ?? 0); runs queued \(reply["queuedRuns"] ?? 0)"
                + ((reply["draining"] as? Bool) == true ? "; draining" : ""))
            if let waiting = reply["runsWaitingForStore"] as? Int, waiting > 0 {
                Console.line("  \(waiting) run(s) wait for the store to take writes again: \(reply["storeError"] ?? "")")
            }
            Console.line("  socket \(reply["socket"] ?? "?"); log \(reply["log"] ?? "?"); exits after \(reply["idleTimeoutSeconds"] ?? "?") s idle")
            return 0
        case "stop", "drain":
            let operation: EngineWire.Operation = action == "stop" ? .stop : .drain
            guard let link = try EngineConnector.connect(workspace: workspace, hello: EngineConnector.hello(operation)) else {
                if !quiet { Console.line("No engine runs for \(workspace.path).") }
                return 0
            }
            if operation == .stop { waitForEnd(link) }
            close(link.fd)
            if !quiet {
                Console.line(operation == .stop
                    ? "Engine \(link.reply["pid"] ?? "?") stopped; interrupted steps resume when the next engine starts."
                    : "Engine \(link.reply["pid"] ?? "?") is draining: no new run starts; it exits once no run is working (queued runs wait for the next engine).")
            }
            return 0
        default:
            throw UsageError(description: "'drover engine' actions are start, status, stop and drain, not '\(action)'")
        }
    }

    /// Stops the engine of `workspace` if one runs, and returns once it has exited.
    static func stopEngine(_ workspace: URL) {
        guard let link = try? EngineConnector.connect(workspace: workspace, hello: EngineConnector.hello(.stop)) else { return }
        waitForEnd(link)
        close(link.fd)
    }

    /// The engine closes its end as it exits (the socket is the last thing its process holds).
    private static func waitForEnd(_ link: EngineConnector.Link) {
        var byte: UInt8 = 0
        while read(link.fd, &byte, 1) > 0 {}
    }

    /// Starts a detached engine unless one answers; returns once one listens.
    private static func start(_ arguments: ParsedArguments, workspace: URL, quiet: Bool) throws -> Int32 {
        var extra: [String] = []
        if let timeout = arguments.value("--idle-timeout") { extra += ["--idle-timeout", timeout] }
        if let level = arguments.value("--log-level") { extra += ["--log-level", level] }
        // The store travels in the environment, so a password in its URL stays out of `ps`.
        let environment = ProcessInfo.processInfo.environment.merging(try StoreChoice.resolve(arguments).engineEnvironment) { _, new in new }
        let deadline = ContinuousClock.now + .seconds(15)
        while true {
            if let link = try EngineConnector.connect(workspace: workspace, hello: EngineConnector.hello(.status)) {
                close(link.fd)
                let reply = link.reply
                if !quiet { Console.line("Engine \(reply["pid"] ?? "?") drives \(workspace.path); log: \(reply["log"] ?? "")") }
                return 0
            }
            let outcome = try EngineStarter.spawnDetached(
                executable: EngineHost.currentExecutable(), workspace: workspace, extraArguments: extra, environment: environment)
            switch outcome.status {
            case .ready:
                continue
            case .busy:
                // Another engine won the race and is about to listen, or a process that does not serve
                // clients (drover serve --no-daemon) holds the workspace: wait a little for the first.
                guard ContinuousClock.now < deadline else { throw CLIError(outcome.message) }
                Thread.sleep(forTimeInterval: 0.05)
            case .failed:
                throw CLIError("the engine of \(workspace.path) did not start: \(outcome.message)")
            }
        }
    }

    /// Runs the engine in this process; never returns.
    private static func foreground(_ arguments: ParsedArguments, workspace: URL) throws -> Never {
        let environment = ProcessInfo.processInfo.environment
        let timeoutText = arguments.value("--idle-timeout") ?? environment["DROVER_ENGINE_IDLE_TIMEOUT"]
        var idleTimeout = Duration.seconds(600)
        if let timeoutText {
            guard let seconds = Double(timeoutText), seconds > 0 else {
                throw UsageError(description: "--idle-timeout must be a positive number of seconds, not '\(timeoutText)'")
            }
            idleTimeout = .milliseconds(Int(seconds * 1000))
        }
        let logger = try ServeCommand.makeLogger(arguments.value("--log-level") ?? "info")
        let statusFD = environment["DROVER_ENGINE_STATUS_FD"].flatMap(Int32.init)
        let store = try StoreChoice.resolve(arguments)
        EngineDaemon.run(workspace: workspace, backend: store.backend,
                         options: EngineDaemon.Options(idleTimeout: idleTimeout, logger: logger), statusFD: statusFD)
    }
}
