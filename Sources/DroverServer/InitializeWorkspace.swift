import DroverProtocol
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The workspace an `initialize` names, as a standardized absolute path.
///
/// `drover serve` resolves it before anything else, and editors wait on that: the usual case (an
/// absolute path with nothing to standardize) takes no Foundation `URL`, `FileManager` or `Codable`
/// decoding, whose first use in a process costs more than the rest of serve's start-up.
enum InitializeWorkspace {
    /// `workspace`, else LSP's `rootUri` / `rootPath`, else `unnamed()` (the cwd; a shared engine's own
    /// workspace). Throws `invalidParams` when it is not an existing directory.
    static func path(from params: InitializeRequest, unnamed: () -> String) throws -> String {
        let path: String
        if let workspace = params.workspace {
            guard workspace.hasPrefix("/") else {
                throw ResponseError.invalidParams("'workspace' must be an absolute path, got '\(workspace)'")
            }
            path = workspace
        } else if let uri = params.rootUri {
            guard let url = URL(string: uri), url.isFileURL else {
                throw ResponseError.invalidParams("'rootUri' must be a file:// URI, got '\(uri)'")
            }
            path = url.path
        } else if let rootPath = params.rootPath {
            path = rootPath
        } else {
            path = unnamed()
        }
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw ResponseError.invalidParams("workspace '\(path)' does not exist or is not a directory")
        }
        return standardized(path)
    }

    /// The process's working directory.
    static func currentDirectory() -> String {
        guard let path = getcwd(nil, 0) else { return FileManager.default.currentDirectoryPath }
        defer { free(path) }
        return String(cString: path)
    }

    /// The fields of `initialize` that name a workspace, read straight from its params when each is
    /// absent, null or a string; nil otherwise (the full decode then says what is wrong).
    static func request(fromRaw params: JSONValue?) -> InitializeRequest? {
        let members: [String: JSONValue]
        switch params {
        case nil, .null?: return InitializeRequest()
        case .object(let object)?: members = object
        default: return nil
        }
        /// The member's text: `.some(nil)` when absent or null, nil when it is anything else.
        func text(_ key: String) -> String?? {
            switch members[key] {
            case nil, .null?: return .some(nil)
            case .string(let text)?: return text
            default: return nil
            }
        }
        guard let workspace = text("workspace"), let rootUri = text("rootUri"), let rootPath = text("rootPath") else { return nil }
        var request = InitializeRequest(workspace: workspace)
        request.rootUri = rootUri
        request.rootPath = rootPath
        return request
    }

    /// `path` as `URL(fileURLWithPath:).standardizedFileURL.path` has it: as it is when it is absolute
    /// with no empty, `.` or `..` component and no trailing slash, else through Foundation.
    static func standardized(_ path: String) -> String {
        let components = path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst()
        let simple = path.hasPrefix("/") && (path == "/" || components.allSatisfy { component in
            !component.isEmpty && !component.elementsEqual(".".utf8) && !component.elementsEqual("..".utf8)
        })
        return simple ? path : URL(fileURLWithPath: path).standardizedFileURL.path
    }
}
