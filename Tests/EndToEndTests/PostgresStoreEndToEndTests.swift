// Only with the PostgreSQL trait (on by default), which links the PostgreSQL store.
#if PostgreSQL
import Foundation
import PostgresTestServer
import Testing

/// `--store postgres://…` against a real server the tests start: a run driven by one `drover serve`
/// is seen by other commands on the same store, and a wrong password is reported without the
/// password. Skipped, saying why, when no PostgreSQL server can be started.
@Suite("End to end: PostgreSQL store", .enabled(ifBlocking: { PostgresTestServer.skipReason == nil }, "needs PostgreSQL (apt-get install postgresql)"))
struct PostgresStoreEndToEndTests {
    /// Runs `drover <arguments>` to its end; its exit code and stdout.
    private func command(_ arguments: [String]) async throws -> (code: Int32, stdout: String, stderr: String) {
        let drover = try DroverProcess(arguments: arguments, environment: ["NO_COLOR": "1"])
        drover.closeStdin()
        let code = try await drover.waitForExit()
        return (code, String(decoding: drover.stdoutBytes, as: UTF8.self), drover.stderrText)
    }

    @Test("the demo pipeline driven by `serve --store postgres://` is listed by `runs` and `status` on the same store")
    func demoOnPostgres() async throws {
        let server = try await PostgresTestServer.shared()
        let url = try await server.createDatabase("drover_e2e_demo")
        let workspace = try EngineWorkspace()
        let drover = try await workspace.server(arguments: ["--store", url])
        let runId = try await drover.startRun("demo", task: "Add a greeting").string("id")

        let decision = try await drover.event(runId, "decision.requested").data.string("decisionId")
        try await drover.call("decision/resolve", ["runId": runId, "decisionId": decision, "choice": "quick"])
        let approval = try await drover.event(runId, "approval.requested").data.string("approvalId")
        try await drover.call("step/approve", ["runId": runId, "approvalId": approval])
        try await drover.event(runId, "run.completed")
        let events = try await drover.storedEvents(runId)
        #expect(events.map { $0["seq"] as? Int } == Array(1...events.count).map { $0 })
        #expect(!FileManager.default.fileExists(atPath: workspace.path + "/.drover/drover.db"), "the runs went to PostgreSQL")
        // The run was driven under a lease in the store, given up when it ended.
        #expect(try await server.sql("SELECT count(*) FROM run_claims", database: "drover_e2e_demo") == "0")
        #expect(try await server.sql("SELECT count(*) FROM events WHERE run_id = '\(runId)'", database: "drover_e2e_demo") == String(events.count))

        // Other commands, from another folder, while the server still runs: read-only, no lock needed.
        let runs = try await command(["runs", "--store", url])
        #expect(runs.code == 0, "\(runs.stderr)")
        #expect(runs.stdout.contains(runId) && runs.stdout.contains("done"), "\(runs.stdout)")
        let status = try await command(["status", runId, "--store", url])
        #expect(status.code == 0, "\(status.stderr)")
        #expect(status.stdout.contains("done") && status.stdout.contains("report"), "\(status.stdout)")
        _ = try await drover.shutdownAndExit()
    }

