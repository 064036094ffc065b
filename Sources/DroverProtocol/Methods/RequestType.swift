/// A client → server request: its method name, params and result types in one place.
public protocol RequestType: Codable, Sendable {
    associatedtype Response: Codable & Sendable
    /// The JSON-RPC method name.
    static var method: String { get }
}

/// A server → client notification's params.
public protocol NotificationType: Codable, Sendable {
    /// The JSON-RPC method name.
    static var method: String { get }
}

/// An empty params or result object.
public struct Empty: Codable, Sendable, Hashable {
    public init() {}
}

/// A result that is JSON `null` (e.g. `shutdown`).
public struct NullResult: Codable, Sendable, Hashable {
    public init() {}
    public init(from decoder: Decoder) throws {}
    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encodeNil()
    }
}
