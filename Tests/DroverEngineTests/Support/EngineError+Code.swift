import DroverEngine
import DroverProtocol

extension EngineError {
    /// The JSON-RPC code protocol/README.md documents for this kind, so engine tests can state their
    /// expectations in the codes clients see (DroverServer does the real mapping at the edge).
    var code: ErrorCode {
        switch kind {
        case .invalid: .invalidParams
        case .notFound: .notFound
        case .conflict: .conflict
        case .untrusted: .untrusted
        case .internal, .storeUnavailable: .internalError
        }
    }
}
