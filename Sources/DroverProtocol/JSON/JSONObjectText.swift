/// A JSON object as its text: where each member is (`JSONParser.members`), each read alone when asked
/// for — no tree of the rest and no `Dictionary` or `[String: Any]` (whose first use costs `drover
/// serve`'s start-up a scan of the runtime's conformance records). The engine's hello and its answer,
/// and `initialize`'s params, are read so.
public struct JSONObjectText: Sendable {
    /// The object's bytes.
    public let bytes: [UInt8]
    /// Where each of its members is in `bytes`.
    private let members: [JSONMember]

    /// nil unless `bytes` is a JSON object.
    public init?(_ bytes: [UInt8]) {
        guard let members = try? bytes.withUnsafeBufferPointer({ try JSONParser().members($0) }) else { return nil }
        self.bytes = bytes
        self.members = members
    }

    /// One member, parsed alone (containers too); nil when absent or when its text does not parse.
    public func value(_ key: String) -> JSONValue? {
        guard let range = members.value(key) else { return nil }
        return try? bytes.withUnsafeBufferPointer { try JSONParser().parse(UnsafeBufferPointer(rebasing: $0[range])) }
    }

    /// Whether the member is absent or null.
    public func isAbsentOrNull(_ key: String) -> Bool {
        guard let range = members.value(key) else { return true }
        return bytes[range].elementsEqual("null".utf8)
    }

    /// A member that is a string, else nil.
    public func string(_ key: String) -> String? {
        if case .string(let string)? = scalar(key) { string } else { nil }
    }

    /// A member that is an integer, else nil.
    public func int(_ key: String) -> Int? {
        if case .int(let int)? = scalar(key) { int } else { nil }
    }

    /// A member that is a boolean, else nil.
    public func bool(_ key: String) -> Bool? {
        if case .bool(let bool)? = scalar(key) { bool } else { nil }
    }

    /// A member that is an object, as its text (nothing in it parsed yet), else nil.
    public func object(_ key: String) -> JSONObjectText? {
        members.value(key).flatMap { JSONObjectText(Array(bytes[$0])) }
    }

    /// One member as JSON text, for messages ("?" when absent).
    public func text(_ key: String) -> String {
        members.value(key).map { String(decoding: bytes[$0], as: UTF8.self) } ?? "?"
    }

    /// A member that is not an array or object, parsed alone (a container would build a tree only to be
    /// refused by the typed readers).
    private func scalar(_ key: String) -> JSONValue? {
        guard let range = members.value(key), let first = bytes[range].first,
              first != UInt8(ascii: "{"), first != UInt8(ascii: "[") else { return nil }
        return value(key)
    }
}
