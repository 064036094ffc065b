import Foundation
import PostgresTestServer
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A workspace folder for engine end-to-end tests: pipelines and config written up front, shared by
/// every `drover serve` a test starts on it (so a second server can pick up the first one's runs).
///
/// When it goes away it stops the workspace's engine, SIGKILLs any process still carrying
/// `DROVER_SOURCE_WORKSPACE=<its path>` (agents a killed server left behind) and then removes the folder
/// (on a thread of its own, shortly after), so a failing test leaves nothing running.
final class EngineWorkspace: Sendable {
    /// The workspace folder (symlinks resolved); `DROVER_CONFIG_DIR` of its servers is `<url>/config`.
    let url: URL
    var path: String { url.path }

    /// - Parameters:
    ///   - pipelines: `<id>: <pipeline JSON object>`, written to `.drover/pipelines/<id>.json`.
    ///   - config: written to `.drover/config.json` when given.
    init(pipelines: [String: Any] = [:], config: Any? = nil) throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("drover-e2e-engine-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        self.url = url.resolvingSymlinksInPath()
        for (id, pipeline) in pipelines { try writePipeline(id, pipeline) }
        if let config {
            try write(config, to: ".drover/config.json")
        }
    }

    deinit {
        // In this order, off the pool (a scan of /proc reads every process's environ: up to 0.3 s on the
        // loaded CI machine): the engine stops (its stop starts now, while the folder exists: `engine
        // stop` refuses a workspace that is gone, and that engine would idle on, retrying its runs), the
        // agents left are killed, and only then the folder goes, so nothing writes into it again.
        let stop = DroverProcess.startEngineStop(workspace: url)
        let url = url, entry = agentEntry
        BackgroundCleanup.run {
            stop?.waitUntilExit()
            for pid in processes(withEnvironment: entry) { kill(pid, SIGKILL) }
            try? FileManager.default.removeItem(at: url)
        }
    }

    func writePipeline(_ id: String, _ pipeline: Any) throws {
        try write(pipeline, to: ".drover/pipelines/\(id).json")
    }

    /// Replaces `.drover/config.json` (the engine reads it again at every step).
    func writeConfig(_ config: Any) throws {
        try write(config, to: ".drover/config.json")
    }

    private func write(_ json: Any, to relativePath: String) throws {
        let file = url.appendingPathComponent(relativePath)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: json, options: [.withoutEscapingSlashes]).writeUnsynced(to: file)
    }

    /// What `drover engine status` says of this workspace's engine, asked again (for up to `timeout`)
    /// until `accept` takes it; the last text either way.
    func engineStatusText(timeout: Duration = .seconds(10), until accept: (String) -> Bool) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            let status = try DroverProcess(arguments: ["engine", "status", "--workspace", path], directory: url)
            status.closeStdin()
            _ = try await status.waitForExit(timeout: .seconds(30))
            let text = String(decoding: status.stdoutBytes, as: UTF8.self)
            if accept(text) || ContinuousClock.now >= deadline { return text }
            try await Task.sleep(for: .milliseconds(100))  // polling interval
        }
    }

    /// Spawns `drover serve` on this workspace, initializes it and (by default) trusts the workspace.
    /// - Parameters:
    ///   - daemon: attach to the workspace's engine process (the default), or drive the workspace in
    ///     the server itself (`--no-daemon`), whose end then interrupts its agents.
    ///   - arguments: more arguments after `serve` (e.g. `--store URL`).
    func server(logs: Bool? = nil, trust: Bool = true, daemon: Bool = true, arguments: [String] = [],
                environment: [String: String] = [:]) async throws -> DroverProcess {
        let drover = try DroverProcess(arguments: ["serve"] + (daemon ? [] : ["--no-daemon"]) + arguments,
                                       environment: environment, directory: url)
        var params: [String: Any] = ["protocolVersion": 1, "workspace": path, "clientInfo": ["name": "e2e-engine"]]
        if let logs { params["capabilities"] = ["logs": logs] }
        try await drover.initialize(params)
        if trust {
            let trusted = try await drover.call("workspace/trust", ["trusted": true])
            guard trusted["trusted"] as? Bool == true else { throw DroverProcess.Timeout(description: "trust failed: \(trusted)") }
        }
        return drover
    }

    /// Live processes (not zombies) started for this workspace's runs: every process whose
    /// environment has `DROVER_SOURCE_WORKSPACE=<path>` (agents, and whatever they spawned).
    func agentProcesses() -> [pid_t] {
        processes(withEnvironment: agentEntry)
    }

    private var agentEntry: String { "DROVER_SOURCE_WORKSPACE=\(path)" }

    /// `agentProcesses()` on a thread of its own (`onOwnThread`): a scan of /proc takes a while on a
    /// loaded machine, and the test runner's few cooperative threads must stay free for the other tests.
    func scanAgentProcesses() async -> [pid_t] {
        let entry = agentEntry
        return (try? await onOwnThread { processes(withEnvironment: entry) }) ?? []
    }

    /// Waits until no process of this workspace's runs is left; returns the pids still alive at the deadline.
    func waitForNoAgents(timeout: Duration = .seconds(10)) async -> [pid_t] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let left = await scanAgentProcesses()
            if left.isEmpty || ContinuousClock.now >= deadline { return left }
            try? await Task.sleep(for: .milliseconds(20))  // polling interval
        }
    }

    /// Waits until at least `count` processes of this workspace's runs are alive; returns them.
    func waitForAgents(count: Int = 1, timeout: Duration = .seconds(10)) async throws -> [pid_t] {
        try await watchForAgents(count: count, timeout: timeout).found()
    }

    /// Starts looking, on a thread of its own and from now on, for at least `count` processes of
    /// this workspace's runs: an agent that lives only seconds (a timeout) is seen even while the
    /// test runner's cooperative threads are busy, or before a request that started it is answered.
    func watchForAgents(count: Int = 1, timeout: Duration = .seconds(10)) -> AgentWatch {
        AgentWatch(entry: "DROVER_WORKSPACE=\(path)", count: count, timeout: timeout)
    }
}

