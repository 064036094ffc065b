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
enum StoreChoice {
    case sqlite
    #if PostgreSQL
    /// A `postgres://` URL; its password never appears in a message (see `PostgresURL`).
    case postgres(PostgresURL)
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
        if let flag = arguments.value("--store") { return try parse(flag, from: "--store") }
        if let variable = environment["DROVER_STORE_URL"], !variable.isEmpty { return try parse(variable, from: "DROVER_STORE_URL") }
        let configFile = EngineConfig.configDirectory(environment: environment).appendingPathComponent("config.json")
        if let configured = try configuredURL(configFile) { return try parse(configured, from: "store.url in \(configFile.path)") }
        return .sqlite
    }

    private static func parse(_ text: String, from source: String) throws -> StoreChoice {
        if text == "sqlite" { return .sqlite }
        #if PostgreSQL
        do {
            return .postgres(try PostgresURL(text))
        } catch let error as StoreError {
            throw CLIError("\(source): \(error.message)")
        }
        #else
        throw CLIError("\(source): this drover was built without PostgreSQL support (the static build turns it off; build with `swift build`)")
        #endif
    }

    /// `store.url` of the user config file, if set.
    private static func configuredURL(_ file: URL) throws -> String? {
        guard let data = FileManager.default.contents(atPath: file.path),
              let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let store = object["store"]
        else { return nil }
        guard let url = (store as? [String: Any])?["url"] as? String else {
            throw CLIError("\(file.path): field 'store' must be {\"url\": \"postgres://…\"}")
        }
        return url
    }

    /// What the engine is handed to drive runs here.
    var backend: StoreBackend {
        switch self {
        case .sqlite: return .sqlite
        #if PostgreSQL
        case .postgres(let url): return .postgres(url: url)
        #endif
        }
    }

    /// The environment that makes an engine process this command starts choose the same store
    /// (`resolve` reads `DROVER_STORE_URL` before the user config).
    var engineEnvironment: [String: String] {
        switch self {
        case .sqlite: return ["DROVER_STORE_URL": "sqlite"]
        #if PostgreSQL
        case .postgres(let url): return ["DROVER_STORE_URL": url.environmentValue]
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
            case .postgres(let url):
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
