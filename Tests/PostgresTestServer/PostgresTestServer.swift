import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A throwaway PostgreSQL server for the tests: one per test process, started on first use and
/// stopped when the process exits.
///
/// `initdb` in a fresh temporary folder, then `pg_ctl start` listening on a free loopback port (and
/// a Unix socket in that folder only), with password authentication for TCP, so the tests see what a
/// user's server does. As root (CI containers) the server runs as the `postgres` user, because initdb
/// refuses root. `DROVER_TEST_POSTGRES_URL` (a URL to a server where the tests may create databases)
/// replaces the local server. A watchdog process stops the server even if the test process is killed.
public final class PostgresTestServer: Sendable {
    /// Why there is no server: the tests that need one are skipped, saying this.
    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    /// The server for this process, started on first use; `Unavailable` says why there is none.
    public static func shared() throws -> PostgresTestServer {
        try sharedResult.get()
    }

    /// Why PostgreSQL tests are skipped, or nil when a server is available.
    public static var skipReason: String? {
        do { _ = try shared(); return nil } catch { return "\(error)" }
    }

    nonisolated(unsafe) private static var started: PostgresTestServer?
    private static let sharedResult: Result<PostgresTestServer, Unavailable> = {
        if let url = ProcessInfo.processInfo.environment["DROVER_TEST_POSTGRES_URL"], !url.isEmpty {
            do {
                let server = PostgresTestServer(base: url, dataDirectory: nil, binDirectory: try findBinDirectory(need: "psql"))
                try server.sql("SELECT 1")
                return .success(server)
            } catch let error as Unavailable {
                return .failure(error)
            } catch {
                return .failure(Unavailable(description: "DROVER_TEST_POSTGRES_URL does not answer: \(error)"))
            }
        }
        do {
            let server = try startLocal()
            started = server
            atexit { PostgresTestServer.started?.stop() }
            return .success(server)
        } catch let error as Unavailable {
            return .failure(error)
        } catch {
            return .failure(Unavailable(description: "cannot start a PostgreSQL server: \(error)"))
        }
    }()

    /// `postgres://user:password@host:port` with no database: `url(database:)` adds one.
    public let base: String
    /// The folder holding the cluster, the socket and the log (nil for an external server).
    let dataDirectory: URL?
    let binDirectory: String

    init(base: String, dataDirectory: URL?, binDirectory: String) {
        // Keep scheme, credentials, host and port: a database is chosen per test.
        var components = URLComponents(string: base)
        components?.path = ""
        components?.query = nil
        self.base = components?.string ?? base
        self.dataDirectory = dataDirectory
        self.binDirectory = binDirectory
    }

    /// The URL of `database`, optionally with `search_path` set to `schema`.
    public func url(database: String, schema: String? = nil) -> String {
        "\(base)/\(database)" + (schema.map { "?options=-csearch_path%3D\($0)" } ?? "")
    }

    /// A new, empty database; returns its URL.
    @discardableResult
    public func createDatabase(_ name: String) throws -> String {
        try sql("CREATE DATABASE \(name)")
        return url(database: name)
    }

    /// A new, empty schema in `database`; returns the URL that works in it.
    public func createSchema(_ schema: String, in database: String) throws -> String {
        try sql("CREATE SCHEMA \(schema)", database: database)
        return url(database: database, schema: schema)
    }

