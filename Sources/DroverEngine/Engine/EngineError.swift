import DroverProtocol

/// Why the engine refused or failed a request: a stable kind, one line a person can act on, and
/// details a client may use. The engine knows nothing of JSON-RPC; DroverServer maps each kind to
/// its error code at the edge (and the CLI prints the message).
public struct EngineError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, as clients switch on it.
    public enum Kind: String, Sendable, Hashable {
        /// The request's values do not fit (a blank task, a choice outside the options, missing inputs…).
        case invalid
        /// An id that names nothing.
        case notFound = "not_found"
        /// The current state does not allow the action; the message says the state.
        case conflict
        /// The workspace must be trusted first.
        case untrusted
        /// A bug, or the environment failed (the store, the file system).
        case `internal`
        /// The store cannot take writes now (its disk is full, its file system or server failed);
        /// nothing was written, and the same request may work once that is fixed.
        case storeUnavailable = "store_unavailable"
    }

    public var kind: Kind
    public var message: String
    /// Extra members for clients (e.g. `roles`, `options`, `reason`, `workspace`).
    public var details: [String: JSONValue]

    public init(_ kind: Kind, _ message: String, details: [String: JSONValue] = [:]) {
        self.kind = kind
        self.message = message
        self.details = details
    }

    public var description: String { message }

    /// Values that do not fit the request.
    public static func invalid(_ message: String, details: [String: JSONValue] = [:]) -> EngineError {
        EngineError(.invalid, message, details: details)
    }

    /// An id that names nothing, e.g. `.notFound("run", "r-1")` (a long one quoted in part: `Excerpt`).
    public static func notFound(_ what: String, _ id: String) -> EngineError {
        EngineError(.notFound, "No \(what) with id '\(Excerpt.of(id))'")
    }

    /// The current state does not allow the action.
    public static func conflict(_ message: String) -> EngineError {
        EngineError(.conflict, message)
    }

    /// The workspace must be trusted first.
    public static func untrusted(_ message: String, details: [String: JSONValue] = [:]) -> EngineError {
        EngineError(.untrusted, message, details: details)
    }

    /// The store refused a write that may work later (see `StoreError.isTransientWriteFailure`).
    public static func storeUnavailable(_ message: String) -> EngineError {
        EngineError(.storeUnavailable, message)
    }

    /// A bug or an environment failure.
    public static func internalError(_ message: String) -> EngineError {
        EngineError(.internal, message)
    }
}
