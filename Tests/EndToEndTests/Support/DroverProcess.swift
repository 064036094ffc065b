import Foundation
import PostgresTestServer
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A `drover` process spawned for an end-to-end test, spoken to over pipes.
///
/// The binary is `$DROVER_BIN`, else `<package root>/.build/debug/drover`. Each process gets a fresh
/// temporary directory as its cwd, with `DROVER_CONFIG_DIR` pointing at `<dir>/config`. When the object
/// goes away the process is killed, the engine it started is stopped and then the directory removed.
///
/// Everything the server writes to stdout is checked as it arrives: it must be a sequence of framed
/// JSON-RPC messages and nothing else (`protocolViolations` lists what was not).
///
/// ```swift
/// let drover = try DroverProcess()
/// let initialized = try await drover.initialize()
/// let response = try await drover.request("pipeline/list")
/// let event = try await drover.waitFor { $0["method"] as? String == "run/event" }
/// ```
final class DroverProcess {
    /// How messages are framed on the wire.
    enum Framing: String, Sendable {
        case lsp, ndjson
    }

    /// A wait that ran out of time; the description includes the server's stderr.
    struct Timeout: Error, CustomStringConvertible {
        let description: String
    }

    /// The framing this client writes in (the server is expected to answer in kind).
    let framing: Framing
    /// The process's working directory (a fresh temporary directory).
    let directory: URL
    /// `DROVER_CONFIG_DIR` of the process.
    let configDirectory: URL
    private let process: Process
    private let stdinFD: Int32
    /// Commands to the stdout reader: `p` pause, `r` resume, `c` close its end.
    private let stdoutControl: Int32
    private let shared: Shared
    private var nextID = 1
    /// The workspace whose engine process this `drover serve` attached to (its cwd), stopped on deinit.
    private let engineWorkspace: URL?
    /// The fresh directory this object made (no `directory` was given), removed on deinit.
    private let ownedDirectory: URL?

    /// Spawns the binary.
    /// - Parameters:
    ///   - arguments: command-line arguments (default `serve`).
    ///   - framing: how `send`/`request` frame messages.
    ///   - environment: variables added to (or overriding) the inherited environment.
    ///   - directory: the cwd; default a fresh temporary directory (removed on deinit).
    init(arguments: [String] = ["serve"], framing: Framing = .ndjson,
         environment: [String: String] = [:], directory: URL? = nil) throws {
        signal(SIGPIPE, SIG_IGN)  // a write to a dead server must fail, not kill the test runner
        self.framing = framing
        let ownsDirectory = directory == nil
        let directory = try directory ?? Self.makeTemporaryDirectory()
        self.directory = directory
        configDirectory = directory.appendingPathComponent("config", isDirectory: true)
        try FileManager.default.createDirectory(at: configDirectory, withIntermediateDirectories: true)

        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        // Keep every pipe end out of other children spawned concurrently (by parallel tests),
        // or a leaked write end would hide this child's end of input. The child gets its ends
        // through dup2, which clears the flag.
        for pipe in [stdin, stdout, stderr] {
            _ = fcntl(pipe.fileHandleForReading.fileDescriptor, F_SETFD, FD_CLOEXEC)
            _ = fcntl(pipe.fileHandleForWriting.fileDescriptor, F_SETFD, FD_CLOEXEC)
        }
        var control: [Int32] = [0, 0]
        guard pipe(&control) == 0 else { throw Timeout(description: "cannot create a pipe: errno \(errno)") }
        for fd in control { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        stdoutControl = control[1]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.binaryPath())
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment
        env["DROVER_CONFIG_DIR"] = configDirectory.path
        // An engine a test forgot goes away soon after its last client (tests also stop them: deinit).
        env["DROVER_ENGINE_IDLE_TIMEOUT"] = "5"
        env.merge(environment) { _, new in new }
        // A CLI command starts the engine of its cwd too: in a directory of its own, nobody else uses that engine.
        engineWorkspace = arguments.first == "serve" && !arguments.contains("--no-daemon") || ownsDirectory ? directory : nil
        ownedDirectory = ownsDirectory ? directory : nil
        process.environment = env
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        let shared = Shared()
        process.terminationHandler = { process in shared.exited(process.terminationStatus) }
        try process.run()
        self.process = process
        self.shared = shared
        stdinFD = Self.takeDescriptor(stdin.fileHandleForWriting)
        try? stdin.fileHandleForReading.close()
        try? stdout.fileHandleForWriting.close()
        try? stderr.fileHandleForWriting.close()
        // stdin and the readers' descriptors are closed by this object and by the reader threads: copies of
        // their own, so the pipes' file handles (which the Process object keeps, and which close their
        // descriptor when released) cannot close the same number a second time, by then maybe another
        // test's freshly opened pipe (Process.run crashed on that EBADF).
        Self.startReader(fd: Self.takeDescriptor(stdout.fileHandleForReading), name: "stdout", control: control[0],
                         onEnd: { shared.endStdout() }) { shared.receiveStdout($0) }
        Self.startReader(fd: Self.takeDescriptor(stderr.fileHandleForReading), name: "stderr",
                         onEnd: { shared.endStderr() }) { shared.receiveStderr($0) }
    }