/// A look-out for processes carrying one environment entry, polling /proc on a thread of its own.
final class AgentWatch: Sendable {
    private struct State {
        var outcome: Result<[pid_t], DroverProcess.Timeout>?
        var waiter: CheckedContinuation<[pid_t], any Error>?
    }
    private let state = Mutex(State())

    init(entry: String, count: Int, timeout: Duration) {
        let deadline = ContinuousClock.now + timeout
        Thread.detachNewThread { [self] in
            var found: [pid_t] = []
            while true {
                found = processes(withEnvironment: entry)
                if found.count >= count || ContinuousClock.now >= deadline { break }
                Thread.sleep(forTimeInterval: 0.01)  // polling interval
            }
            let outcome: Result<[pid_t], DroverProcess.Timeout> = found.count >= count
                ? .success(found)
                : .failure(DroverProcess.Timeout(description: "timed out waiting for \(count) agent process(es); found \(found)"))
            let waiter = state.withLock { state in
                state.outcome = outcome
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(with: outcome.mapError { $0 as any Error })
        }
    }

    /// The processes found; throws `DroverProcess.Timeout` if too few were alive by the deadline.
    func found() async throws -> [pid_t] {
        try await withCheckedThrowingContinuation { waiter in
            let outcome = state.withLock { state in
                if state.outcome == nil { state.waiter = waiter }
                return state.outcome
            }
            if let outcome { waiter.resume(with: outcome.mapError { $0 as any Error }) }
        }
    }
}

/// Pids of live processes of this user whose initial environment contains `entry` exactly
/// (zombies have an unreadable, empty environ and are not listed).
func processes(withEnvironment entry: String) -> [pid_t] {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    // `\0entry\0` in `\0environ`: one byte search per process (this runs often, in debug builds).
    let needle = [0] + Array(entry.utf8) + [0]
    var environ = [UInt8](repeating: 0, count: 1 << 16)
    var found: [pid_t] = []
    for name in names {
        guard let pid = pid_t(name), pid != getpid() else { continue }
        let fd = open("/proc/\(name)/environ", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { continue }
        environ[0] = 0
        var length = 1
        while length < environ.count {
            let count = environ.withUnsafeMutableBytes { read(fd, $0.baseAddress! + length, $0.count - length) }
            if count <= 0 { break }
            length += count
        }
        close(fd)
        if length < environ.count { environ[length] = 0 }
        let searched = min(length + 1, environ.count)
        let hit = environ.withUnsafeBytes { haystack in
            needle.withUnsafeBytes { wanted in contains(haystack.prefix(searched), wanted) }
        }
        if hit, processState(pid) != "Z" { found.append(pid) }
    }
    return found.sorted()
}

/// Whether `wanted` (which starts with a NUL) occurs in `haystack`: memchr to each NUL, then memcmp.
private func contains(_ haystack: UnsafeRawBufferPointer.SubSequence, _ wanted: UnsafeRawBufferPointer) -> Bool {
    guard let base = haystack.base.baseAddress else { return false }
    var offset = haystack.startIndex
    let end = haystack.endIndex
    while end - offset >= wanted.count {
        guard let zero = memchr(base + offset, 0, end - offset - wanted.count + 1) else { return false }
        offset = UnsafeRawPointer(zero) - base
        if memcmp(zero, wanted.baseAddress!, wanted.count) == 0 { return true }
        offset += 1
    }
    return false
}

/// The attempts the workspace's agent record table (`.drover/agents`) holds a record for, as
/// `<runId> <stepId> <attempt>` (each slot starts with `run=…`, `step=…`, `attempt=…` lines).
func agentRecords(workspace: String) -> [String] {
    guard let data = FileManager.default.contents(atPath: workspace + "/.drover/agents") else { return [] }
    return data.split(separator: 0).compactMap { slot in
        let lines = String(decoding: slot, as: UTF8.self).split(separator: "\n")
        guard lines.count >= 3, lines[0].hasPrefix("run="), lines[1].hasPrefix("step="), lines[2].hasPrefix("attempt=") else { return nil }
        return "\(lines[0].dropFirst(4)) \(lines[1].dropFirst(5)) \(lines[2].dropFirst(8))"
    }
}

/// The state letter of `/proc/<pid>/stat` (R, S, Z, …), nil if the process is gone.
func processState(_ pid: pid_t) -> String? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return nil }
    return stat[stat.index(after: close)...].split(separator: " ").first.map(String.init)
}

