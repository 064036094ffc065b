import DroverEngine
#if PostgreSQL
import DroverPostgres
#endif
import DroverStore
import DroverSupport
import Foundation

/// `drover worker [--store URL] [--max-runs N] [--drivers claude,codex] [--lease SECONDS]`: takes
/// runs that engines left to workers (`store.executor: "workers"`) from a shared PostgreSQL store
/// and drives them (`Worker`), until SIGTERM or SIGINT. A server that is down or restarting is
/// waited for, with backoff; a bad URL, a wrong password or a missing database stop it at once.
enum WorkerCommand {
    static let subcommand = Subcommand(
        name: "worker",
        usage: "worker [--store URL] [--max-runs N] [--drivers LIST] [--lease SECONDS]",
        summary: "Drive runs queued for workers on a shared PostgreSQL store, until stopped (SIGTERM/SIGINT).",
        options: [
            StoreChoice.option,
            OptionSpec(name: "--max-runs", value: "N", help: "drive at most N runs at once (default 4)"),
            OptionSpec(name: "--drivers", value: "LIST", help: "only runs whose agents use these drivers, e.g. claude,codex (default: any)"),
            OptionSpec(name: "--lease", value: "SECONDS", help: "how long a run's lease lasts unrenewed; a dead worker's runs wait this long (default 30)"),
        ],
        run: run
    )

    static func run(_ arguments: ParsedArguments) async throws -> Int32 {
        let maxRuns = try integer(arguments.value("--max-runs") ?? "4", option: "--max-runs", in: 1...1000)
        let drivers = try driverList(arguments.value("--drivers"))
        let lease = try seconds(arguments.value("--lease") ?? "30")
        #if PostgreSQL
        guard case .postgres(let url, _) = try StoreChoice.resolve(arguments) else {
            throw CLIError("drover worker needs a shared PostgreSQL store: --store postgres://user@host:5432/db, DROVER_STORE_URL or store.url in the user config")
        }
        let logger = Logger(level: .warning)
        signal(SIGPIPE, SIG_IGN)
        let leases = try await connect(url, lease: lease, logger: logger)
        let worker = Worker(
            leases: leases, queue: PostgresWorkerQueue(url: url),
            openStore: {
                let store = try PostgresRunStore(url: url)
                store.fence(with: leases)
                return store
            },
            followStore: { PostgresChangeFeed(url: url, log: { logger.warning("worker: \($0)") }) },
            settings: .init(maxRuns: maxRuns, drivers: drivers, home: URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
                            repositoryCache: RepositoryCache(directory: RepositoryCache.defaultDirectory())),
            logger: logger)
        let signals = stopOnSignals(worker)
        writeAll(STDERR_FILENO, "drover worker: pid \(getpid()) on \(url), up to \(maxRuns) runs, drivers \(drivers?.joined(separator: ",") ?? "any"), lease \(lease)\n")
        await worker.run()
        withExtendedLifetime(signals) {}
        return 0
        #else
        throw CLIError("this drover was built without PostgreSQL support, which drover worker needs (build with `swift build`)")
        #endif
    }

    #if PostgreSQL
    /// Connects the worker's leases (migrating the store if needed), retrying with backoff while the
    /// server cannot be reached; a refusal that waiting will not fix (wrong password, no such
    /// database or role) is thrown at once. Messages never carry the password (`PostgresURL`).
    private static func connect(_ url: PostgresURL, lease: Duration, logger: Logger) async throws -> PostgresRunOwnership {
        var delay = Duration.milliseconds(250)
        while true {
            do {
                return try PostgresRunOwnership(url: url, leaseDuration: lease)
            } catch let error as StoreError where error.kind == .unavailable && !isPermanent(error.message) {
                logger.warning("worker: \(error.message); trying again in \(delay)")
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(10))
            }
        }
    }

    /// Whether the server refused us in a way retrying cannot fix.
    private static func isPermanent(_ message: String) -> Bool {
        ["authentication failed", "does not exist", "no pg_hba.conf entry", "permission denied"]
            .contains { message.contains($0) }
    }
    #endif

    private static func stopOnSignals(_ worker: Worker) -> [DispatchSourceSignal] {
        [SIGTERM, SIGINT, SIGHUP].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { Task { await worker.stop() } }
            source.resume()
            return source
        }
    }

    private static func integer(_ text: String, option: String, in range: ClosedRange<Int>) throws -> Int {
        guard let value = Int(text), range.contains(value) else {
            throw UsageError(description: "\(option) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
        }
        return value
    }

    /// `--drivers`: registered driver names, comma-separated.
    private static func driverList(_ text: String?) throws -> [String]? {
        guard let text else { return nil }
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let known = AgentDrivers.names.joined(separator: ", ")
        guard !names.isEmpty else { throw UsageError(description: "--drivers needs at least one driver: \(known)") }
        if let unknown = names.first(where: { !AgentDrivers.names.contains($0) }) {
            throw UsageError(description: "--drivers: unknown driver '\(unknown)'; known drivers: \(known)")
        }
        return names
    }

    /// `--lease`: seconds, at least 0.5 (a heartbeat runs every third of it).
    private static func seconds(_ text: String) throws -> Duration {
        guard let value = Double(text), value >= 0.5, value <= 86_400 else {
            throw UsageError(description: "--lease must be a number of seconds from 0.5 to 86400, not '\(text)'")
        }
        return .milliseconds(Int64((value * 1000).rounded()))
    }
}