    deinit {
        terminate()
        // The stop starts now, while the directory still exists (`engine stop` refuses a workspace that is
        // gone, and that engine would idle on); the directory goes once the stop and the server are done.
        let stop = engineWorkspace.flatMap(Self.startEngineStop)
        shared.closeStdin(stdinFD)
        close(stdoutControl)  // the reader ends at end of output or when this closes
        let process = process, ownedDirectory = ownedDirectory
        guard stop != nil || ownedDirectory != nil else { return }
        BackgroundCleanup.run {
            stop?.waitUntilExit()
            guard let ownedDirectory else { return }
            process.waitUntilExit()
            try? FileManager.default.removeItem(at: ownedDirectory)
        }
    }

    // MARK: Sending

    /// Sends one message, framed in `framing`.
    func send(_ json: Any) {
        let body = (try? JSONSerialization.data(withJSONObject: json, options: [.withoutEscapingSlashes])) ?? Data()
        sendBody(Array(body))
    }

    /// Frames `body` (any bytes, valid JSON or not) in `framing` and sends it.
    func sendBody(_ body: [UInt8]) {
        switch framing {
        case .lsp: sendRaw(Array("Content-Length: \(body.count)\r\n\r\n".utf8) + body)
        case .ndjson: sendRaw(body + [0x0A])
        }
    }

    /// Writes exactly `bytes` to the server's stdin; returns false once the server has stopped reading.
    @discardableResult
    func sendRaw(_ bytes: [UInt8]) -> Bool {
        shared.write(bytes, to: stdinFD)
    }

    /// Sends a notification.
    func notify(_ method: String, _ params: Any? = nil) {
        var message: [String: Any] = ["jsonrpc": "2.0", "method": method]
        if let params { message["params"] = params }
        send(message)
    }

    /// Sends a request with a fresh integer id and waits for its response (notifications that
    /// arrive meanwhile stay available to `nextMessage`/`waitFor` and are listed in `notifications`).
    func request(_ method: String, _ params: Any? = nil, timeout: Duration = .seconds(10)) async throws -> [String: Any] {
        let id = nextID
        nextID += 1
        var message: [String: Any] = ["jsonrpc": "2.0", "id": id, "method": method]
        if let params { message["params"] = params }
        send(message)
        return try await response(to: id, timeout: timeout)
    }

    /// Sends `initialize` (protocol version 1, this process's directory as workspace) and `initialized`;
    /// returns the `result`.
    @discardableResult
    func initialize(_ params: [String: Any]? = nil, timeout: Duration = .seconds(10)) async throws -> [String: Any] {
        let response = try await request("initialize", params ?? ["protocolVersion": 1, "workspace": directory.path], timeout: timeout)
        guard let result = response["result"] as? [String: Any] else {
            throw Timeout(description: "initialize failed: \(response)")
        }
        notify("initialized", [String: Any]())
        return result
    }

