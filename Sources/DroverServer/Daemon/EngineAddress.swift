import DroverSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a workspace's engine listens: `<runtime dir>/<hash of the workspace path>.sock`.
///
/// The runtime directory is `$XDG_RUNTIME_DIR/drover/`, else `<temp dir>/drover-<uid>/`; it is
/// made 0700 and must belong to this user (a folder someone else made first is refused, so nobody
/// can plant a socket where a client looks). The name is a hash, so any workspace path fits the
/// ~108 bytes of `sun_path`.
public struct EngineAddress: Sendable {
    /// The workspace's standardized path (what the hash is of).
    public let workspacePath: String
    public let directory: String
    public let socketPath: String

    /// - Parameter environment: default: the process's.
    public init(workspace: URL, environment: [String: String]? = nil) {
        if let environment {
            self.init(workspacePath: workspace.standardizedFileURL.path) { environment[$0] }
        } else {
            self.init(workspacePath: workspace.standardizedFileURL.path)
        }
    }

    /// - Parameters:
    ///   - workspacePath: standardized already (as `URL.standardizedFileURL.path` or `WorkspacePath` make it).
    ///   - variable: the environment's value of a name (default: the process's, without building
    ///     Foundation's whole environment dictionary, which a starting `drover serve` would pay for).
    public init(workspacePath: String, variable: (String) -> String? = { getenv($0).map { String(cString: $0) } }) {
        self.workspacePath = workspacePath
        directory = Self.runtimeDirectory(variable: variable)
        socketPath = directory + "/" + Self.name(for: workspacePath) + ".sock"
    }

    /// `$XDG_RUNTIME_DIR/drover`, else `<temp dir>/drover-<uid>`.
    static func runtimeDirectory(variable: (String) -> String?) -> String {
        if let runtime = variable("XDG_RUNTIME_DIR"), runtime.hasPrefix("/") {
            return (runtime.hasSuffix("/") ? String(runtime.dropLast()) : runtime) + "/drover"
        }
        let temp = variable("TMPDIR").flatMap { $0.hasPrefix("/") ? $0 : nil } ?? "/tmp"
        return (temp.hasSuffix("/") ? String(temp.dropLast()) : temp) + "/drover-\(geteuid())"
    }

    /// 16 hex digits of FNV-1a (64-bit) over the path: short, stable across runs and builds.
    static func name(for path: String) -> String { StableHash.hex16(path) }

    /// Makes the runtime directory (0700) if needed and checks it is private to this user; throws a
    /// message for people otherwise, or when the socket path is too long for `sun_path`.
    public func preparePrivateDirectory() throws {
        guard socketPath.utf8.count <= UnixSocket.maxPathBytes else {
            throw EngineAttachError(
                "the engine's socket path \(socketPath) is longer than \(UnixSocket.maxPathBytes) bytes; set XDG_RUNTIME_DIR or TMPDIR to a shorter folder")
        }
        let parent = (directory as NSString).deletingLastPathComponent
        if mkdir(parent, 0o755) != 0 && errno != EEXIST {
            throw EngineAttachError("cannot create \(parent): \(String(cString: strerror(errno)))")
        }
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw EngineAttachError("cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard lstat(directory, &info) == 0 else {
            throw EngineAttachError("cannot inspect \(directory): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFDIR, info.st_uid == geteuid() else {
            throw EngineAttachError(
                "\(directory) is not a folder owned by you (uid \(geteuid())); remove it or set XDG_RUNTIME_DIR, so no one else can intercept the engine's socket")
        }
        if info.st_mode & 0o077 != 0 {
            guard chmod(directory, 0o700) == 0 else {
                throw EngineAttachError("cannot make \(directory) private (chmod 0700): \(String(cString: strerror(errno)))")
            }
        }
    }
}

/// Why a client could not reach (or start) a workspace's engine; the text is for people.
public struct EngineAttachError: Error, CustomStringConvertible, LocalizedError {
    public let description: String
    public init(_ description: String) { self.description = description }
    public var errorDescription: String? { description }
}
