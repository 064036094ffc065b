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
            guard let filePath = filePath(ofURI: uri) else {
                throw ResponseError.invalidParams("'rootUri' must be a file:// URI, got '\(uri)'")
            }
            path = filePath
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

    /// `initialize`'s params read from their text (`message.paramsText`) when each field is absent, null or
    /// of its type — what `drover serve` and the engine's answer wait on, without the `Codable` decode of a
    /// tree (the engine's 31,000 instructions of its way to the answer); nil otherwise (the full decode then
    /// says what is wrong). No tree is built, not even of `clientInfo` or `capabilities` (a `Dictionary`'s
    /// first use costs serve a scan of the runtime's conformance records): `JSONObjectText` finds the
    /// members and parses each scalar alone.
    static func request(_ message: IncomingMessage) -> InitializeRequest? {
        guard message.hasParams else { return InitializeRequest() }
        guard let text = message.paramsText, let fields = JSONObjectText(Array(text)) else { return nil }
        /// A member as `read` finds it: `.some(nil)` when absent or null, nil when of another type.
        func field<Value>(_ object: JSONObjectText, _ key: String, _ read: (JSONObjectText) -> (String) -> Value?) -> Value?? {
            object.isAbsentOrNull(key) ? .some(nil) : read(object)(key).map { .some($0) }
        }
        guard let workspace = field(fields, "workspace", JSONObjectText.string), let rootUri = field(fields, "rootUri", JSONObjectText.string),
              let rootPath = field(fields, "rootPath", JSONObjectText.string),
              let protocolVersion = field(fields, "protocolVersion", JSONObjectText.int),
              let clientInfo = field(fields, "clientInfo", JSONObjectText.object),
              let capabilities = field(fields, "capabilities", JSONObjectText.object) else { return nil }
        var request = InitializeRequest(protocolVersion: protocolVersion, workspace: workspace)
        request.rootUri = rootUri
        request.rootPath = rootPath
        if let clientInfo {
            guard let name = clientInfo.string("name"), let version = field(clientInfo, "version", JSONObjectText.string) else { return nil }
            request.clientInfo = InitializeRequest.ClientInfo(name: name, version: version)
        }
        if let capabilities {
            guard let logs = field(capabilities, "logs", JSONObjectText.bool) else { return nil }
            request.capabilities = InitializeRequest.ClientCapabilities(logs: logs)
        }
        return request
    }

    /// The path of a `file://` URI as `URL(string:)?.path` has it, taken from the text when the URI is
    /// `file://` + an absolute path of characters that need no decoding (what editors send for most
    /// folders): `URL`'s first use costs a start-up more than the rest of serve. Anything else (an
    /// escape, a host, a query, a trailing slash) goes through `URL`; nil when it is not a file URI.
    static func filePath(ofURI uri: String) -> String? {
        let prefix = "file:///"
        if uri.hasPrefix(prefix), !uri.hasSuffix("/"), uri.utf8.dropFirst(prefix.utf8.count).allSatisfy(isPlainPathByte) {
            return String(uri.dropFirst(prefix.count - 1))
        }
        guard let url = URL(string: uri), url.isFileURL else { return nil }
        return url.path
    }

    /// ASCII letters, digits, `/` and the unreserved marks of RFC 3986: what a URI's path holds as it is.
    private static func isPlainPathByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "/"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    /// `path` as `URL(fileURLWithPath:).standardizedFileURL.path` has it: as it is when it is absolute
    /// with no empty, `.` or `..` component and no trailing slash, else through Foundation.
    static func standardized(_ path: String) -> String {
        isSimple(path) ? path : URL(fileURLWithPath: path).standardizedFileURL.path
    }

    /// Whether `path` is absolute and, past its leading slash, has no empty, `.` or `..` component: then it
    /// is standardized already. A scan of its bytes (splitting it would build an array type at every start).
    private static func isSimple(_ path: String) -> Bool {
        var utf8 = path.utf8.makeIterator()
        guard utf8.next() == UInt8(ascii: "/") else { return false }
        // The component read so far: its length, and whether it is all dots.
        var length = 0
        var dotsOnly = true
        var sawComponent = false
        func componentIsSimple() -> Bool { length > 0 && !(dotsOnly && length <= 2) }
        while let byte = utf8.next() {
            if byte == UInt8(ascii: "/") {
                guard componentIsSimple() else { return false }
                (length, dotsOnly, sawComponent) = (0, true, true)
            } else {
                length += 1
                dotsOnly = dotsOnly && byte == UInt8(ascii: ".")
            }
        }
        // "/" alone is simple; otherwise the last component counts too (a trailing slash leaves it empty).
        return (!sawComponent && length == 0) || componentIsSimple()
    }
}