    /// `shutdown`, then `exit`; returns the exit code.
    func shutdownAndExit(timeout: Duration = hangBound) async throws -> Int32 {
        let response = try await request("shutdown", timeout: timeout)
        guard response.keys.contains("result"), response["result"] is NSNull else {
            throw Timeout(description: "shutdown failed: \(response)")
        }
        notify("exit")
        return try await waitForExit(timeout: timeout)
    }

    /// Closes the server's stdin (end of input).
    func closeStdin() {
        shared.closeStdin(stdinFD)
    }

    /// Stops reading the server's stdout (a client that stalls); the server's writes back up.
    func pauseReadingStdout() {
        var command = UInt8(ascii: "p")
        _ = write(stdoutControl, &command, 1)
    }

    /// Reads the server's stdout again after `pauseReadingStdout()`.
    func resumeReadingStdout() {
        var command = UInt8(ascii: "r")
        _ = write(stdoutControl, &command, 1)
    }

    /// Closes this end of the server's stdout, as a client that goes away without closing stdin;
    /// returns once it is closed (the server's next write then fails).
    func closeStdout(timeout: Duration = .seconds(10)) async throws {
        var command = UInt8(ascii: "c")
        _ = write(stdoutControl, &command, 1)
        _ = try await poll("the stdout reader to close", timeout: timeout) { shared.stdoutClosed ? true : nil }
    }

    /// Waits until the server's stdout reaches its end (every process holding it has closed it).
    func waitForEndOfStdout(timeout: Duration = .seconds(10)) async throws {
        _ = try await poll("the end of stdout", timeout: timeout) { shared.stdoutClosed ? true : nil }
    }

    // MARK: Receiving

    /// The next message from the server, in arrival order: a dictionary, or an array for a batch answer.
    func nextMessage(timeout: Duration = .seconds(10)) async throws -> Any {
        try await poll("the next message", timeout: timeout) { shared.takeMessage { _ in true } }
    }

    /// The first message (oldest first) that `predicate` accepts; other messages stay queued.
    func waitFor(timeout: Duration = .seconds(10), where predicate: @escaping ([String: Any]) -> Bool) async throws -> [String: Any] {
        let found = try await poll("a matching message", timeout: timeout) {
            shared.takeMessage { ($0 as? [String: Any]).map(predicate) ?? false }
        }
        return found as! [String: Any]
    }

    /// The response whose id is `id` (an Int or a String).
    func response(to id: Any, timeout: Duration = .seconds(10)) async throws -> [String: Any] {
        let key = Self.idKey(id)
        return try await waitFor(timeout: timeout) { $0["method"] == nil && Self.idKey($0["id"]) == key }
    }

    /// Every notification received so far, in order (also those still queued).
    var notifications: [[String: Any]] { shared.notifications }

    /// How many messages have arrived and not been taken yet.
    var queuedCount: Int { shared.queuedCount }

    /// Takes every queued message.
    func drainMessages() -> [Any] { shared.drain() }

    /// Waits for the process to end; returns its exit code (or, killed by a signal, that signal's number).
    func waitForExit(timeout: Duration = hangBound) async throws -> Int32 {
        let status = try await poll("exit", timeout: timeout) { shared.exitStatus }
        // The process may exit before the readers have taken its last bytes (`drover --version`'s line
        // was once missed on a loaded machine): wait for the end of both streams too (briefly; a leaked
        // descriptor, or a test that paused reading stdout, must not hang the test).
        _ = try? await poll("end of stdout and stderr", timeout: .seconds(2)) {
            shared.stderrEnded && shared.stdoutClosed ? true : nil
        }
        return status
    }

    /// Whether the process is still running.
    var isRunning: Bool { shared.exitStatus == nil }

    /// Sends `signal` to the server once, from the stdout reader's thread, the moment a message that
    /// `predicate` accepts arrives (or at once if one is queued already); the message stays queued.
    /// For a signal due before a deadline on the server's clock (a kill while a run waits for its
    /// `retryAt`): it does not wait for the test's task, which a busy test runner may not resume for seconds.
    func deliver(_ signal: Int32, onMessage predicate: @escaping @Sendable ([String: Any]) -> Bool) {
        let pid = pid
        shared.onMessage(predicate) { kill(pid, signal) }
    }

