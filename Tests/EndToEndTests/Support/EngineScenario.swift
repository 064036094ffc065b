import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A workspace folder for engine end-to-end tests: pipelines and config written up front, shared by
/// every `drover serve` a test starts on it (so a second server can pick up the first one's runs).
///
/// When it goes away it SIGKILLs any process still carrying `DROVER_WORKSPACE=<its path>` (agents a
/// killed server left behind) and removes the folder, so a failing test leaves nothing running.
final class EngineWorkspace {
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
        DroverProcess.stopEngine(workspace: url)
        for pid in agentProcesses() { kill(pid, SIGKILL) }
        try? FileManager.default.removeItem(at: url)
    }

    func writePipeline(_ id: String, _ pipeline: Any) throws {
        try write(pipeline, to: ".drover/pipelines/\(id).json")
    }

    private func write(_ json: Any, to relativePath: String) throws {
        let file = url.appendingPathComponent(relativePath)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: json, options: [.withoutEscapingSlashes]).write(to: file)
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
    /// environment has `DROVER_WORKSPACE=<path>` (agents, and whatever they spawned).
    func agentProcesses() -> [pid_t] {
        processes(withEnvironment: "DROVER_WORKSPACE=\(path)")
    }

    /// Waits until no process of this workspace's runs is left; returns the pids still alive at the deadline.
    func waitForNoAgents(timeout: Duration = .seconds(10)) async -> [pid_t] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let left = agentProcesses()
            if left.isEmpty || ContinuousClock.now >= deadline { return left }
            try? await Task.sleep(for: .milliseconds(20))  // polling interval
        }
    }

    /// Waits until at least `count` processes of this workspace's runs are alive; returns them.
    func waitForAgents(count: Int = 1, timeout: Duration = .seconds(10)) async throws -> [pid_t] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let found = agentProcesses()
            if found.count >= count { return found }
            guard ContinuousClock.now < deadline else {
                throw DroverProcess.Timeout(description: "timed out waiting for \(count) agent process(es); found \(found)")
            }
            try? await Task.sleep(for: .milliseconds(10))  // polling interval
        }
    }
}

/// Pids of live processes of this user whose initial environment contains `entry` exactly
/// (zombies have an unreadable, empty environ and are not listed).
func processes(withEnvironment entry: String) -> [pid_t] {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    let needle = Array(entry.utf8)
    var found: [pid_t] = []
    for name in names {
        guard let pid = pid_t(name), pid != getpid(),
              let environ = FileManager.default.contents(atPath: "/proc/\(name)/environ") else { continue }
        if environ.split(separator: 0, omittingEmptySubsequences: true).contains(where: { Array($0) == needle }),
           processState(pid) != "Z" {
            found.append(pid)
        }
    }
    return found.sorted()
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
