// Only with the PostgreSQL trait (on by default), which links the PostgreSQL store.
#if PostgreSQL
import DroverPostgres
import DroverProtocol
import DroverStore
import Foundation
import PostgresTestServer
import Testing

/// What the PostgreSQL store does beyond the conformance suite: its schema's life (created, upgraded,
/// migrated by two starts at once, refused when newer), the errors a user meets when the server is
/// wrong or gone, and surviving a dropped connection. Skipped, saying why, without a server.
@Suite(.enabled("needs a PostgreSQL server (see the reason printed above)") { await PostgresStoreTests.isAvailable() })
struct PostgresRunStoreTests {
    private var server: PostgresTestServer { get throws { try PostgresTestServer.shared() } }

    /// A URL to a new, empty schema of the shared test database.
    private func freshStoreURL() async throws -> String {
        let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        return try await server.createSchema(schema, in: PostgresStoreTests.database!)
    }

    private func schemaName(_ url: String) -> String {
        String(url[url.range(of: "%3D")!.upperBound...])
    }

    @Test func anEmptyDatabaseIsMigratedToTheLatestVersion() async throws {
        let url = try await freshStoreURL()
        #expect(try PostgresSchema.version(url: PostgresURL(url)) == nil)
        let store = try PostgresRunStore(url: url)
        try store.append(Fixtures.events("r1", count: 1), snapshot: Fixtures.run("r1", lastSeq: 1))
        #expect(try PostgresSchema.version(url: PostgresURL(url)) == PostgresSchema.latestVersion)
        let versions = try await server.sql(
            "SELECT string_agg(version::text, ',' ORDER BY version) FROM \(schemaName(url)).drover_schema_migrations",
            database: PostgresStoreTests.database!)
        #expect(versions == (1...PostgresSchema.latestVersion).map(String.init).joined(separator: ","))
    }

    @Test func aStoreOfThePreviousVersionIsUpgradedWithItsRunsIntact() async throws {
        let url = try await freshStoreURL()
        let previous = PostgresSchema.latestVersion - 1
        try PostgresSchema.migrate(url: PostgresURL(url), upTo: previous)
        #expect(try PostgresSchema.version(url: PostgresURL(url)) == previous)

        // What a build of the previous version wrote, row by row.
        let run = Fixtures.run("r1", lastSeq: 1)
        let snapshot = String(decoding: try EventCodec().encodeSnapshot(run), as: UTF8.self).replacingOccurrences(of: "'", with: "''")
        try await server.sql(
            """
            SET search_path = \(schemaName(url));
            INSERT INTO runs VALUES ('r1', 'default', 'running', '\(Fixtures.at)', '\(Fixtures.at)', '\(snapshot)');
            INSERT INTO events VALUES ('r1', 1, 'step.started', '\(Fixtures.at)', '{"stepId":"s","attempt":0}');
            """, database: PostgresStoreTests.database!)

        let store = try PostgresRunStore(url: url)
        #expect(try PostgresSchema.version(url: PostgresURL(url)) == PostgresSchema.latestVersion)
        #expect(try store.run(id: "r1") == run)
        #expect(try store.events(runId: "r1", afterSeq: 0, limit: 10) == Fixtures.events("r1", count: 1))
        try store.append(Fixtures.events("r1", count: 1, from: 2), snapshot: Fixtures.run("r1", lastSeq: 2))
        #expect(try store.events(runId: "r1", afterSeq: 0, limit: 10).map(\.seq) == [1, 2])
    }