    /// The process id of the server.
    var pid: Int32 { process.processIdentifier }

    /// Everything the server wrote to stderr so far.
    var stderrText: String { String(decoding: shared.stderrBytes, as: UTF8.self) }

    /// Waits until stderr contains `text` (stderr is read apart from stdout, so it may lag behind it);
    /// returns whether it did within `timeout`.
    func stderrContains(_ text: String, timeout: Duration = .seconds(10)) async -> Bool {
        (try? await poll("stderr containing \(text)", timeout: timeout) { stderrText.contains(text) ? true : nil }) ?? false
    }

    /// Everything the server wrote to stdout so far, as raw bytes.
    var stdoutBytes: [UInt8] { shared.stdoutBytes }

    /// Problems found in stdout: bytes that are not framed JSON-RPC messages. Empty when all is well.
    var protocolViolations: [String] { shared.violations }

    /// The framing the server answered in (nil before its first byte).
    var outputFraming: Framing? { shared.outputFraming }

    /// Kills the process if it is still running.
    func terminate() {
        if process.isRunning { process.terminate() }
    }

    /// Asks the engine process of `workspace` (if one runs) to stop, without waiting for it: the
    /// `drover engine stop` child is waited for by `BackgroundCleanup` (so the test process does not exit
    /// before the engine has), since blocking one of the test runner's few cooperative threads stalls
    /// every other test's polling.
    static func stopEngine(workspace: URL) {
        guard let stop = startEngineStop(workspace: workspace) else { return }
        BackgroundCleanup.run { stop.waitUntilExit() }
    }

    /// Spawns `drover engine stop` for `workspace` (it returns once the engine has exited); nil when it
    /// cannot start. The workspace folder must still exist while it starts.
    static func startEngineStop(workspace: URL) -> Process? {
        guard let binary = try? binaryPath() else { return nil }
        let stop = Process()
        stop.executableURL = URL(fileURLWithPath: binary)
        stop.arguments = ["engine", "stop", "--quiet", "--workspace", workspace.path]
        stop.standardOutput = FileHandle.nullDevice
        stop.standardError = FileHandle.nullDevice
        return (try? stop.run()) != nil ? stop : nil
    }

    // MARK: Support

    /// A canonical text for a JSON-RPC id (number, string or null), so ids compare across types.
    static func idKey(_ id: Any?) -> String {
        switch id {
        case nil, is NSNull: return "null"
        case let text as String: return "s:" + text
        case let number as NSNumber: return "n:" + number.stringValue
        case let number as Int: return "n:\(number)"
        default: return "?:\(String(describing: id))"
        }
    }

