import Foundation

/// A JSON-RPC request id: a number or a string.
public enum RequestID: Hashable, Sendable, Codable, CustomStringConvertible {
    case int(Int)
    case string(String)

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .int(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        }
    }

    public var description: String {
        switch self {
        case .int(let value): String(value)
        case .string(let value): "\"\(value)\""
        }
    }
}

/// An incoming JSON-RPC message whose envelope is valid; its params are kept as written until they
/// are read (`params`, or a handler's `MessageDecoder.params`), so a request whose handler never reads
/// them — an unknown method, `shutdown` — costs no tree.
public struct IncomingMessage: Sendable {
    /// Whether the client expects an answer.
    public enum Kind: Sendable, Hashable {
        case request(RequestID)
        case notification
    }

    /// `params` as given: absent (or null), a tree, or the text of the message it came in (checked).
    private enum Params: Sendable {
        case none
        case value(JSONValue)
        case text(ArraySlice<UInt8>)
    }

    /// The method's name: a String, or the UTF-8 bytes of a name the message wrote without escapes (a
    /// slice of the message, made a String only when asked for: a request is dispatched by its bytes).
    enum MethodName: Sendable {
        case text(String)
        case bytes(ArraySlice<UInt8>)
    }

    public var kind: Kind
    private var methodName: MethodName
    private var storedParams: Params

    public init(kind: Kind, method: String, params: JSONValue?) {
        self.kind = kind
        self.methodName = .text(method)
        self.storedParams = params.map { .value($0) } ?? .none
    }

    /// A message whose params are `text`, an object or array that `MessageDecoder` has checked.
    init(kind: Kind, methodName: MethodName, paramsText text: ArraySlice<UInt8>?) {
        self.kind = kind
        self.methodName = methodName
        self.storedParams = text.map { .text($0) } ?? .none
    }

    /// The method's name (made on each read when the message wrote it without escapes: a dispatcher
    /// that only compares it uses `withMethodUTF8` or `hasMethod`).
    public var method: String {
        get {
            switch methodName {
            case .text(let text): text
            // Valid UTF-8: the parser checked it.
            case .bytes(let bytes): String(decoding: bytes, as: UTF8.self)
            }
        }
        set { methodName = .text(newValue) }
    }

    /// Calls `body` with the method name's UTF-8 bytes, without making a String.
    public func withMethodUTF8<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        switch methodName {
        case .text(var text): return try text.withUTF8(body)
        case .bytes(let bytes): return try bytes.withUnsafeBufferPointer(body)
        }
    }

    /// Whether the method is `name`, compared as bytes.
    public func hasMethod(_ name: StaticString) -> Bool {
        withMethodUTF8 { $0.elementsEqual(UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)) }
    }

    /// The `params` member (an object or an array), nil when absent or null; parsed on each read.
    public var params: JSONValue? {
        get {
            switch storedParams {
            case .none: nil
            case .value(let value): value
            // Cannot fail: the text passed the same parser's rules inside the message.
            case .text(let text): try? MessageDecoder.paramsParser.parse(text)
            }
        }
        set { storedParams = newValue.map { .value($0) } ?? .none }
    }

    /// The params' text as the client wrote it (a checked object or array), nil when they are absent or
    /// null or were set as a value: for a reader of a few members (`JSONParser.members`) that builds no tree.
    public var paramsText: ArraySlice<UInt8>? {
        if case .text(let text) = storedParams { return text }
        return nil
    }

    /// Whether `params` is present and not null.
    public var hasParams: Bool {
        if case .none = storedParams { return false }
        return true
    }

    /// The request id, nil for notifications.
    public var id: RequestID? {
        if case .request(let id) = kind { return id }
        return nil
    }
}

/// One element of what a framed message decoded to.
public enum IncomingEntry: Sendable {
    case message(IncomingMessage)
    /// Not a valid request; answer `error` with `id` (null when unknown).
    case invalid(id: RequestID?, error: ResponseError)
    /// A response from the client (the server sends no requests, so these are ignored).
    case response
}

/// What one framed message decoded to.
public enum IncomingPayload: Sendable {
    case single(IncomingEntry)
    case batch([IncomingEntry])
}

/// Reads each message's envelope (`jsonrpc`, `id`, `method`, the kind of `params`) while checking the
/// whole text as `JSONParser` would (`MessageEnvelope`), keeps `params` as its bytes, and decodes typed
/// params from them with `JSONValueDecoder` when a handler asks.
///
/// Foundation's JSONDecoder is not used: its dynamic casts per decoded type cost a conformance-table
/// scan on first use, which was most of a cold `initialize`.
public struct MessageDecoder: Sendable {
    /// Numbers beyond Double's range parse as ±infinity, so that (as with JSONDecoder, which converts
    /// only the numbers it decodes) they only fail where a field is read: `"jsonrpc": 1e400` is a
    /// -32600 that keeps the id, not a parse error.
    private static let parser = JSONParser(maxDepth: 512, allowsOutOfRangeNumbers: true)
    /// The same rules for params read later (nested one level less deep than in their message).
    static let paramsParser = parser