    /// Runs `statements` with psql on `database` and returns what it printed (unaligned, tuples only).
    @discardableResult
    public func sql(_ statements: String, database: String = "postgres") throws -> String {
        let result = try Self.run(
            binDirectory + "/psql", ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url(database: database), "-c", statements])
        guard result.status == 0 else { throw Unavailable(description: "psql failed: \(result.output)") }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Stops the server now (and waits); a later test needing one fails. No-op for an external server.
    public func stop() {
        guard let dataDirectory else { return }
        _ = try? Self.asServerUser(binDirectory + "/pg_ctl", ["-D", dataDirectory.appendingPathComponent("data").path, "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(at: dataDirectory)
    }

    // MARK: Starting

    private static let user = "drover"
    private static let password = "drover-test-\(UUID().uuidString.prefix(8))"

    private static func startLocal() throws -> PostgresTestServer {
        let bin = try findBinDirectory(need: "initdb")
        let serverUser = getuid() == 0 ? "postgres" : nil
        if let serverUser, getpwnam(serverUser) == nil {
            throw Unavailable(description: "running as root and there is no '\(serverUser)' user to run initdb as (apt-get install postgresql creates it)")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("drover-pg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let passwordFile = folder.appendingPathComponent("pw")
        try Data((password + "\n").utf8).write(to: passwordFile)
        if let serverUser, let account = getpwnam(serverUser) {
            for path in [folder.path, passwordFile.path] { chown(path, account.pointee.pw_uid, account.pointee.pw_gid) }
        }
        let data = folder.appendingPathComponent("data").path
        let initdb = try asServerUser(
            bin + "/initdb",
            ["-D", data, "-U", user, "--pwfile=\(passwordFile.path)", "--auth-local=trust", "--auth-host=scram-sha-256",
             "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        guard initdb.status == 0 else {
            try? FileManager.default.removeItem(at: folder)
            throw Unavailable(description: "initdb failed: \(initdb.output)")
        }
        // Fast and throwaway: nothing here must survive a crash.
        var lastError = ""
        for _ in 0..<3 {
            let port = try freeLoopbackPort()
            let options = "-c listen_addresses=127.0.0.1 -c port=\(port) -c unix_socket_directories='\(folder.path)' "
                + "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            let start = try asServerUser(
                bin + "/pg_ctl", ["-D", data, "-l", folder.appendingPathComponent("server.log").path, "-o", options, "-w", "-t", "60", "start"])
            if start.status == 0 {
                let server = PostgresTestServer(
                    base: "postgres://\(user):\(password)@127.0.0.1:\(port)", dataDirectory: folder, binDirectory: bin)
                startWatchdog(server: server, data: data)
                return server
            }
            lastError = start.output + ((try? String(contentsOf: folder.appendingPathComponent("server.log"), encoding: .utf8)) ?? "")
        }
        try? FileManager.default.removeItem(at: folder)
        throw Unavailable(description: "pg_ctl start failed: \(lastError)")
    }

    /// Stops the server once this process is gone, however it ended (a process in its own session,
    /// so killing the test's process group does not take it along).
    private static func startWatchdog(server: PostgresTestServer, data: String) {
        guard let folder = server.dataDirectory else { return }
        let stop = "\(server.binDirectory)/pg_ctl -D '\(data)' -m immediate -w stop"
        let asUser = getuid() == 0 ? "runuser -u postgres -- \(stop)" : stop
        let script = "while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done; \(asUser) >/dev/null 2>&1; rm -rf '\(folder.path)'"
        _ = try? spawn("/bin/sh", ["-c", script], output: "/dev/null", newSession: true)
    }

    /// Where initdb, pg_ctl and psql are: `pg_config --bindir`, else the newest /usr/lib/postgresql/N/bin.
    static func findBinDirectory(need program: String) throws -> String {
        var candidates: [String] = []
        if let configured = try? run("/usr/bin/env", ["pg_config", "--bindir"]), configured.status == 0 {
            candidates.append(configured.output.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        candidates += versions.compactMap(Int.init).sorted(by: >).map { "/usr/lib/postgresql/\($0)/bin" }
        candidates += ["/usr/local/bin", "/opt/homebrew/bin", "/usr/bin"]
        for directory in candidates where FileManager.default.isExecutableFile(atPath: "\(directory)/\(program)") {
            return directory
        }
        throw Unavailable(description: "no PostgreSQL server binaries (\(program)) found; apt-get install postgresql")
    }

    /// A loopback TCP port nothing listens on (for starting a server, or for a "server down" test).
    public static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Unavailable(description: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw Unavailable(description: "cannot find a free loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Runs a server binary as the server user (`postgres` when we are root).
    private static func asServerUser(_ program: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        getuid() == 0 ? try run("/usr/sbin/runuser", ["-u", "postgres", "--", program] + arguments) : try run(program, arguments)
    }

    /// Runs `program` to the end; its stdout and stderr together.
    ///
    /// posix_spawn and waitpid rather than Foundation's `Process`, whose exit monitoring can hang
    /// when first used from inside a lazily initialised global.
    static func run(_ program: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("drover-pg-out-\(UUID().uuidString)").path
        defer { unlink(output) }
        let pid = try spawn(program, arguments, output: output, newSession: false)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw Unavailable(description: "waitpid failed for \(program)") }
        }
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        // WIFEXITED / WEXITSTATUS are macros Swift cannot import.
        let exitCode = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (exitCode, text)
    }

    /// Starts `program` with stdin from /dev/null and stdout and stderr into the file `output`.
    private static func spawn(_ program: String, _ arguments: [String], output: String, newSession: Bool) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        if newSession { posix_spawnattr_setflags(&attributes, 0x80 /* POSIX_SPAWN_SETSID, a GNU extension Swift does not see */) }
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, program, &actions, &attributes, argv, environ)
        guard rc == 0 else { throw Unavailable(description: "cannot run \(program): \(String(cString: strerror(rc)))") }
        return pid
    }
}
