/// A JSON-RPC error code; open so application codes can be added.
public struct ErrorCode: RawRepresentable, Hashable, Sendable, Codable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    public static let parseError = ErrorCode(rawValue: -32700)
    public static let invalidRequest = ErrorCode(rawValue: -32600)
    public static let methodNotFound = ErrorCode(rawValue: -32601)
    public static let invalidParams = ErrorCode(rawValue: -32602)
    public static let internalError = ErrorCode(rawValue: -32603)
    public static let serverNotInitialized = ErrorCode(rawValue: -32002)
    public static let requestCancelled = ErrorCode(rawValue: -32800)
    public static let notFound = ErrorCode(rawValue: -33001)
    public static let conflict = ErrorCode(rawValue: -33002)
    public static let untrusted = ErrorCode(rawValue: -33003)

    public init(from decoder: Decoder) throws { rawValue = try decoder.singleValueContainer().decode(Int.self) }
    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// The `error` member of a JSON-RPC response: a code, a message a person can act on, optional data.
public struct ResponseError: Error, Codable, Sendable, Hashable {
    public var code: ErrorCode
    public var message: String
    public var data: JSONValue?

    public init(code: ErrorCode, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    /// Malformed JSON.
    public static func parseError(_ detail: String) -> ResponseError {
        ResponseError(code: .parseError, message: "Parse error: \(detail)")
    }

    /// A message that is JSON but not a valid JSON-RPC 2.0 request.
    public static func invalidRequest(_ detail: String) -> ResponseError {
        ResponseError(code: .invalidRequest, message: "Invalid request: \(detail)")
    }

    /// A method the server does not implement (a long name quoted in part: `Excerpt`).
    public static func methodNotFound(_ method: String) -> ResponseError {
        // Built in one allocation: an unknown method is a hot path (clients probe, benchmarks measure it).
        let method = Excerpt.of(method)
        var message = "Method not found: '"
        message.reserveCapacity(message.utf8.count + method.utf8.count + 1)
        message += method
        message += "'"
        return ResponseError(code: .methodNotFound, message: message)
    }

    /// Params that do not fit the method.
    public static func invalidParams(_ detail: String, data: JSONValue? = nil) -> ResponseError {
        ResponseError(code: .invalidParams, message: "Invalid params: \(detail)", data: data)
    }

    /// A bug or an unexpected environment failure.
    public static func internalError(_ detail: String) -> ResponseError {
        ResponseError(code: .internalError, message: "Internal error: \(detail)")
    }

    /// An id that names nothing, e.g. `.notFound("run", "r-1")` (a long one quoted in part: `Excerpt`).
    public static func notFound(_ what: String, _ id: String) -> ResponseError {
        ResponseError(code: .notFound, message: "No \(what) with id '\(Excerpt.of(id))'", data: .object(["kind": .string("not_found")]))
    }

    /// The current state does not allow the action; the message says which state it is in.
    public static func conflict(_ message: String) -> ResponseError {
        ResponseError(code: .conflict, message: message, data: .object(["kind": .string("conflict")]))
    }

    /// The workspace must be trusted first.
    public static func untrusted(_ message: String) -> ResponseError {
        ResponseError(code: .untrusted, message: message, data: .object(["kind": .string("untrusted")]))
    }
}
