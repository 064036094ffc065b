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

/// An incoming JSON-RPC message whose envelope is valid; its params stay raw until a handler decodes them.
public struct IncomingMessage: Sendable {
    /// Whether the client expects an answer.
    public enum Kind: Sendable, Hashable {
        case request(RequestID)
        case notification
    }

    public var kind: Kind
    public var method: String
    /// The whole message as received, decoded again with the handler's params type.
    public var raw: [UInt8]
    /// Whether `params` is present and not null.
    public var hasParams: Bool

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

/// Decodes envelopes (`jsonrpc`, `id`, `method`, the kind of `params`) and typed params.
public struct MessageDecoder: Sendable {
    private let decoder = JSONCoding.makeDecoder()

    public init() {}

    /// Classifies one framed message: a single message, a batch, or an error to answer.
    public func decode(_ bytes: [UInt8]) -> IncomingPayload {
        let data = Data(bytes)
        guard let first = bytes.first(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) else {
            return .single(.invalid(id: nil, error: .parseError("empty message")))
        }
        // JSON text is UTF-8 (RFC 8259); the decoder only checks the strings it decodes, not those in params.
        if bytes.contains(where: { $0 >= 0x80 }), String(validating: bytes, as: UTF8.self) == nil {
            return .single(.invalid(id: nil, error: .parseError("the message is not valid UTF-8")))
        }
        if first == UInt8(ascii: "[") {
            guard let elements = try? decoder.decode([JSONValue].self, from: data) else {
                return .single(.invalid(id: nil, error: .parseError(Self.parseFailure(data))))
            }
            if elements.isEmpty {
                return .single(.invalid(id: nil, error: .invalidRequest("an empty batch is not allowed")))
            }
            let encoder = JSONCoding.makeEncoder()
            return .batch(elements.map { element in
                guard case .object = element, let raw = try? encoder.encode(element) else {
                    return .invalid(id: nil, error: .invalidRequest("a batch entry must be a JSON object"))
                }
                return entry(Array(raw))
            })
        }
        return .single(entry(bytes))
    }

    private func entry(_ bytes: [UInt8]) -> IncomingEntry {
        let envelope: Envelope
        do {
            envelope = try decoder.decode(Envelope.self, from: Data(bytes))
        } catch {
            return .invalid(id: nil, error: .parseError(Self.parseFailure(Data(bytes))))
        }
        return envelope.classify(raw: bytes)
    }

    /// Decodes the `params` member of a message into `P`; absent or null params decode as `{}`.
    public func params<P: Decodable>(_ type: P.Type, from message: IncomingMessage) throws(ResponseError) -> P {
        do {
            if !message.hasParams {
                return try decoder.decode(P.self, from: Data("{}".utf8))
            }
            return try decoder.decode(ParamsHolder<P>.self, from: Data(message.raw)).params
        } catch let error as DecodingError {
            throw .invalidParams(error.explanation)
        } catch {
            throw .invalidParams("\(error)")
        }
    }

    private static func parseFailure(_ data: Data) -> String {
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            return "the message is not valid JSON"
        } catch {
            let text = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            return "the message is not valid JSON" + (text.map { " (\($0))" } ?? "")
        }
    }
}

private struct ParamsHolder<P: Decodable>: Decodable {
    var params: P
}

/// The members every message is checked for, decoded without touching the params' contents.
private struct Envelope: Decodable {
    enum IDField {
        case absent, null, valid(RequestID), invalid
    }
    enum ParamsField {
        case absent, structured, invalid
    }

    var isObject = true
    var jsonrpc: String?
    var id: IDField = .absent
    var method: String??
    var params: ParamsField = .absent
    var isResponse = false

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
        static let jsonrpc = Key(stringValue: "jsonrpc")
        static let id = Key(stringValue: "id")
        static let method = Key(stringValue: "method")
        static let params = Key(stringValue: "params")
        static let result = Key(stringValue: "result")
        static let error = Key(stringValue: "error")
    }

    init(from decoder: Decoder) throws {
        let container: KeyedDecodingContainer<Key>
        do {
            container = try decoder.container(keyedBy: Key.self)
        } catch DecodingError.typeMismatch, DecodingError.valueNotFound {  // valueNotFound: a bare `null`
            isObject = false
            return
        }
        jsonrpc = try? container.decode(String.self, forKey: .jsonrpc)
        if container.contains(.id) {
            if (try? container.decodeNil(forKey: .id)) == true {
                id = .null
            } else if let value = try? container.decode(Int.self, forKey: .id) {
                id = .valid(.int(value))
            } else if let value = try? container.decode(String.self, forKey: .id) {
                id = .valid(.string(value))
            } else {
                id = .invalid
            }
        }
        if container.contains(.method) {
            method = .some(try? container.decode(String.self, forKey: .method))
        }
        if container.contains(.params), (try? container.decodeNil(forKey: .params)) != true {
            if (try? container.nestedContainer(keyedBy: Key.self, forKey: .params)) != nil
                || (try? container.nestedUnkeyedContainer(forKey: .params)) != nil {
                params = .structured
            } else {
                params = .invalid
            }
        }
        isResponse = method == nil && (container.contains(.result) || container.contains(.error))
    }

    func classify(raw: [UInt8]) -> IncomingEntry {
        guard isObject else {
            return .invalid(id: nil, error: .invalidRequest("a message must be a JSON object or an array of them"))
        }
        var requestID: RequestID?
        if case .valid(let value) = id { requestID = value }
        guard jsonrpc == "2.0" else {
            return .invalid(id: requestID, error: .invalidRequest("\"jsonrpc\" must be \"2.0\""))
        }
        if isResponse { return .response }
        switch id {
        case .invalid:
            return .invalid(id: nil, error: .invalidRequest("\"id\" must be a number or a string"))
        case .null:
            return .invalid(id: nil, error: .invalidRequest("\"id\" must be a number or a string, not null"))
        default: break
        }
        guard let method else {
            return .invalid(id: requestID, error: .invalidRequest("\"method\" is missing"))
        }
        guard let name = method else {
            return .invalid(id: requestID, error: .invalidRequest("\"method\" must be a string"))
        }
        if case .invalid = params {
            return .invalid(id: requestID, error: .invalidRequest("\"params\" must be an object or an array"))
        }
        let kind: IncomingMessage.Kind = requestID.map { .request($0) } ?? .notification
        return .message(IncomingMessage(kind: kind, method: name, raw: raw, hasParams: params == .structured))
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

extension Envelope.ParamsField: Equatable {}
