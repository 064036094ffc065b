import DroverProtocol
import Foundation

/// Every pipeline a workspace can run: built-in, the user's (`<configDir>/pipelines/*.json`) and
/// the workspace's (`<workspace>/.drover/pipelines/*.json`).
///
/// The id is the file name without `.json`. On an id clash the workspace wins over the user, and
/// the user over the built-ins, even when the winner is broken (it is then listed with its
/// errors and cannot be started — never silently replaced by the one it shadows).
public struct PipelineCatalog: Sendable {
    /// One pipeline and where it came from.
    public struct Entry: Sendable {
        public var id: String
        public var source: PipelineInfo.Source
        /// The file, for workspace and user pipelines.
        public var path: String?
        /// Nil when the file could not be read into a pipeline at all.
        public var definition: PipelineDefinition?
        public var errors: [String]

        /// What `pipeline/list` shows.
        public var info: PipelineInfo {
            PipelineInfo(id: id, name: definition?.name ?? id, description: definition?.description, source: source,
                         path: path, steps: definition?.stepInfos ?? [], errors: errors)
        }
    }

    /// Entries sorted by id.
    public private(set) var entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries.sorted { $0.id < $1.id } }

    /// Reads all sources now (files are re-read on every call, so edits apply to the next run).
    public static func load(workspace: URL, configDirectory: URL) -> PipelineCatalog {
        var byId = builtins
        for entry in loadDirectory(configDirectory.appendingPathComponent("pipelines"), source: .user) { byId[entry.id] = entry }
        for entry in loadDirectory(workspace.appendingPathComponent(".drover/pipelines"), source: .workspace) { byId[entry.id] = entry }
        return PipelineCatalog(entries: Array(byId.values))
    }

    /// The pipeline `id` as `load(workspace:configDirectory:).entry(id)` finds it, looking only at the files
    /// that may define it (the workspace's `<id>.json`, else the user's, else the built-in one): starting a
    /// run needs one pipeline, not every pipeline file listed and checked.
    public static func entry(_ id: String, workspace: URL, configDirectory: URL) -> Entry? {
        guard Identifiers.isValidID(id) else { return load(workspace: workspace, configDirectory: configDirectory).entry(id) }
        let places: [(folder: String, source: PipelineInfo.Source)] = [
            (workspace.path + "/.drover/pipelines", .workspace), (configDirectory.path + "/pipelines", .user),
        ]
        for place in places {
            let path = "\(place.folder)/\(id).json"
            var info = stat()
            // lstat, as the folder's listing sees names: a dangling link is listed (and unreadable) there too.
            // A file that is no link has just been looked at as a whole: no second `stat` to tell its version.
            guard lstat(path, &info) == 0 else { continue }
            let isLink = info.st_mode & S_IFMT == S_IFLNK
            return validatedFile(path, id: id, source: place.source, identity: isLink ? nil : FileIdentity(info))
        }
        return builtins[id]
    }

    /// The built-in pipelines, validated once: they are part of the binary.
    private static let builtins: [String: Entry] = {
        var byId: [String: Entry] = [:]
        for (id, json) in BuiltinPipelines.all {
            let result = PipelineValidator.validate(data: Data(json.utf8))
            byId[id] = Entry(id: id, source: .builtin, path: nil, definition: result.definition, errors: result.errors)
        }
        return byId
    }()

    /// Pipeline files, validated again only when they changed.
    private static let validatedFiles = FileValueCache<Entry>()

    private static func loadDirectory(_ directory: URL, source: PipelineInfo.Source) -> [Entry] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
        return names.filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.sorted().map { name in
            let id = String(name.dropLast(".json".count))
            let path = directory.appendingPathComponent(name).path
            guard Identifiers.isValidID(id) else {
                return Entry(id: id, source: source, path: path, definition: nil,
                             errors: ["the file name '\(name)' is not a valid pipeline id; ids must match \(Identifiers.idRule)"])
            }
            return validatedFile(path, id: id, source: source)
        }
    }

    /// The pipeline file at `path`, validated again only when it changed (`identity`: the file's, if the
    /// caller has just looked).
    private static func validatedFile(_ path: String, id: String, source: PipelineInfo.Source, identity: FileIdentity? = nil) -> Entry {
        let validate = { (path: String) -> Entry in
            guard let data = FileManager.default.contents(atPath: path) else {
                return Entry(id: id, source: source, path: path, definition: nil, errors: ["cannot read \(path)"])
            }
            let result = PipelineValidator.validate(data: data)
            return Entry(id: id, source: source, path: path, definition: result.definition, errors: result.errors)
        }
        guard let identity else { return validatedFiles.value(at: path, make: validate) }
        return validatedFiles.value(at: path, identity: identity, make: validate)
    }

    /// The pipeline with this id.
    public func entry(_ id: String) -> Entry? { entries.first { $0.id == id } }

    /// What `pipeline/list` returns.
    public var infos: [PipelineInfo] { entries.map(\.info) }
}
