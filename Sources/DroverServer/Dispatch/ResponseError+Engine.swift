import DroverEngine
import DroverProtocol

extension ResponseError {
    /// The JSON-RPC form of an engine error: its kind picks the code (see protocol/README.md, Errors),
    /// and application errors carry `data.kind` plus the engine's details.
    init(_ error: EngineError) {
        switch error.kind {
        case .invalid:
            self = .invalidParams(error.message, data: error.details.isEmpty ? nil : .object(error.details))
        case .internal, .storeUnavailable:
            self = .internalError(error.message)
        case .notFound:
            self.init(code: .notFound, message: error.message, data: Self.data(kind: "not_found", error.details))
        case .conflict:
            self.init(code: .conflict, message: error.message, data: Self.data(kind: "conflict", error.details))
        case .untrusted:
            self.init(code: .untrusted, message: error.message, data: Self.data(kind: "untrusted", error.details))
        }
    }

    private static func data(kind: String, _ details: [String: JSONValue]) -> JSONValue {
        .object(details.merging(["kind": .string(kind)]) { _, kind in kind })
    }
}