/// The process group of `pid`, nil if the process is gone.
func processGroup(_ pid: pid_t) -> pid_t? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return nil }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    return fields.count > 2 ? pid_t(fields[2]) : nil
}

/// A JSON-RPC error response's parts.
struct WireError: CustomStringConvertible {
    var code: Int
    var message: String
    var data: [String: Any]?
    var kind: String? { data?["kind"] as? String }
    var description: String { "\(code) \(message) \(data.map { "\($0)" } ?? "")" }
}

/// A request that was expected to succeed failed (or the reverse).
struct UnexpectedResponse: Error, CustomStringConvertible {
    let description: String
}

extension DroverProcess {
    /// Sends a request and returns its `result` object; throws if the server answered with an error.
    @discardableResult
    func call(_ method: String, _ params: [String: Any] = [:], timeout: Duration = .seconds(15)) async throws -> [String: Any] {
        let response = try await request(method, params, timeout: timeout)
        guard let result = response["result"] as? [String: Any] else {
            throw UnexpectedResponse(description: "\(method) \(params) failed: \(response)")
        }
        return result
    }

    /// Sends a request that must fail; returns its error.
    func callError(_ method: String, _ params: [String: Any] = [:], timeout: Duration = .seconds(15)) async throws -> WireError {
        let response = try await request(method, params, timeout: timeout)
        guard let error = response["error"] as? [String: Any], let code = error["code"] as? Int else {
            throw UnexpectedResponse(description: "\(method) \(params) was expected to fail but answered \(response)")
        }
        return WireError(code: code, message: error["message"] as? String ?? "", data: error["data"] as? [String: Any])
    }

    /// `run/start`; returns the run object of the response.
    func startRun(_ pipelineId: String, task: String = "the task") async throws -> [String: Any] {
        let result = try await call("run/start", ["pipelineId": pipelineId, "task": task])
        guard let run = result["run"] as? [String: Any], run["id"] is String else {
            throw UnexpectedResponse(description: "run/start answered \(result)")
        }
        return run
    }

    /// `run/get`'s run.
    func getRun(_ runId: String) async throws -> [String: Any] {
        try await call("run/get", ["runId": runId])["run"] as? [String: Any] ?? [:]
    }

    /// Every stored event of a run, through `run/events` pages of `pageSize`.
    func storedEvents(_ runId: String, pageSize: Int = 1000) async throws -> [[String: Any]] {
        var events: [[String: Any]] = []
        var after = 0
        while true {
            let page = try await call("run/events", ["runId": runId, "afterSeq": after, "limit": pageSize])
            let batch = page["events"] as? [[String: Any]] ?? []
            events += batch
            guard page["more"] as? Bool == true, let last = batch.last?["seq"] as? Int else { return events }
            after = last
        }
    }

