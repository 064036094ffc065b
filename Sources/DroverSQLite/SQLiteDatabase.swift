import CSQLite
import Foundation

/// Tells SQLite to copy a bound buffer at once, because Swift only lends us the bytes for the call.
/// (The C macro is a cast of -1 that Swift cannot import.)
let SQLITE_TRANSIENT = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A failure reported by SQLite: its extended result code and its own message.
public struct SQLiteError: Error, Sendable, Hashable, CustomStringConvertible, LocalizedError {
    /// The extended result code (e.g. `SQLITE_CONSTRAINT_PRIMARYKEY`).
    public var code: Int32
    public var message: String

    public init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    /// The primary result code (e.g. `SQLITE_CONSTRAINT`), which groups the extended ones.
    public var primaryCode: Int32 { code & 0xFF }
    /// A UNIQUE / PRIMARY KEY / NOT NULL / CHECK violation.
    public var isConstraintViolation: Bool { primaryCode == SQLITE_CONSTRAINT }

    public var description: String { "sqlite error \(code): \(message)" }
    public var errorDescription: String? { description }

    /// The error for result code `rc` with the connection's current message.
    init(_ rc: Int32, connection: OpaquePointer?, context: String? = nil) {
        let message = connection.map { String(cString: sqlite3_errmsg($0)) } ?? "unknown error"
        self.init(code: rc, message: context.map { "\($0): \(message)" } ?? message)
    }
}

/// One connection to a SQLite database: a thin layer over the C API and nothing more.
///
/// Not thread-safe: like `RunStore`, it belongs to one owner that uses it from one task at a time.
/// The connection is opened without SQLite's own mutex for that reason.
final class SQLiteDatabase {
    let path: String
    let isReadOnly: Bool
    private let handle: OpaquePointer
    private var cache: [String: SQLiteStatement] = [:]

    /// How long a statement waits for another connection's lock before failing with `SQLITE_BUSY`.
    static let busyTimeoutMilliseconds: Int32 = 5000

    /// Opens (and, unless `readOnly`, creates) the database at `path`.
    /// Symlinks are refused: a workspace is untrusted and could point `drover.db` anywhere.
    init(path: String, readOnly: Bool) throws {
        self.path = path
        self.isReadOnly = readOnly
        var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW
        flags |= readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            // SQLite hands back a handle even on failure, only so the message can be read from it.
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw SQLiteError(code: rc, message: "cannot open \(path): \(message)")
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, Self.busyTimeoutMilliseconds)
    }

    deinit {
        cache.removeAll()
        // close_v2 defers the close until any statement still held elsewhere is finalized.
        sqlite3_close_v2(handle)
    }

    /// The error for result code `rc`, with the connection's current message.
    func error(_ rc: Int32, _ context: String? = nil) -> SQLiteError {
        SQLiteError(rc, connection: handle, context: context)
    }

    /// Runs one or more statements that return no rows we care about.
    func exec(_ sql: String) throws {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc) }
    }

    /// A new prepared statement, finalized when released.
    func prepare(_ sql: String) throws -> SQLiteStatement {
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw error(rc, "cannot prepare `\(sql)`") }
        return SQLiteStatement(statement)
    }

    /// A prepared statement kept for the life of the connection, so hot paths skip SQL compilation.
    /// Callers must `reset()` it when done (the helpers on `SQLiteStatement` do).
    func cached(_ sql: String) throws -> SQLiteStatement {
        if let statement = cache[sql] { return statement }
        let statement = try prepare(sql)
        cache[sql] = statement
        return statement
    }

    /// The first column of the first row of `sql` as an integer (for pragmas and counts).
    func scalarInt(_ sql: String) throws -> Int? {
        let statement = try prepare(sql)
        return try statement.step() ? statement.int(0) : nil
    }

    /// The first column of the first row of `sql` as text.
    func scalarText(_ sql: String) throws -> String? {
        let statement = try prepare(sql)
        return try statement.step() ? statement.text(0) : nil
    }

    /// Whether a transaction is open on this connection.
    var inTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// Runs `body` in a write transaction: committed if it returns, rolled back if it throws.
    ///
    /// `BEGIN IMMEDIATE` takes the write lock up front, so a second writer waits at the start
    /// (within the busy timeout) instead of failing halfway when a read would upgrade to a write.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        guard !inTransaction else {
            throw SQLiteError(code: SQLITE_MISUSE, message: "nested transactions are not supported")
        }
        try cached("BEGIN IMMEDIATE").run()
        do {
            let result = try body()
            try cached("COMMIT").run()
            return result
        } catch {
            // SQLite may have rolled back by itself (e.g. on SQLITE_FULL); ROLLBACK would then fail.
            if inTransaction { _ = try? cached("ROLLBACK").run() }
            throw error
        }
    }
}

/// A prepared statement: bind parameters (1-based), step through rows, read columns (0-based).
final class SQLiteStatement {
    private let handle: OpaquePointer

    // No reference back to `SQLiteDatabase`: its statement cache would make that a retain cycle.
    // `sqlite3_close_v2` keeps the connection alive until the last statement is finalized.
    fileprivate init(_ handle: OpaquePointer) {
        self.handle = handle
    }

    deinit { sqlite3_finalize(handle) }

    private func error(_ rc: Int32) -> SQLiteError {
        SQLiteError(rc, connection: sqlite3_db_handle(handle))
    }

    private func check(_ rc: Int32) throws {
        guard rc == SQLITE_OK else { throw error(rc) }
    }

    func bind(_ value: Int, at index: Int32) throws {
        try check(sqlite3_bind_int64(handle, index, Int64(value)))
    }

    func bind(_ value: String, at index: Int32) throws {
        try check(sqlite3_bind_text(handle, index, value, -1, SQLITE_TRANSIENT))
    }

    func bind(_ value: String?, at index: Int32) throws {
        guard let value else { return try check(sqlite3_bind_null(handle, index)) }
        try bind(value, at: index)
    }

    /// Binds UTF-8 bytes (e.g. encoder output) as TEXT without a round trip through `String`.
    func bindText(_ utf8: [UInt8], at index: Int32) throws {
        // An empty buffer may have no base address, which SQLite would store as NULL.
        guard !utf8.isEmpty else { return try bind("", at: index) }
        let rc = utf8.withUnsafeBytes { buffer in
            sqlite3_bind_text(
                handle, index, buffer.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(buffer.count),
                SQLITE_TRANSIENT)
        }
        try check(rc)
    }

    /// Advances to the next row: true if there is one, false when done.
    func step() throws -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let rc: throw error(rc)
        }
    }

    /// Readies the statement for new bindings and releases any read snapshot it holds.
    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    /// Steps a statement that returns no rows, then resets it.
    func run() throws {
        defer { reset() }
        while try step() {}
    }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(handle, column)) }

    func text(_ column: Int32) -> String? {
        // text before bytes: the byte count is only meaningful after the conversion to UTF-8.
        guard let pointer = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    /// A TEXT column's UTF-8 bytes, ready for `JSONDecoder`.
    func textData(_ column: Int32) -> Data? {
        guard let pointer = sqlite3_column_text(handle, column) else { return nil }
        return Data(bytes: pointer, count: Int(sqlite3_column_bytes(handle, column)))
    }
}
