import Foundation

/// The blocking calls of `PostgresTestServer` for async tests: the same names, awaited, each on a thread of
/// its own (`onOwnThread`), since each runs psql (or, the first time, initdb and pg_ctl) and waits for it,
/// which must not hold one of the cooperative pool's few threads.
extension PostgresTestServer {
    /// `shared()` off the pool: the first call starts the server.
    public static func shared() async throws -> PostgresTestServer {
        try await onOwnThread { try shared() }
    }

    /// `createDatabase(_:)` off the pool.
    @discardableResult
    public func createDatabase(_ name: String) async throws -> String {
        try await onOwnThread { try self.createDatabase(name) }
    }

    /// `createSchema(_:in:)` off the pool.
    public func createSchema(_ schema: String, in database: String) async throws -> String {
        try await onOwnThread { try self.createSchema(schema, in: database) }
    }

    /// `sql(_:database:)` off the pool.
    @discardableResult
    public func sql(_ statements: String, database: String = "postgres") async throws -> String {
        try await onOwnThread { try self.sql(statements, database: database) }
    }
}