    /// Waits for (and takes from the queue) the first `run/event` of `runId` of `type` that
    /// `predicate` accepts; returns its params (the event).
    @discardableResult
    func event(_ runId: String, _ type: String, timeout: Duration = .seconds(20),
               where predicate: @escaping ([String: Any]) -> Bool = { _ in true }) async throws -> [String: Any] {
        let message = try await waitFor(timeout: timeout) { message in
            guard message["method"] as? String == "run/event", let event = message["params"] as? [String: Any],
                  event["runId"] as? String == runId, event["type"] as? String == type else { return false }
            return predicate(event)
        }
        return message["params"] as? [String: Any] ?? [:]
    }

    /// Sends a request with the string id `tag` and returns its `result`; with `wireIndex(ofResponse:)`
    /// a test can check what the server wrote before and after the response.
    @discardableResult
    func call(tag: String, _ method: String, _ params: [String: Any] = [:], timeout: Duration = .seconds(15)) async throws -> [String: Any] {
        send(["jsonrpc": "2.0", "id": tag, "method": method, "params": params])
        let response = try await response(to: tag, timeout: timeout)
        guard let result = response["result"] as? [String: Any] else {
            throw UnexpectedResponse(description: "\(method) \(params) failed: \(response)")
        }
        return result
    }

    /// Every message the server wrote so far, in wire order (NDJSON framing).
    var wireMessages: [[String: Any]] {
        stdoutBytes.split(separator: 0x0A).compactMap { try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] }
    }

    /// Where on the wire the response to the string id `tag` was written.
    func wireIndex(ofResponse tag: String) -> Int? {
        wireMessages.firstIndex { $0["method"] == nil && $0["id"] as? String == tag }
    }

    /// Where on the wire the `run/event` of `runId` with `seq` was written.
    func wireIndex(ofEvent runId: String, seq: Int) -> Int? {
        wireMessages.firstIndex { message in
            guard message["method"] as? String == "run/event", let event = message["params"] as? [String: Any] else { return false }
            return event["runId"] as? String == runId && event["seq"] as? Int == seq
        }
    }

    /// Waits for (and takes from the queue) the `run/log` notification of `runId` whose text is `text`.
    @discardableResult
    func logLine(_ runId: String, _ text: String, timeout: Duration = .seconds(20)) async throws -> [String: Any] {
        let message = try await waitFor(timeout: timeout) { message in
            guard message["method"] as? String == "run/log", let log = message["params"] as? [String: Any] else { return false }
            return log["runId"] as? String == runId && log["text"] as? String == text
        }
        return message["params"] as? [String: Any] ?? [:]
    }

    /// Every `run/event` notification of `runId` received so far, in arrival order.
    func notifiedEvents(_ runId: String) -> [[String: Any]] {
        notifications.compactMap { message in
            guard message["method"] as? String == "run/event", let event = message["params"] as? [String: Any],
                  event["runId"] as? String == runId else { return nil }
            return event
        }
    }

    /// Every `run/log` notification of `runId` received so far.
    func notifiedLogs(_ runId: String) -> [[String: Any]] {
        notifications.compactMap { message in
            guard message["method"] as? String == "run/log", let log = message["params"] as? [String: Any],
                  log["runId"] as? String == runId else { return nil }
            return log
        }
    }
}

// MARK: - Reading JSON

extension Dictionary where Key == String, Value == Any {
    /// `self[key]` as an object.
    func object(_ key: String) -> [String: Any] { self[key] as? [String: Any] ?? [:] }
    /// `self[key]` as a string ("" if absent).
    func string(_ key: String) -> String { self[key] as? String ?? "" }
    /// The event's `data`.
    var data: [String: Any] { object("data") }
    /// The run's step with this id.
    func step(_ id: String) -> [String: Any] {
        (self["steps"] as? [[String: Any]] ?? []).first { $0["id"] as? String == id } ?? [:]
    }
}

/// Builders for small pipelines of fake-agent steps.
enum FakePipeline {
    /// An agent step with an inline fake agent playing `turns` (turn N for attempt N).
    static func step(_ id: String, prompt: String, turns: [[[String: Any]]], requiresApproval: Bool = false,
                     timeoutSeconds: Double? = nil) -> [String: Any] {
        var step: [String: Any] = ["id": id, "kind": "agent", "prompt": prompt,
                                   "agent": ["driver": "fake", "script": turns]]
        if requiresApproval { step["requiresApproval"] = true }
        if let timeoutSeconds { step["timeoutSeconds"] = timeoutSeconds }
        return step
    }

    static func pipeline(_ steps: [[String: Any]], name: String = "e2e") -> [String: Any] {
        ["name": name, "steps": steps]
    }
}
