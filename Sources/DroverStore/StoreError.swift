import Foundation

/// A store failure: a stable `kind` callers switch on and a message a person can act on.
public struct StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The category of a store failure; open so new kinds can be added without breaking callers.
    public struct Kind: RawRepresentable, Hashable, Sendable {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// An appended seq is already taken (another writer got there first, or an engine bug).
        public static let seqConflict = Kind(rawValue: "seq_conflict")
        /// The events do not fit the run: wrong run id, a gap or a seq out of order.
        public static let invalidAppend = Kind(rawValue: "invalid_append")
        /// A run id or step id that may not become part of a path.
        public static let invalidID = Kind(rawValue: "invalid_id")
        /// No such store, or no such run to page after.
        public static let notFound = Kind(rawValue: "not_found")
        /// A write through a store opened read-only.
        public static let readOnly = Kind(rawValue: "read_only")
        /// Stored data that cannot be decoded.
        public static let corrupt = Kind(rawValue: "corrupt")
        /// The database was written by a newer drover.
        public static let unsupportedSchema = Kind(rawValue: "unsupported_schema")
        /// A file-system operation failed.
        public static let io = Kind(rawValue: "io")
        /// The disk (or quota) holding the store is full: nothing was written, and writes work
        /// again once space is freed.
        public static let full = Kind(rawValue: "full")
        /// The store's address cannot be read (e.g. a malformed `postgres://` URL).
        public static let invalidURL = Kind(rawValue: "invalid_url")
        /// The store's server cannot be reached, refused the connection or dropped it.
        public static let unavailable = Kind(rawValue: "unavailable")
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

extension StoreError: LocalizedError {
    public var errorDescription: String? { message }
}

extension StoreError {
    /// `seq` of `runId` is taken: the store already holds up to `stored`.
    public static func seqConflict(runId: String, seq: Int, stored: Int) -> StoreError {
        StoreError(.seqConflict, "seq \(seq) of run '\(runId)' is already taken (the store holds up to seq \(stored))")
    }

    /// `afterRunId` of `RunStore.runs` names no run, so there is no place in the order to page from.
    public static func unknownCursor(_ runId: String) -> StoreError {
        StoreError(.notFound, "no run '\(runId)' to page after")
    }

    static func invalidID(_ what: String, _ value: String) -> StoreError {
        let shown = value.count > 40 ? "\(value.prefix(40))… (\(value.count) characters)" : value
        return StoreError(
            .invalidID,
            "invalid \(what) '\(shown)': use 1-128 of A-Z a-z 0-9 . _ -, starting with a letter or digit, without '..'")
    }

    /// Whether a write may work when tried again later without anything else changing (the disk
    /// was full, the file system or the server failed): the engine keeps what it could not store
    /// and retries, instead of giving up on it.
    public var isTransientWriteFailure: Bool {
        kind == .full || kind == .io || kind == .unavailable
    }

    /// A failed system call, with errno's text.
    package static func io(_ action: String, _ path: String, errno code: Int32) -> StoreError {
        StoreError(.io, "cannot \(action) \(path): \(String(cString: strerror(code)))")
    }
}