    public init() {}

    /// Classifies one framed message: a single message, a batch, or an error to answer.
    public func decode(_ bytes: [UInt8]) -> IncomingPayload {
        guard bytes.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) else {
            return .single(.invalid(id: nil, error: .parseError("empty message")))
        }
        let text: EnvelopeText
        do {
            text = try Self.parser.envelopes(bytes)
        } catch {
            // JSON text is UTF-8 (RFC 8259): say so rather than where the parser stopped.
            if bytes.contains(where: { $0 >= 0x80 }), String(validating: bytes, as: UTF8.self) == nil {
                return .single(.invalid(id: nil, error: .parseError("the message is not valid UTF-8")))
            }
            return .single(.invalid(id: nil, error: .parseError("the message is not valid JSON (\(error))")))
        }
        switch text {
        case .array(let elements):
            if elements.isEmpty {
                return .single(.invalid(id: nil, error: .invalidRequest("an empty batch is not allowed")))
            }
            return .batch(elements.map { element in
                guard let element else {
                    return .invalid(id: nil, error: .invalidRequest("a batch entry must be a JSON object"))
                }
                return Self.classify(element, in: bytes)
            })
        case .object(let envelope):
            return .single(Self.classify(envelope, in: bytes))
        case .other:
            return .single(.invalid(id: nil, error: .invalidRequest("a message must be a JSON object or an array of them")))
        }
    }

    /// Decodes the `params` member of a message into `P`; absent or null params decode as `{}`.
    public func params<P: Decodable>(_ type: P.Type, from message: IncomingMessage) throws(ResponseError) -> P {
        do {
            return try JSONValueDecoder().decode(P.self, from: message.params ?? .object([:]))
        } catch let error as DecodingError {
            throw .invalidParams(error.explanation)
        } catch {
            throw .invalidParams("\(error)")
        }
    }

    /// Checks the members every message is checked for, without touching the params' contents.
    private static func classify(_ envelope: MessageEnvelope, in bytes: [UInt8]) -> IncomingEntry {
        var requestID: RequestID?
        if case .valid(let id) = envelope.id { requestID = id }
        guard envelope.isVersion2 else {
            return .invalid(id: requestID, error: .invalidRequest("\"jsonrpc\" must be \"2.0\""))
        }
        if case .absent = envelope.method, envelope.hasResultOrError { return .response }
        switch envelope.id {
        case .invalid: return .invalid(id: nil, error: .invalidRequest("\"id\" must be a number or a string"))
        case .null: return .invalid(id: nil, error: .invalidRequest("\"id\" must be a number or a string, not null"))
        case .absent, .valid: break
        }
        let name: IncomingMessage.MethodName
        switch envelope.method {
        case .absent: return .invalid(id: requestID, error: .invalidRequest("\"method\" is missing"))
        case .notString: return .invalid(id: requestID, error: .invalidRequest("\"method\" must be a string"))
        case .name(let text): name = .text(text)
        case .bytes(let range): name = .bytes(bytes[range])
        }
        var params: ArraySlice<UInt8>?
        if let range = envelope.params {
            // The text is valid JSON, so its first byte says what it is.
            switch bytes[range.lowerBound] {
            case UInt8(ascii: "n"): params = nil
            case UInt8(ascii: "{"), UInt8(ascii: "["): params = bytes[range]
            default: return .invalid(id: requestID, error: .invalidRequest("\"params\" must be an object or an array"))
            }
        }
        let kind: IncomingMessage.Kind = requestID.map { .request($0) } ?? .notification
        return .message(IncomingMessage(kind: kind, methodName: name, paramsText: params))
    }
}

extension DecodingError {
    /// One line saying which field was wrong and how, for -32602 messages.
    public var explanation: String {
        func path(_ codingPath: [CodingKey]) -> String {
            let names = codingPath.filter { $0.stringValue != "params" }.map { key in
                key.intValue.map { "[\($0)]" } ?? key.stringValue
            }
            return names.isEmpty ? "params" : names.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch self {
        case .keyNotFound(let key, let context):
            let parent = path(context.codingPath)
            return "missing required field '\(key.stringValue)'" + (parent == "params" ? "" : " in '\(parent)'")
        case .typeMismatch(let type, let context):
            return "'\(path(context.codingPath))' must be \(Self.describe(type))"
        case .valueNotFound(let type, let context):
            return "'\(path(context.codingPath))' must be \(Self.describe(type)), not null"
        case .dataCorrupted(let context):
            return "'\(path(context.codingPath))': \(context.debugDescription)"
        @unknown default:
            return "\(self)"
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        if type == String.self { return "a string" }
        if type == Int.self || type == Double.self { return "a number" }
        if type == Bool.self { return "a boolean" }
        return String(describing: type).hasPrefix("Array") ? "an array" : "an object"
    }
}

