#if PostgreSQL
import DroverPostgres
#endif
import DroverSQLite
import DroverStore
import Foundation
import PostgresTestServer
import Testing

/// A store the conformance suite runs against: how to open it, and what it promises beyond memory.
///
/// Adding a backend is one more entry in `all` (and its value below, with the backend's own setup).
struct StoreSubject: Sendable, CustomTestStringConvertible {
    let name: String
    /// Opens a new, empty store whose data lives under `directory` (a fresh folder per test).
    let open: @Sendable (_ directory: URL) throws -> any RunStore
    /// Opens a second handle on the data `open` keeps under `directory`: a new connection, as a
    /// restarted engine or another process would see it. Nil for a store that dies with its object.
    let reopen: (@Sendable (_ directory: URL) throws -> any RunStore)?
    /// What the store keeps on disk under `directory`, each path with the mode it must have.
    let privateFiles: @Sendable (_ directory: URL) -> [(path: String, mode: Int)]

    var testDescription: String { name }

    /// Every store the package ships.
    static let all: [StoreSubject] = [.inMemory, .sqlite] + (postgres.map { [$0] } ?? [])
    /// The stores whose data outlives the object that wrote it.
    static let durable = all.filter { $0.reopen != nil }
    /// The stores that keep files.
    static let keepingFiles = all.filter { !$0.privateFiles(URL(fileURLWithPath: "/")).isEmpty }

    static let inMemory = StoreSubject(
        name: "in-memory", open: { _ in InMemoryRunStore() }, reopen: nil, privateFiles: { _ in [] })

    static let sqlite: StoreSubject = {
        // In a folder of its own that the store creates, so its mode is the store's doing.
        @Sendable func database(_ directory: URL) -> String { directory.appendingPathComponent("store/drover.db").path }
        return StoreSubject(
            name: "sqlite",
            open: { try SQLiteRunStore(path: database($0)) },
            reopen: { try SQLiteRunStore(path: database($0)) },
            privateFiles: { directory in
                let path = database(directory)
                return [((path as NSString).deletingLastPathComponent, 0o700), (path, 0o600), (path + "-wal", 0o600), (path + "-shm", 0o600)]
            })
    }()

    #if PostgreSQL
    /// PostgreSQL on the tests' own server (`PostgresTestServer`), each test in a schema of its own;
    /// nil, saying why on stderr, when no server can be started.
    static let postgres: StoreSubject? = {
        guard let database = PostgresStoreTests.database else { return nil }
        @Sendable func schema(_ directory: URL) -> String {
            "t_" + directory.lastPathComponent.lowercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
        }
        @Sendable func url(_ directory: URL) throws -> String {
            try PostgresTestServer.shared().url(database: database, schema: schema(directory))
        }
        return StoreSubject(
            name: "postgres",
            open: { directory in
                _ = try PostgresTestServer.shared().createSchema(schema(directory), in: database)
                return try PostgresRunStore(url: try url(directory))
            },
            reopen: { try PostgresRunStore(url: try url($0)) },
            privateFiles: { _ in [] })
    }()
    #else
    static let postgres: StoreSubject? = nil
    #endif
}

/// The database the PostgreSQL store tests share (each test in its own schema), created once.
enum PostgresStoreTests {
    static let database: String? = {
        do {
            let server = try PostgresTestServer.shared()
            try server.createDatabase("drover_store_tests")
            return "drover_store_tests"
        } catch {
            FileHandle.standardError.write(Data("PostgreSQL store tests skipped: \(error)\n".utf8))
            return nil
        }
    }()

    /// Whether `database` exists, asked on a thread of its own: the first ask starts the server
    /// (initdb, pg_ctl), which must not hold a thread of the cooperative pool (`onOwnThread`).
    static func isAvailable() async -> Bool {
        (try? await onOwnThread { database != nil }) ?? false
    }
}
