import DroverEngine
import DroverProtocol
import DroverStore
import Foundation

/// The workspace a command works on, and read-only access to its store.
///
/// Read-only commands never take the driving lock, so they work while another engine (an editor's
/// `drover serve`) drives the same workspace.
enum Workspace {
    /// `--workspace DIR` made absolute, else the current directory; it must be an existing folder
    /// unless `mayBeGone` (an engine whose folder was removed can still be asked and stopped: its
    /// socket is named by the path).
    static func resolve(_ arguments: ParsedArguments, mayBeGone: Bool = false) throws -> URL {
        let cwd = FileManager.default.currentDirectoryPath
        let url: URL
        if let path = arguments.value("--workspace") {
            url = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: cwd, isDirectory: true)).absoluteURL
        } else {
            url = URL(fileURLWithPath: cwd, isDirectory: true)
        }
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory)
        guard (exists && isDirectory.boolValue) || (mayBeGone && !exists) else {
            throw CLIError("workspace \(url.path) is not a folder")
        }
        return url.standardizedFileURL
    }

    /// The `--workspace` option every workspace command accepts.
    static let option = OptionSpec(name: "--workspace", value: "DIR", help: "the workspace folder (default: the current folder)")

    /// The user's config folder (`DROVER_CONFIG_DIR`, else `~/.config/drover`).
    static var configDirectory: URL { EngineConfig.configDirectory(environment: ProcessInfo.processInfo.environment) }

    /// The read side of the workspace's runs on `store` opened read-only (no driving lock, so it
    /// works beside an engine), or nil if nothing has run there yet.
    static func queries(_ workspace: URL, store: StoreChoice) throws -> RunQueries? {
        try store.openReadOnly(workspace).map { RunQueries(store: $0, workspace: workspace) }
    }

    /// The run `id` of `workspace` and the queries that found it, or an error naming what exists.
    static func loadRun(_ id: String, workspace: URL, store: StoreChoice) throws -> (RunQueries, Run) {
        guard let queries = try queries(workspace, store: store) else {
            throw CLIError("no run '\(id)': nothing has run in \(workspace.path) yet (use --workspace to look elsewhere)")
        }
        do {
            return (queries, try queries.run(id))
        } catch let error as EngineError where error.kind == .notFound {
            throw CLIError("no run '\(id)' in \(workspace.path); 'drover runs' lists them")
        }
    }
}

/// A failure of a command, shown as one line `drover: <message>` on stderr with exit code 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
