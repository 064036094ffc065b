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

/// An incoming JSON-RPC message whose envelope is valid; its params stay a `JSONValue` until a handler decodes them.
public struct IncomingMessage: Sendable {
    /// Whether the client expects an answer.
    public enum Kind: Sendable, Hashable {
        case request(RequestID)
        case notification
    }

    public var kind: Kind
    public var method: String
    /// The `params` member (an object or an array), nil when absent or null.
    public var params: JSONValue?

    public init(kind: Kind, method: String, params: JSONValue?) {
        self.kind = kind
        self.method = method
        self.params = params
    }

    /// Whether `params` is present and not null.
    public var hasParams: Bool { params != nil }

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

/// Parses each message once into a `JSONValue`, classifies its envelope (`jsonrpc`, `id`, `method`,
/// the kind of `params`) from the tree, and decodes typed params from it with `JSONValueDecoder`.
///
/// Foundation's JSONDecoder is not used: its dynamic casts per decoded type cost a conformance-table
/// scan on first use, which was most of a cold `initialize`.
public struct MessageDecoder: Sendable {
    /// Numbers beyond Double's range parse as ±infinity, so that (as with JSONDecoder, which converts
    /// only the numbers it decodes) they only fail where a field is read: `"jsonrpc": 1e400` is a
    /// -32600 that keeps the id, not a parse error.
    private let parser = JSONParser(maxDepth: 512, allowsOutOfRangeNumbers: true)

    public init() {}

    /// Classifies one framed message: a single message, a batch, or an error to answer.
    public func decode(_ bytes: [UInt8]) -> IncomingPayload {
        guard bytes.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) else {
            return .single(.invalid(id: nil, error: .parseError("empty message")))
        }
        let value: JSONValue
        do {
            value = try parser.parse(bytes)
        } catch {
            // JSON text is UTF-8 (RFC 8259): say so rather than where the parser stopped.
            if bytes.contains(where: { $0 >= 0x80 }), String(validating: bytes, as: UTF8.self) == nil {
                return .single(.invalid(id: nil, error: .parseError("the message is not valid UTF-8")))
            }
            return .single(.invalid(id: nil, error: .parseError("the message is not valid JSON (\(error))")))
        }
        switch value {
        case .array(let elements):
            if elements.isEmpty {
                return .single(.invalid(id: nil, error: .invalidRequest("an empty batch is not allowed")))
            }
            return .batch(elements.map { element in
                guard case .object(let members) = element else {
                    return .invalid(id: nil, error: .invalidRequest("a batch entry must be a JSON object"))
                }
                return Self.classify(members)
            })
        case .object(let members):
            return .single(Self.classify(members))
        default:
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

    /// One request read without a tree of its params: its id, method, and where its params are in
    /// `bytes` (nil when absent or null). Non-nil exactly when `decode` would take `bytes` as a single
    /// request; for anything else (a notification, a batch, an error to answer) it is nil and `decode`
    /// says what it is. `drover serve` reads `initialize` so before the engine takes over: building a
    /// tree's first `Dictionary` costs a process a scan of the runtime's conformance records.
    public func skimRequest(_ bytes: [UInt8]) -> SkimmedRequest? {
        bytes.withUnsafeBufferPointer { buffer in
            guard let members = try? parser.members(buffer) else { return nil }
            func value(_ key: String) -> JSONValue? {
                guard let range = members.value(key) else { return nil }
                return try? parser.parse(UnsafeBufferPointer(rebasing: buffer[range]))
            }
            let params = members.value("params")
            let shape: ParamsShape = switch params.map({ buffer[$0.lowerBound] }) {
            case nil, UInt8(ascii: "n")?: .absent
            case UInt8(ascii: "{")?, UInt8(ascii: "[")?: .structured
            default: .other
            }
            let answers = members.value("result") != nil || members.value("error") != nil
            guard case .request(let id?, let method) = Self.envelope(id: value("id"), jsonrpc: value("jsonrpc"), method: value("method"),
                                                                     params: shape, answers: answers) else { return nil }
            return SkimmedRequest(id: id, method: method, params: shape == .structured ? params : nil)
        }
    }

    /// Checks the members every message is checked for, without touching the params' contents.
    private static func classify(_ members: [String: JSONValue]) -> IncomingEntry {
        let params = members["params"]
        let shape: ParamsShape = switch params {
        case nil, .null?: .absent
        case .object?, .array?: .structured
        default: .other
        }
        let answers = members["result"] != nil || members["error"] != nil
        switch envelope(id: members["id"], jsonrpc: members["jsonrpc"], method: members["method"], params: shape, answers: answers) {
        case .request(let id, let method):
            let kind: IncomingMessage.Kind = id.map { .request($0) } ?? .notification
            return .message(IncomingMessage(kind: kind, method: method, params: shape == .structured ? params : nil))
        case .response: return .response
        case .invalid(let id, let error): return .invalid(id: id, error: error)
        }
    }

    /// What `params` holds, as far as the envelope cares.
    private enum ParamsShape { case absent, structured, other }

    /// What an envelope is, by the rules every message is checked by.
    private enum Envelope {
        /// A request (with an id) or a notification (without).
        case request(RequestID?, method: String)
        case response
        case invalid(RequestID?, ResponseError)
    }

    private static func envelope(id: JSONValue?, jsonrpc: JSONValue?, method: JSONValue?, params: ParamsShape, answers: Bool) -> Envelope {
        var requestID: RequestID?
        var idIsInvalid = false
        var idIsNull = false
        switch id {
        case nil: break
        case .null: idIsNull = true
        case .int(let value): requestID = .int(value)
        // Like JSONDecoder, an integral number written `1.0` or `1e3` is an Int.
        case .double(let value): if let int = Int(exactly: value) { requestID = .int(int) } else { idIsInvalid = true }
        case .string(let value): requestID = .string(value)
        default: idIsInvalid = true
        }
        guard jsonrpc?.stringValue == "2.0" else {
            return .invalid(requestID, .invalidRequest("\"jsonrpc\" must be \"2.0\""))
        }
        if method == nil && answers { return .response }
        if idIsInvalid {
            return .invalid(nil, .invalidRequest("\"id\" must be a number or a string"))
        }
        if idIsNull {
            return .invalid(nil, .invalidRequest("\"id\" must be a number or a string, not null"))
        }
        guard let method else {
            return .invalid(requestID, .invalidRequest("\"method\" is missing"))
        }
        guard case .string(let name) = method else {
            return .invalid(requestID, .invalidRequest("\"method\" must be a string"))
        }
        guard params != .other else {
            return .invalid(requestID, .invalidRequest("\"params\" must be an object or an array"))
        }
        return .request(requestID, method: name)
    }
}

/// A request as `MessageDecoder.skimRequest` reads it: its params left as bytes.
public struct SkimmedRequest: Sendable, Equatable {
    public let id: RequestID
    public let method: String
    /// Where the params' object or array is in the bytes read; nil when they are absent or null.
    public let params: Range<Int>?
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

