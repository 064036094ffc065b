import CLibPQ
import DroverStore
import Foundation

/// A statement the server refused: its SQLSTATE (e.g. `23505` for a unique violation) and message.
struct PostgresError: Error, CustomStringConvertible {
    var sqlState: String?
    var message: String

    /// `23505`: a UNIQUE or PRIMARY KEY constraint was violated.
    var isUniqueViolation: Bool { sqlState == "23505" }
    var description: String { message }
}

/// One blocking libpq connection: text parameters in, text columns out, and nothing more.
///
/// Not thread-safe: like `RunStore`, it belongs to one owner that uses it from one task at a time.
/// Every wait is bounded (connect timeout, TCP keepalives and user timeout, statement timeout), so a
/// server that vanishes turns into an error, not a hang. A connection lost while idle is reopened
/// on the next statement outside a transaction; inside one the transaction fails as a whole.
final class PostgresConnection {
    let url: PostgresURL
    private let handle: OpaquePointer
    private var inTransaction = false

    /// Defaults that bound every network wait; anything the URL sets wins.
    private static let defaults: [(String, String)] = [
        ("connect_timeout", "10"),
        ("application_name", "drover"),
        ("keepalives", "1"),
        ("keepalives_idle", "10"),
        ("keepalives_interval", "5"),
        ("keepalives_count", "3"),
        ("tcp_user_timeout", "30000"),
    ]

    /// Longest a statement (or a wait for a lock) may take, in milliseconds.
    static let statementTimeoutMilliseconds = 30_000

    /// Connects, or throws `StoreError` `.unavailable` naming the server (never the password).
    /// `applicationName` tells this connection's job in `pg_stat_activity` (unless the URL sets one).
    init(url: PostgresURL, applicationName: String = "drover") throws {
        self.url = url
        // `dbname` last with expand_dbname: the URL is expanded there and overrides the defaults.
        let defaults = Self.defaults.map { $0.0 == "application_name" ? ($0.0, applicationName) : $0 }
        let keywords = defaults.map(\.0) + ["dbname"]
        let values = defaults.map(\.1) + [url.connectionString]
        let connection = withCStrings(keywords) { keywordPointers in
            withCStrings(values) { valuePointers in PQconnectdbParams(keywordPointers, valuePointers, 1) }
        }
        guard let connection else { throw StoreError(.unavailable, "cannot connect to the PostgreSQL store \(url): out of memory") }
        guard PQstatus(connection) == CONNECTION_OK else {
            var reason = Self.connectionMessage(connection, url: url)
            if reason.contains("invalid sslmode value") {
                reason += " (allowed: disable, allow, prefer, require, verify-ca, verify-full)"
            }
            PQfinish(connection)
            throw StoreError(.unavailable, "cannot connect to the PostgreSQL store \(url): \(reason)")
        }
        // Only now: once `handle` is set, a throw runs deinit, which finishes the connection.
        handle = connection
        try setUpSession()
    }

    deinit { PQfinish(handle) }

    /// The file descriptor of the socket, for waiting on notifications.
    var socket: Int32 { PQsocket(handle) }

    /// Settings every session needs, run again after a reconnect.
    private func setUpSession() throws {
        // Notices and warnings ("already exists, skipping", "terminating connection due to
        // immediate shutdown") would go to stderr through libpq; errors come back as results.
        _ = try execute("SET statement_timeout = \(Self.statementTimeoutMilliseconds)", [], retryIfLost: false)
        _ = try execute("SET client_min_messages = error", [], retryIfLost: false)
    }

    /// Runs `sql` with `$1…` bound to `parameters` (nil is NULL) and returns its rows.
    /// - Throws: `PostgresError` when the server refuses the statement; `StoreError` `.unavailable`
    ///   when the connection is gone.
    @discardableResult
    func execute(_ sql: String, _ parameters: [String?] = []) throws -> PostgresResult {
        try execute(sql, parameters, retryIfLost: !inTransaction)
    }

    /// Runs several `;`-separated statements without parameters (a migration).
    func executeScript(_ sql: String) throws {
        _ = try run(retryIfLost: !inTransaction) { PQexec(handle, sql) }
    }

    private func execute(_ sql: String, _ parameters: [String?], retryIfLost: Bool) throws -> PostgresResult {
        try run(retryIfLost: retryIfLost) {
            withOptionalCStrings(parameters) { values in
                PQexecParams(handle, sql, Int32(parameters.count), nil, values, nil, nil, 0)
            }
        }
    }