    /// Engines started together (an editor and a CLI, or several workers) each run the migrations:
    /// the advisory lock makes them take turns, so every one opens and each migration runs once.
    @Test func startsAtOnceMigrateOnce() async throws {
        let url = try await freshStoreURL()
        let starts = 6
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: starts) { _ in
            do { _ = try PostgresRunStore(url: url) } catch { failures.add("\(error)") }
        }
        #expect(failures.all.isEmpty)
        let count = try await server.sql(
            "SELECT count(*) FROM \(schemaName(url)).drover_schema_migrations", database: PostgresStoreTests.database!)
        #expect(count == String(PostgresSchema.latestVersion))
    }

    @Test func aNewerSchemaIsRefusedAndAnEmptyOneIsNotFoundReadOnly() async throws {
        let url = try await freshStoreURL()
        let empty = #expect(throws: StoreError.self) { try PostgresRunStore(url: url, readOnly: true) }
        #expect(empty?.kind == .notFound)

        _ = try PostgresRunStore(url: url)
        let readOnly = try PostgresRunStore(url: url, readOnly: true)
        let write = #expect(throws: StoreError.self) {
            try readOnly.append(Fixtures.events("r1", count: 1), snapshot: Fixtures.run("r1"))
        }
        #expect(write?.kind == .readOnly)

        let newer = PostgresSchema.latestVersion + 1
        try await server.sql(
            "INSERT INTO \(schemaName(url)).drover_schema_migrations (version) VALUES (\(newer))", database: PostgresStoreTests.database!)
        for readOnly in [false, true] {
            let error = #expect(throws: StoreError.self) { try PostgresRunStore(url: url, readOnly: readOnly) }
            #expect(error?.kind == .unsupportedSchema)
            #expect(error?.message.contains("schema version \(newer)") == true)
        }
    }

    // MARK: What a user sees when the URL or the server is wrong

    @Test(arguments: [
        ("mysql://drover:s3cret-pw@db/drover", "must start with postgres://"),
        ("postgres://drover:s3cret-pw@[::1/drover", "invalid PostgreSQL store URL"),
        ("postgres://drover:s3cret-pw@db/drover?nosuchoption=1", "nosuchoption"),
    ])
    func aBadURLSaysWhatIsWrongWithoutThePassword(_ url: String, _ expected: String) throws {
        let error = #expect(throws: StoreError.self) { try PostgresRunStore(url: url) }
        #expect(error?.kind == .invalidURL)
        #expect(error?.message.contains(expected) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("s3cret-pw") == false)
    }

    @Test func aWrongPasswordNamesTheServerAndNotThePassword() throws {
        let good = try server.url(database: PostgresStoreTests.database!)
        let wrong = good.replacingOccurrences(of: #":[^:@/]+@"#, with: ":not-the-password@", options: .regularExpression)
        let error = #expect(throws: StoreError.self) { try PostgresRunStore(url: wrong) }
        #expect(error?.kind == .unavailable)
        let message = error?.message ?? ""
        #expect(message.contains("127.0.0.1:") && message.contains("/\(PostgresStoreTests.database!)"), "\(message)")
        #expect(message.contains("password authentication failed"), "\(message)")
        #expect(!message.contains("not-the-password"))
    }

    @Test func aServerThatIsDownIsNamedWithItsPort() throws {
        let port = try PostgresTestServer.freeLoopbackPort()
        let error = #expect(throws: StoreError.self) {
            try PostgresRunStore(url: "postgres://drover:pw-secret@127.0.0.1:\(port)/drover")
        }
        #expect(error?.kind == .unavailable)
        let message = error?.message ?? ""
        #expect(message.contains("drover@127.0.0.1:\(port)/drover") && message.contains("Connection refused"), "\(message)")
        #expect(!message.contains("pw-secret"))
    }

    /// A connection the server dropped (a restart, a failover, `pg_terminate_backend`) is reopened on
    /// the next call instead of failing every call until the engine restarts.
    @Test func aDroppedConnectionIsReopened() async throws {
        let database = "drover_reconnect_tests"
        let url = try await server.createDatabase(database)
        let store = try PostgresRunStore(url: url)
        try store.append(Fixtures.events("r1", count: 1), snapshot: Fixtures.run("r1", lastSeq: 1))
        let killed = try await server.sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '\(database)' AND application_name = 'drover'")
        #expect(killed == "1")
        #expect(try store.run(id: "r1")?.lastSeq == 1)
        try store.append(Fixtures.events("r1", count: 1, from: 2), snapshot: Fixtures.run("r1", lastSeq: 2))
        #expect(try store.lastSeq(runId: "r1") == 2)
    }
}

/// Error messages collected from concurrent work.
private final class Failures: @unchecked Sendable {
    // @unchecked: `messages` is only touched under `lock`.
    private let lock = NSLock()
    private var messages: [String] = []
    func add(_ message: String) { lock.withLock { messages.append(message) } }
    var all: [String] { lock.withLock { messages } }
}
#endif