    /// The path of the binary under test.
    static func binaryPath() throws -> String {
        if let path = ProcessInfo.processInfo.environment["DROVER_BIN"], !path.isEmpty { return path }
        let binary = PackageRoot.url.appendingPathComponent(".build/debug/drover").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw Timeout(description: "\(binary) does not exist: run 'swift build' first or set DROVER_BIN")
        }
        return binary
    }

    private static func makeTemporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("drover-e2e-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.resolvingSymlinksInPath()
    }

    /// A close-on-exec copy of `handle`'s descriptor, which the caller owns; `handle` is closed.
    private static func takeDescriptor(_ handle: FileHandle) -> Int32 {
        let fd = fcntl(handle.fileDescriptor, F_DUPFD_CLOEXEC, 0)
        try? handle.close()
        return fd
    }

    private func poll<T>(_ what: String, timeout: Duration, _ attempt: () -> T?) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let value = attempt() { return value }
            guard ContinuousClock.now < deadline else {
                let status = shared.exitStatus.map { "exited with \($0)" } ?? "running"
                throw Timeout(description: "timed out after \(timeout) waiting for \(what); server \(status); "
                              + "queued: \(shared.queuedCount) message(s); stderr: \(stderrText.suffix(2000))")
            }
            try await Task.sleep(for: .milliseconds(2))  // polling interval, not synchronisation
        }
    }

    /// Reads `fd` on a thread until its end. With `control`, it also obeys the commands of
    /// `pauseReadingStdout()`, `resumeReadingStdout()` and `closeStdout()`, and ends when `control` closes.
    private static func startReader(fd: Int32, name: String, control: Int32? = nil, onEnd: @escaping @Sendable () -> Void = {},
                                    _ receive: @escaping @Sendable ([UInt8]) -> Void) {
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            var paused = false
            reading: while true {
                if let control {
                    var fds = [pollfd(fd: control, events: Int16(POLLIN), revents: 0)]
                    if !paused { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
                    if Glibc.poll(&fds, nfds_t(fds.count), -1) < 0 { continue }
                    if fds[0].revents != 0 {
                        var command: UInt8 = 0
                        guard read(control, &command, 1) == 1 else { break reading }
                        switch command {
                        case UInt8(ascii: "p"): paused = true
                        case UInt8(ascii: "r"): paused = false
                        default: break reading
                        }
                        continue
                    }
                }
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                receive(Array(buffer[0..<count]))
            }
            close(fd)
            if let control { close(control) }
            onEnd()
        }
        thread.name = "drover-e2e-\(name)"
        thread.start()
    }
}

/// State shared with the reader threads and the termination handler, all behind one lock.
private final class Shared: Sendable {
    private struct State {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        /// Where the unparsed part of `stdout` begins.
        var cursor = 0
        var framing: DroverProcess.Framing?
        var queue: [Data] = []
        var notifications: [Data] = []
        var violations: [String] = []
        var exitStatus: Int32?
        var stderrEnded = false
        /// This end of stdout is closed (end of output, or `closeStdout()`).
        var stdoutClosed = false
        /// What to do when a message `predicate` accepts arrives (`DroverProcess.deliver(_:onMessage:)`).
        var trigger: (predicate: @Sendable ([String: Any]) -> Bool, action: @Sendable () -> Void)?
    }

    private let state = Mutex(State())
    /// Whether stdin is closed; also serialises writes to it.
    private let stdinState = Mutex(false)

    func receiveStdout(_ bytes: [UInt8]) {
        state.withLock { state in
            state.stdout += bytes
            Self.parseFrames(&state)
        }
    }

    /// Runs `action` once, on the thread that parses the message `predicate` accepts (or now, if queued).
    func onMessage(_ predicate: @escaping @Sendable ([String: Any]) -> Bool, _ action: @escaping @Sendable () -> Void) {
        state.withLock { state in
            let queued = state.queue.contains { data in
                (try? JSONSerialization.jsonObject(with: data) as? [String: Any]).map(predicate) ?? false
            }
            if queued { action() } else { state.trigger = (predicate, action) }
        }
    }

    func receiveStderr(_ bytes: [UInt8]) {
        state.withLock { $0.stderr += bytes }
    }

    func endStderr() {
        state.withLock { $0.stderrEnded = true }
    }

    func endStdout() {
        state.withLock { $0.stdoutClosed = true }
    }

    var stdoutClosed: Bool { state.withLock { $0.stdoutClosed } }

    var stderrEnded: Bool { state.withLock { $0.stderrEnded } }

    func exited(_ status: Int32) {
        state.withLock { $0.exitStatus = status }
    }