    /// Sends one command (`send`) and checks its outcome, reconnecting first if the connection is gone.
    private func run(retryIfLost: Bool, _ send: () -> OpaquePointer?) throws -> PostgresResult {
        if PQstatus(handle) != CONNECTION_OK {
            guard !inTransaction else { throw lost() }
            try reconnect()
        }
        guard let result = send() else { throw lost() }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
            return PostgresResult(result)
        default:
            let sqlState = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let message = PQresultErrorMessage(result).map { String(cString: $0) } ?? ""
            PQclear(result)
            // A dropped connection makes the statement fail with no SQLSTATE of the server's.
            if PQstatus(handle) != CONNECTION_OK {
                guard retryIfLost else { throw lost() }
                try reconnect()
                return try run(retryIfLost: false, send)
            }
            throw PostgresError(sqlState: sqlState, message: url.redact(PostgresURL.oneLine(message)))
        }
    }

    /// Runs `body` in a transaction: committed if it returns, rolled back if it throws.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN")
        inTransaction = true
        defer { inTransaction = false }
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            if PQstatus(handle) == CONNECTION_OK { _ = try? execute("ROLLBACK") }
            throw error
        }
    }

    private func reconnect() throws {
        PQreset(handle)
        guard PQstatus(handle) == CONNECTION_OK else { throw lost() }
        try setUpSession()
    }

    private func lost() -> StoreError {
        StoreError(.unavailable, "lost the connection to the PostgreSQL store \(url): \(Self.connectionMessage(handle, url: url))")
    }

    /// libpq's last message for `connection`, on one line and without the password.
    private static func connectionMessage(_ connection: OpaquePointer, url: PostgresURL) -> String {
        let message = PostgresURL.oneLine(String(cString: PQerrorMessage(connection)))
        return url.redact(message.isEmpty ? "no reason given" : message)
    }

    // MARK: Notifications

    /// Reads what the server has sent and returns the notifications received so far, without waiting.
    /// - Throws: `StoreError` `.unavailable` when the connection is gone (e.g. its backend was terminated).
    func takeNotifications() throws -> [(channel: String, payload: String)] {
        guard PQconsumeInput(handle) == 1, PQstatus(handle) == CONNECTION_OK else { throw lost() }
        var notifications: [(channel: String, payload: String)] = []
        while let notify = PQnotifies(handle) {
            notifications.append((String(cString: notify.pointee.relname), String(cString: notify.pointee.extra)))
            PQfreemem(notify)
        }
        return notifications
    }
}

/// The rows of one statement, as text. Freed with the object.
final class PostgresResult {
    private let handle: OpaquePointer

    fileprivate init(_ handle: OpaquePointer) { self.handle = handle }
    deinit { PQclear(handle) }

    var rowCount: Int { Int(PQntuples(handle)) }

    /// True also for a cell out of range (libpq would print a complaint to stderr for it).
    func isNull(_ row: Int, _ column: Int) -> Bool {
        guard row < rowCount, column < Int(PQnfields(handle)) else { return true }
        return PQgetisnull(handle, Int32(row), Int32(column)) == 1
    }

    func text(_ row: Int, _ column: Int) -> String? {
        guard !isNull(row, column) else { return nil }
        return String(cString: PQgetvalue(handle, Int32(row), Int32(column)))
    }

    func int(_ row: Int, _ column: Int) -> Int? { text(row, column).flatMap { Int($0) } }

    /// A column's bytes, ready for `JSONDecoder`.
    func data(_ row: Int, _ column: Int) -> Data? {
        guard !isNull(row, column), let value = PQgetvalue(handle, Int32(row), Int32(column)) else { return nil }
        return Data(bytes: value, count: Int(PQgetlength(handle, Int32(row), Int32(column))))
    }
}

/// Calls `body` with a NULL-terminated C array of copies of `strings`, valid during the call only.
private func withCStrings<T>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> T) -> T {
    withOptionalCStrings(strings + [nil]) { body($0!) }
}

/// As `withCStrings`, with nil elements passed as NULL pointers (SQL NULL).
private func withOptionalCStrings<T>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> T) -> T {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } ?? nil }
    defer { copies.forEach { free($0) } }
    let pointers = copies.map { UnsafePointer($0) }
    return pointers.withUnsafeBufferPointer { body($0.isEmpty ? nil : $0.baseAddress) }
}
