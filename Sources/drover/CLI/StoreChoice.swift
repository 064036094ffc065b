import DroverEngine
#if PostgreSQL
import DroverPostgres
#endif
import DroverSQLite
import DroverStore
import Foundation

/// Where a command's runs are kept: the workspace's own SQLite file (the default) or a PostgreSQL
/// store that engines on other machines can share.
///
/// Chosen by, first to last: `--store URL`, `DROVER_STORE_URL`, `store.url` in the user's config
/// (`~/.config/drover/config.json`; never the workspace's, which an untrusted checkout could point at
/// a server of its own), else SQLite. The value `sqlite` picks SQLite explicitly. A build without
/// the `PostgreSQL` trait (the static release build) refuses PostgreSQL URLs, saying so.
///
/// Who drives the runs is chosen the same way, by `DROVER_STORE_EXECUTOR`, else `store.executor` in
/// the user config: `engine` (the default: the engine that starts a run drives it) or `workers`
/// (engines record runs and leave them to the `drover worker`s on the store; PostgreSQL only).
enum StoreChoice {
    case sqlite
    #if PostgreSQL
    /// A `postgres://` URL (its password never appears in a message, see `PostgresURL`), and
    /// whether runs are left to workers.
    case postgres(PostgresURL, leaveRunsToWorkers: Bool)
    #endif

    /// The `--store` option of every command that opens a store.
    static let option = OptionSpec(
        name: "--store", value: "URL",
        help: "where runs are kept: postgres://user@host:5432/db or sqlite (default: DROVER_STORE_URL, store.url in the user config, else .drover/drover.db)")

    /// The store `arguments` and the environment choose.
    /// - Throws: `CLIError` for a URL that is neither `sqlite` nor a readable PostgreSQL URL, naming
    ///   where it came from.
    static func resolve(
        _ arguments: ParsedArguments, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> StoreChoice {
        let configFile = EngineConfig.configDirectory(environment: environment).appendingPathComponent("config.json")
        let configured = try configuredStore(configFile)
        let executor: (value: String, source: String)? = environment["DROVER_STORE_EXECUTOR"].flatMap { $0.isEmpty ? nil : $0 }
            .map { ($0, "DROVER_STORE_EXECUTOR") } ?? configured.executor.map { ($0, "store.executor in \(configFile.path)") }
        let toWorkers = try executor.map { try leavesRunsToWorkers($0.value, from: $0.source) } ?? false
        let choice: StoreChoice
        if let flag = arguments.value("--store") {
            choice = try parse(flag, from: "--store", toWorkers: toWorkers)
        } else if let variable = environment["DROVER_STORE_URL"], !variable.isEmpty {
            choice = try parse(variable, from: "DROVER_STORE_URL", toWorkers: toWorkers)
        } else if let url = configured.url {
            choice = try parse(url, from: "store.url in \(configFile.path)", toWorkers: toWorkers)
        } else {
            choice = .sqlite
        }
        // `--store sqlite` (or DROVER_STORE_URL=sqlite) is an explicit choice of a local store: it wins.
        let explicitSQLite = arguments.value("--store") == "sqlite" || environment["DROVER_STORE_URL"] == "sqlite"
        if toWorkers, case .sqlite = choice, !explicitSQLite, let executor {
            throw CLIError("\(executor.source): 'workers' needs a PostgreSQL store the workers share (store.url or --store postgres://…); a SQLite store is driven by its workspace's engine")
        }
        return choice
    }

    /// Whether an executor setting says runs go to workers.
    private static func leavesRunsToWorkers(_ value: String, from source: String) throws -> Bool {
        switch value {
        case "engine": return false
        case "workers": return true
        default: throw CLIError("\(source): '\(value)' is not an executor; use engine (the default) or workers")
        }
    }

    private static func parse(_ text: String, from source: String, toWorkers: Bool) throws -> StoreChoice {
        if text == "sqlite" { return .sqlite }
        #if PostgreSQL
        do {
            return .postgres(try PostgresURL(text), leaveRunsToWorkers: toWorkers)
        } catch let error as StoreError {
            throw CLIError("\(source): \(error.message)")
        }
        #else
        throw CLIError("\(source): this drover was built without PostgreSQL support (the static build turns it off; build with `swift build`)")
        #endif
    }

    /// `store.url` and `store.executor` of the user config file, where set.
    private static func configuredStore(_ file: URL) throws -> (url: String?, executor: String?) {
        guard let data = FileManager.default.contents(atPath: file.path),
              let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let store = object["store"]
        else { return (nil, nil) }
        let fields = store as? [String: Any]
        let url = fields?["url"], executor = fields?["executor"]
        guard let fields, url == nil || url is String, executor == nil || executor is String, !fields.isEmpty else {
            throw CLIError("\(file.path): field 'store' must be {\"url\": \"postgres://…\", \"executor\": \"engine\" or \"workers\"}")
        }
        return (url as? String, executor as? String)
    }

    /// What the engine is handed to drive runs here.
    var backend: StoreBackend {
        switch self {
        case .sqlite: return .sqlite
        #if PostgreSQL
        case .postgres(let url, let toWorkers): return .postgres(url: url, leaveRunsToWorkers: toWorkers)
        #endif
        }
    }

    /// The environment that makes an engine process this command starts choose the same store
    /// (`resolve` reads `DROVER_STORE_URL` before the user config).
    var engineEnvironment: [String: String] {
        switch self {
        case .sqlite: return ["DROVER_STORE_URL": "sqlite", "DROVER_STORE_EXECUTOR": "engine"]
        #if PostgreSQL
        case .postgres(let url, let toWorkers):
            return ["DROVER_STORE_URL": url.environmentValue, "DROVER_STORE_EXECUTOR": toWorkers ? "workers" : "engine"]
        #endif
        }
    }

    /// Whether runs may exist for `workspace` (a SQLite workspace where nothing ran has no file;
    /// a shared store is asked instead).
    func mayHaveRuns(_ workspace: URL) -> Bool {
        switch self {
        case .sqlite: return FileManager.default.fileExists(atPath: StoreLayout(workspace: workspace).databasePath)
        #if PostgreSQL
        case .postgres: return true
        #endif
        }
    }

    /// The store opened read-only (no driving lock, so it works beside an engine), or nil if nothing
    /// has run there yet.
    func openReadOnly(_ workspace: URL) throws -> (any RunStore)? {
        do {
            switch self {
            case .sqlite:
                let path = StoreLayout(workspace: workspace).databasePath
                guard FileManager.default.fileExists(atPath: path) else { return nil }
                return try SQLiteRunStore(path: path, readOnly: true)
            #if PostgreSQL
            case .postgres(let url, _):
                return try PostgresRunStore(url: url, readOnly: true)
            #endif
            }
        } catch let error as StoreError where error.kind == .notFound {
            return nil
        } catch let error as StoreError where error.kind == .unavailable || error.kind == .unsupportedSchema {
            throw CLIError(error.message)
        }
    }
}