    func write(_ bytes: [UInt8], to fd: Int32) -> Bool {
        // A lock of its own keeps writes from concurrent callers whole and ordered. It must not be
        // `state`'s: a write blocks while the server is busy answering, and the stdout reader needs
        // `state` to take those answers, or both sides would wait on each other.
        stdinState.withLock { stdinClosed in
            guard !stdinClosed else { return false }
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if written < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    return false
                }
                offset += written
            }
            return true
        }
    }

    func closeStdin(_ fd: Int32) {
        stdinState.withLock { stdinClosed in
            guard !stdinClosed else { return }
            stdinClosed = true
            close(fd)
        }
    }

    /// Removes and returns the oldest queued message `accept` takes.
    func takeMessage(_ accept: (Any) -> Bool) -> Any? {
        state.withLock { state in
            for (index, data) in state.queue.enumerated() {
                guard let value = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else { continue }
                if accept(value) {
                    state.queue.remove(at: index)
                    return value
                }
            }
            return nil
        }
    }

    func drain() -> [Any] {
        state.withLock { state in
            defer { state.queue.removeAll() }
            return state.queue.compactMap { try? JSONSerialization.jsonObject(with: $0, options: [.fragmentsAllowed]) }
        }
    }

    var notifications: [[String: Any]] {
        state.withLock { $0.notifications }.compactMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
    }

    var queuedCount: Int { state.withLock { $0.queue.count } }
    var exitStatus: Int32? { state.withLock { $0.exitStatus } }
    var stdoutBytes: [UInt8] { state.withLock { $0.stdout } }
    var stderrBytes: [UInt8] { state.withLock { $0.stderr } }
    var violations: [String] { state.withLock { $0.violations } }
    var outputFraming: DroverProcess.Framing? { state.withLock { $0.framing } }

    /// Strictly parses complete frames from `stdout[cursor...]`: exactly what the server writes
    /// (`Content-Length: N\r\n\r\n` + body, or one JSON value per line), each a JSON-RPC 2.0 message.
    private static func parseFrames(_ state: inout State) {
        while state.cursor < state.stdout.count {
            let rest = state.stdout[state.cursor...]
            if state.framing == nil {
                state.framing = rest.first == UInt8(ascii: "C") ? .lsp : .ndjson
            }
            let body: ArraySlice<UInt8>
            switch state.framing! {
            case .ndjson:
                guard let newline = rest.firstIndex(of: 0x0A) else { return }
                body = rest[..<newline]
                state.cursor = newline + 1
            case .lsp:
                let separator: [UInt8] = Array("\r\n\r\n".utf8)
                guard let end = rest.indices.first(where: { rest[$0...].starts(with: separator) }) else {
                    if rest.count > 64 { violation(&state, "no header end in \(preview(rest))") }
                    return
                }
                let header = String(decoding: rest[..<end], as: UTF8.self)
                guard header.hasPrefix("Content-Length: "), let length = Int(header.dropFirst(16)), length >= 0 else {
                    violation(&state, "bad header \(header.debugDescription)")
                    return
                }
                let start = end + separator.count
                guard state.stdout.count - start >= length else { return }
                body = state.stdout[start..<(start + length)]
                state.cursor = start + length
            }
            guard let value = try? JSONSerialization.jsonObject(with: Data(body)) else {
                violation(&state, "not JSON: \(preview(body))")
                continue
            }
            let entries = (value as? [Any]) ?? [value]
            if value is [Any], entries.isEmpty { violation(&state, "empty batch answer") }
            for entry in entries {
                guard let object = entry as? [String: Any], object["jsonrpc"] as? String == "2.0",
                      object["method"] is String || (object.keys.contains("id") && (object["result"] != nil) != (object["error"] != nil)) else {
                    violation(&state, "not a JSON-RPC 2.0 message: \(preview(body))")
                    continue
                }
                if let error = object["error"] {
                    guard let error = error as? [String: Any], error["code"] is Int, error["message"] is String else {
                        violation(&state, "malformed error object: \(preview(body))")
                        continue
                    }
                }
            }
            state.queue.append(Data(body))
            if let object = value as? [String: Any], object["method"] != nil { state.notifications.append(Data(body)) }
            if let trigger = state.trigger, let object = value as? [String: Any], trigger.predicate(object) {
                state.trigger = nil
                trigger.action()
            }
        }
    }

    private static func violation(_ state: inout State, _ text: String) {
        state.violations.append(text)
        state.cursor = state.stdout.count  // resynchronising is not the client's job: stop here
    }

    private static func preview(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.prefix(200), as: UTF8.self).debugDescription
    }
}
