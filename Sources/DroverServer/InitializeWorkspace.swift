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
    /// first use costs serve a scan of the runtime's conformance records): only the members are found
    /// (see `JSONParser.members`), and each scalar parsed alone.
    static func request(_ message: IncomingMessage) -> InitializeRequest? {
        guard message.hasParams else { return InitializeRequest() }
        guard let text = message.paramsText else { return nil }
        return text.withUnsafeBufferPointer { params -> InitializeRequest? in
            guard let fields = ObjectFields(params) else { return nil }
            guard let workspace = fields.string("workspace"), let rootUri = fields.string("rootUri"),
                  let rootPath = fields.string("rootPath"), let protocolVersion = fields.int("protocolVersion"),
                  let clientInfo = fields.object("clientInfo"), let capabilities = fields.object("capabilities") else { return nil }
            var request = InitializeRequest(protocolVersion: protocolVersion, workspace: workspace)
            request.rootUri = rootUri
            request.rootPath = rootPath
            if let clientInfo {
                guard let name = clientInfo.string("name"), let name, let version = clientInfo.string("version") else { return nil }
                request.clientInfo = InitializeRequest.ClientInfo(name: name, version: version)
            }
            if let capabilities {
                guard let logs = capabilities.bool("logs") else { return nil }
                request.capabilities = InitializeRequest.ClientCapabilities(logs: logs)
            }
            return request
        }
    }

    /// A JSON object's members as found in its text. Each read is `.some(nil)` when the member is absent
    /// or null, nil when it is of another type (or does not parse): the full decode must judge it.
    private struct ObjectFields {
        let text: UnsafeBufferPointer<UInt8>
        let members: [JSONMember]

        init?(_ text: UnsafeBufferPointer<UInt8>) {
            guard let members = try? JSONParser().members(text) else { return nil }
            self.text = text
            self.members = members
        }

        /// The member's text, `.some(nil)` when absent or null.
        private func member(_ key: String) -> UnsafeBufferPointer<UInt8>?? {
            guard let range = members.value(key) else { return .some(nil) }
            let member = UnsafeBufferPointer(rebasing: text[range])
            return member.elementsEqual("null".utf8) ? .some(nil) : member
        }

        /// The member parsed as a scalar: `.some(nil)` when absent or null, nil when it does not parse.
        private func scalar(_ key: String) -> JSONValue?? {
            guard let member = member(key) else { return nil }
            guard let member else { return .some(nil) }
            guard member.first != UInt8(ascii: "{"), member.first != UInt8(ascii: "["),
                  let value = try? JSONParser().parse(member) else { return nil }
            return value
        }

        func string(_ key: String) -> String?? {
            switch scalar(key) {
            case .some(nil): .some(nil)
            case .some(.string(let string)?): string
            default: nil
            }
        }

        func int(_ key: String) -> Int?? {
            switch scalar(key) {
            case .some(nil): .some(nil)
            case .some(.int(let int)?): int
            default: nil
            }
        }

        func bool(_ key: String) -> Bool?? {
            switch scalar(key) {
            case .some(nil): .some(nil)
            case .some(.bool(let bool)?): bool
            default: nil
            }
        }

        func object(_ key: String) -> ObjectFields?? {
            guard let member = member(key) else { return nil }
            guard let member else { return .some(nil) }
            guard let fields = ObjectFields(member) else { return nil }
            return fields
        }
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