    @Test("credentials from PGPASSFILE; libpq options pass through: sslmode=disable works, sslmode=require and a bad sslmode are refused clearly")
    func passwordFileAndSSLModes() async throws {
        let server = try await PostgresTestServer.shared()
        let database = "drover_e2e_credentials"
        let withPassword = try await server.createDatabase(database)
        let parts = try #require(URLComponents(string: withPassword))
        let (user, password, host, port) = (parts.user ?? "", parts.password ?? "", parts.host ?? "", parts.port ?? 5432)
        let bare = "postgres://\(user)@\(host):\(port)/\(database)"
        let folder = try TempFolder()
        let passfile = folder.url.appendingPathComponent("pgpass").path
        try "\(host):\(port):\(database):\(user):\(password)\n".write(toFile: passfile, atomically: true, encoding: .utf8)
        chmod(passfile, 0o600)

        func runs(_ url: String, passfile: String? = nil) async throws -> (code: Int32, stdout: String, stderr: String) {
            let drover = try DroverProcess(arguments: ["runs", "--store", url],
                                           environment: ["NO_COLOR": "1", "PGPASSFILE": passfile ?? "/nonexistent"])
            drover.closeStdin()
            let code = try await drover.waitForExit()
            return (code, String(decoding: drover.stdoutBytes, as: UTF8.self), drover.stderrText)
        }
        // A run stored, so `drover runs` has something to list.
        let workspace = try EngineWorkspace()
        let client = try await workspace.server(arguments: ["--store", withPassword + "?sslmode=disable"])
        let runId = try await client.startRun("demo").string("id")
        _ = try await client.shutdownAndExit()

        let fromFile = try await runs(bare + "?sslmode=disable", passfile: passfile)
        #expect(fromFile.code == 0 && fromFile.stdout.contains(runId), "the password came from PGPASSFILE: \(fromFile.stderr)")
        let noPassword = try await runs(bare)
        #expect(noPassword.code == 1 && noPassword.stderr.contains("\(host):\(port)/\(database)"), "\(noPassword.stderr)")

        // The test server speaks no TLS: requiring it is refused by libpq, saying so.
        let required = try await runs(withPassword + "?sslmode=require")
        #expect(required.code == 1 && required.stderr.contains("SSL"), "\(required.stderr)")
        let bad = try await runs(withPassword + "?sslmode=sometimes")
        #expect(bad.code == 1 && bad.stderr.contains("invalid sslmode value: \"sometimes\"") && bad.stderr.contains("verify-full"), "\(bad.stderr)")
        for output in [fromFile.stderr, noPassword.stderr, required.stderr, bad.stderr] {
            #expect(!output.contains(password), "the password is never printed: \(output)")
        }
    }

    @Test("a wrong password: `serve --no-daemon` answers every request with an error naming the server, never the password")
    func wrongPassword() async throws {
        let good = try await PostgresTestServer.shared().url(database: "postgres")
        let wrong = good.replacingOccurrences(of: #":[^:@/]+@"#, with: ":wrong-secret@", options: .regularExpression)
        let workspace = try EngineWorkspace()
        let drover = try await workspace.server(trust: false, daemon: false, arguments: ["--store", wrong])
        let error = try await drover.callError("run/list")
        #expect(error.message.contains("127.0.0.1:") && error.message.contains("password authentication failed"), "\(error)")
        #expect(!error.message.contains("wrong-secret") && !drover.stderrText.contains("wrong-secret"))
        _ = try await drover.shutdownAndExit()

        // Through the workspace's engine, which cannot start on that store: `initialize` fails, saying why.
        let proxy = try DroverProcess(arguments: ["serve", "--store", wrong], directory: workspace.url)
        let refused = try await proxy.callError("initialize", ["protocolVersion": 1, "workspace": workspace.path])
        #expect(refused.message.contains("127.0.0.1:") && refused.message.contains("password authentication failed"), "\(refused)")
        #expect(!refused.message.contains("wrong-secret") && !proxy.stderrText.contains("wrong-secret"))
        #expect(!refused.message.contains("ResponseError"), "\(refused)")
        let engineLog = (try? String(contentsOf: workspace.url.appendingPathComponent(".drover/engine.log"), encoding: .utf8)) ?? ""
        #expect(!engineLog.contains("wrong-secret"), "\(engineLog)")
        proxy.closeStdin()
        _ = try await proxy.waitForExit()

        let runs = try await command(["runs", "--store", wrong])
        #expect(runs.code == 1 && runs.stderr.contains("password authentication failed"), "\(runs.stderr)")
        #expect(!runs.stderr.contains("wrong-secret"))
    }
}
#endif
