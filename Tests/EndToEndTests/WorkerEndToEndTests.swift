// Only with the PostgreSQL trait (on by default), which links the PostgreSQL store.
#if PostgreSQL
import Foundation
import PostgresTestServer
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `drover worker`s on a real PostgreSQL server, all real processes: clients (`drover serve` with
/// `DROVER_STORE_EXECUTOR=workers`) record runs and answer gates, workers claim and drive them.
/// Leases are 1.5 s so a dead worker's runs come back quickly. Everything is asserted from the
/// stored events (and from the processes still alive), never from timing.
@Suite("End to end: drover worker", .enabled(ifBlocking: { PostgresTestServer.skipReason == nil }, "needs PostgreSQL (apt-get install postgresql)"))
struct WorkerEndToEndTests {
    /// Two agent steps: the first needs an approval, the second asks a question (attempt 1) and
    /// answers once it has the choice (attempt 2).
    static var gatedPipeline: [String: Any] { FakePipeline.pipeline([
        FakePipeline.step("draft", prompt: "{{task}}", turns: [[["say": "drafting"], ["result": "drafted by {{env.DROVER_TEST_WORKER}}"]]],
                           requiresApproval: true),
        FakePipeline.step("decide", prompt: "go on", turns: [
            [["ask": ["question": "Which way?", "options": ["left", "right"]]]],
            [["result": "went {{prompt}}"]],
        ]),
    ]) }

    /// One agent step that hangs on its first attempt (until killed) and finishes on the next.
    static var hangOncePipeline: [String: Any] { FakePipeline.pipeline([
        FakePipeline.step("work", prompt: "{{task}}", turns: [[["say": "working"], ["hang": true]], [["result": "done at last"]]]),
    ]) }

    /// A fresh database, and workspaces whose pipelines and trust every process shares.
    final class Fleet: Sendable {
        let server: PostgresTestServer
        let database: String
        let url: String
        let workspaces: [EngineWorkspace]

        init(workspaces count: Int = 1) async throws {
            server = try await PostgresTestServer.shared()
            database = "drover_w_" + UUID().uuidString.prefix(8).lowercased()
            url = try await server.createDatabase(database)
            workspaces = try (0..<count).map { _ in
                try EngineWorkspace(pipelines: ["gated": WorkerEndToEndTests.gatedPipeline, "hang-once": WorkerEndToEndTests.hangOncePipeline])
            }
        }

        /// A client of workspace `index` that leaves its runs to workers (its own engine, so two
        /// clients are two engines on the store). Every process shares the first workspace's config
        /// folder, where the clients record their trust.
        func client(_ index: Int = 0) async throws -> DroverProcess {
            try await workspaces[index].server(
                daemon: false, arguments: ["--store", url],
                environment: ["DROVER_STORE_EXECUTOR": "workers", "DROVER_CONFIG_DIR": workspaces[0].path + "/config"])
        }

        /// A `drover worker` on the store (started in the first workspace, whose config folder holds
        /// the trust every process shares); returns once it says it is ready.
        /// Its agents see `DROVER_TEST_WORKER=<name>`.
        func worker(url: String? = nil, maxRuns: Int = 4, name: String = "w", lease: String = "1.5",
                    environment: [String: String] = [:]) async throws -> DroverProcess {
            let home = workspaces[0]
            let worker = try DroverProcess(
                arguments: ["worker", "--store", url ?? self.url, "--lease", lease, "--max-runs", String(maxRuns)],
                environment: ["DROVER_CONFIG_DIR": home.path + "/config", "DROVER_TEST_WORKER": name].merging(environment) { $1 },
                directory: home.url)
            guard await worker.stderrContains("drover worker: pid", timeout: .seconds(30)) else {
                throw DroverProcess.Timeout(description: "the worker did not start: \(worker.stderrText)")
            }
            return worker
        }

        func sql(_ statement: String) async throws -> String {
            try await server.sql(statement, database: database)
        }
    }

    // MARK: Helpers

    /// Polls the stored events of `runId` (through `client`) until `condition` holds; returns them.
    @discardableResult
    private func events(_ client: DroverProcess, _ runId: String, timeout: Duration = .seconds(60),
                        until condition: ([[String: Any]]) -> Bool) async throws -> [[String: Any]] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let events = try await client.storedEvents(runId)
            if condition(events) { return events }
            guard ContinuousClock.now < deadline else {
                throw DroverProcess.Timeout(description: "run \(runId): condition not met; events: \(events.map { $0.string("type") })")
            }
            try await Task.sleep(for: .milliseconds(100))  // polling interval
        }
    }

    private func has(_ type: String, attempt: Int? = nil) -> ([[String: Any]]) -> Bool {
        { $0.contains { $0.string("type") == type && (attempt == nil || $0.data["attempt"] as? Int == attempt) } }
    }

    /// Each step's (type, stepId, attempt) in order, for the events that say what ran.
    private func stepTrace(_ events: [[String: Any]]) -> [String] {
        events.compactMap { event in
            let type = event.string("type")
            guard type.hasPrefix("step.") || type.hasPrefix("run.") && type != "run.workspace" else { return nil }
            let step = event.data["stepId"] as? String
            let attempt = event.data["attempt"] as? Int
            return [type, step, attempt.map(String.init)].compactMap { $0 }.joined(separator: " ")
        }
    }

    /// Waits until `pid` is gone (or a zombie); returns whether it went within `timeout`.
    private func gone(_ pid: pid_t, timeout: Duration = .seconds(15)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let state = processState(pid)
            if state == nil || state == "Z" { return true }
            try? await Task.sleep(for: .milliseconds(50))  // polling interval
        }
        return false
    }

    /// The agents running for `runId` (processes carrying its `DROVER_RUN_ID`).
    private func agents(of runId: String, timeout: Duration = .seconds(30)) async throws -> [pid_t] {
        let deadline = ContinuousClock.now + timeout
        while true {
            // On a thread of its own: a scan of /proc is slow on a loaded machine, and the test runner's
            // few cooperative threads must stay free for the other tests meanwhile.
            let found = (try? await onOwnThread { processes(withEnvironment: "DROVER_RUN_ID=\(runId)") }) ?? []
            if !found.isEmpty { return found }
            guard ContinuousClock.now < deadline else { throw DroverProcess.Timeout(description: "no agent of run \(runId)") }
            try await Task.sleep(for: .milliseconds(50))  // polling interval
        }
    }

    private func parentPid(_ pid: pid_t) -> pid_t? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? pid_t(fields[1]) : nil
    }

    // MARK: Tests

    @Test("three workers, two clients: 30 runs with gates answered from both clients, each done exactly once")
    func fleetDrivesEveryRunOnce() async throws {
        let fleet = try await Fleet(workspaces: 2)
        let first = try await fleet.client(0), second = try await fleet.client(1)
        var workers: [DroverProcess] = []
        // Leases of 5 s: no worker dies here, and a heartbeat starved by a loaded machine should not
        // lose one (if it does, the run is resumed by another worker, which the checks below allow).
        for index in 1...3 { workers.append(try await fleet.worker(name: "w\(index)", lease: "5")) }

        var runIds: [String] = []
        for index in 0..<30 {
            let client = index.isMultiple(of: 2) ? first : second
            let run = try await client.startRun("gated", task: "task \(index)")
            #expect(run.string("status") == "queued", "a run left to workers waits for them: \(run)")
            runIds.append(run.string("id"))
        }

        // Approvals from the first client, decisions from the second, as they come up.
        var answered = Set<String>()
        let deadline = ContinuousClock.now + .seconds(240)
        while true {
            let runs = try await first.call("run/list", ["limit": 100])["runs"] as? [[String: Any]] ?? []
            let ended = runs.filter { runIds.contains($0.string("id")) && ["done", "failed", "cancelled"].contains($0.string("status")) }
            if ended.count == runIds.count { break }
            guard ContinuousClock.now < deadline else {
                Issue.record("only \(ended.count) of 30 runs ended; workers said: \(workers.map(\.stderrText))")
                return
            }
            let items = try await first.call("inbox/list")["items"] as? [[String: Any]] ?? []
            for item in items where !answered.contains(item.string("id") + item.string("runId")) {
                answered.insert(item.string("id") + item.string("runId"))
                if item.string("kind") == "approval" {
                    try await first.call("step/approve", ["runId": item.string("runId"), "approvalId": item.string("id")])
                } else {
                    try await second.call("decision/resolve", ["runId": item.string("runId"), "decisionId": item.string("id"), "choice": "left"])
                }
            }
            if items.isEmpty { try await Task.sleep(for: .milliseconds(100)) }  // polling interval
        }

        var drafters = Set<String>()
        var interrupted = 0
        for runId in runIds {
            let events = try await first.storedEvents(runId)
            drafters.formUnion(events.filter { $0.string("type") == "step.completed" }.compactMap { $0.data["output"] as? String }
                .filter { $0.hasPrefix("drafted by") })
            let trace = stepTrace(events)
            #expect(events.map { $0["seq"] as? Int } == Array(1...events.count).map { $0 }, "\(runId): gapless")
            // Each step done once; an attempt re-run only after the previous one was interrupted (a
            // worker lost its lease and another resumed the step) or answered (the decision).
            #expect(trace.filter { $0 == "run.started" }.count == 1 && trace.filter { $0 == "run.completed" }.count == 1, "\(runId): \(trace)")
            #expect(trace.filter { $0.hasPrefix("step.completed draft") }.count == 1, "\(runId): \(trace)")
            #expect(trace.filter { $0.hasPrefix("step.completed decide") }.count == 1, "\(runId): \(trace)")
            for (index, entry) in trace.enumerated() where entry.hasPrefix("step.started") {
                let parts = entry.split(separator: " ")
                guard let attempt = Int(parts[2]), attempt > 1 else { continue }
                let previous = trace[..<index].last { $0.contains(" \(parts[1]) ") }  // the step's last event before
                let resumed = previous == "step.interrupted \(parts[1]) \(attempt - 1)"
                let answered = parts[1] == "decide" && previous == "step.started decide \(attempt - 1)"
                #expect(resumed || answered, "\(runId): attempt \(attempt) of \(parts[1]) follows \(previous ?? "nothing"): \(trace)")
            }
            if trace.contains(where: { $0.hasPrefix("step.interrupted") }) { interrupted += 1 }
            if let failed = events.first(where: { $0.string("type") == "run.failed" }) { Issue.record("\(runId) failed: \(failed.data); workers said: \(workers.map(\.stderrText))") }
            #expect(events.filter { $0.string("type") == "approval.resolved" }.count == 1)
            #expect(events.filter { $0.string("type") == "decision.resolved" }.count == 1)
        }
        #expect(try await fleet.sql("SELECT count(*) FROM run_claims") == "0", "every lease was given up")
        #expect(drafters.count > 1, "the runs were shared among the workers: \(drafters)")
        #expect(interrupted <= 3, "\(interrupted) runs lost a worker's lease: \(workers.map(\.stderrText))")
        for worker in workers { #expect(worker.isRunning, "\(worker.stderrText)") }
        for worker in workers { worker.terminate() }
        for worker in workers { _ = try await worker.waitForExit(timeout: .seconds(30)) }
        _ = try await first.shutdownAndExit()
        _ = try await second.shutdownAndExit()
    }

    @Test("kill -9 of the worker driving a step: another worker resumes the step after the lease runs out")
    func killedWorkerIsResumed() async throws {
        let fleet = try await Fleet()
        let client = try await fleet.client()
        let one = try await fleet.worker(), two = try await fleet.worker()
        let runId = try await client.startRun("hang-once").string("id")
        try await events(client, runId, until: has("step.started", attempt: 1))
        let agent = try await agents(of: runId).first!
        let driver = [one, two].first { $0.pid == parentPid(agent) }
        let other = [one, two].first { $0.pid != parentPid(agent) }
        guard let driver, let other else {
            Issue.record("the agent \(agent) is not a child of either worker")
            return
        }

        kill(driver.pid, SIGKILL)
        let events = try await events(client, runId, until: has("run.completed"))
        #expect(stepTrace(events) == [
            "run.created", "run.started", "step.started work 1", "step.interrupted work 1", "step.started work 2",
            "step.completed work 2", "run.completed",
        ], "\(stepTrace(events))")
        #expect(await gone(agent), "the dead worker's agent was stopped before the step re-ran")
        #expect(other.isRunning)
        #expect(try await fleet.sql("SELECT count(*) FROM run_claims") == "0")
        other.terminate()
        _ = try await other.waitForExit(timeout: .seconds(30))
        _ = try await client.shutdownAndExit()
    }

    @Test("a run from another machine: the worker clones its remote, drives it in its own cache and pushes drover/<run-id> back")
    func runFromAnotherMachine() async throws {
        let fleet = try await Fleet()
        let config = fleet.workspaces[0].path + "/config"
        // The pipeline is the user's (in the shared config folder), so the worker's machine has it too.
        let pipeline = FakePipeline.pipeline([FakePipeline.step("edit", prompt: "{{task}}", turns: [[
            ["write": ["path": "b.txt", "text": "from a worker\n"]], ["result": "wrote b.txt"],
        ]])])
        try FileManager.default.createDirectory(atPath: config + "/pipelines", withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: pipeline).write(to: URL(fileURLWithPath: config + "/pipelines/remote-edit.json"))
        let remote = FileManager.default.temporaryDirectory.appendingPathComponent("drover-remote-\(UUID().uuidString.prefix(8)).git").path
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("drover-cache-\(UUID().uuidString.prefix(8))").path
        defer {
            try? FileManager.default.removeItem(atPath: remote)
            try? FileManager.default.removeItem(atPath: cache)
        }
        try await GitFixture.git(FileManager.default.temporaryDirectory.path, "init", "-q", "--bare", "-b", "main", remote)

        // The user's machine: a clone of the remote, whose client records the run and goes away.
        var away: EngineWorkspace? = try await GitFixture.workspace()
        let userPath = away!.path
        try await GitFixture.git(userPath, "remote", "add", "origin", remote)
        try await GitFixture.git(userPath, "push", "-q", "origin", "main")
        let client = try await away!.server(
            daemon: false, arguments: ["--store", fleet.url], environment: ["DROVER_STORE_EXECUTOR": "workers", "DROVER_CONFIG_DIR": config])
        let run = try await client.startRun("remote-edit")
        let runId = run.string("id")
        #expect(run.object("workspace")["remote"] as? String == remote, "\(run)")
        _ = try await client.shutdownAndExit()
        try FileManager.default.removeItem(atPath: userPath)  // its folder is gone: the worker cannot use it
        away = nil

        let worker = try await fleet.worker(lease: "5", environment: ["DROVER_CACHE_DIR": cache])
        let reader = try await fleet.client()
        let events = try await events(reader, runId, until: has("run.completed"))
        #expect(stepTrace(events).contains("step.completed edit 1"), "\(stepTrace(events))")
        let workspace = events.last { $0.string("type") == "run.workspace" }?.data ?? [:]
        #expect((workspace["path"] as? String)?.hasPrefix(cache + "/") == true, "the run worked in the worker's cache: \(workspace)")
        #expect(!FileManager.default.fileExists(atPath: userPath))
        let pushed = try await GitFixture.git(remote, "show", "drover/\(runId):b.txt")
        #expect(pushed == "from a worker\n" || pushed == "from a worker", "the run's branch reached the remote: \(pushed)")
        worker.terminate()
        _ = try await worker.waitForExit(timeout: .seconds(30))
        _ = try await reader.shutdownAndExit()
    }

    @Test("SIGTERM: the worker interrupts its step, records that and gives the run up at once (no lease to wait out)")
    func stoppedWorkerHandsItsRunOver() async throws {
        let fleet = try await Fleet()
        let client = try await fleet.client()
        // An hour's lease: the run can only move on within the test's time if the lease is given up.
        let stopping = try await fleet.worker(lease: "3600")
        let runId = try await client.startRun("hang-once").string("id")
        try await events(client, runId, until: has("step.started", attempt: 1))
        let agent = try await agents(of: runId).first!
        stopping.terminate()
        #expect(try await stopping.waitForExit(timeout: .seconds(30)) == 0, "\(stopping.stderrText)")
        #expect(await gone(agent))
        let next = try await fleet.worker(lease: "3600")
        let events = try await events(client, runId, until: has("run.completed"))
        #expect(stepTrace(events) == [
            "run.created", "run.started", "step.started work 1", "step.interrupted work 1", "step.started work 2",
            "step.completed work 2", "run.completed",
        ], "\(stepTrace(events))")
        next.terminate()
        _ = try await next.waitForExit(timeout: .seconds(30))
        _ = try await client.shutdownAndExit()
    }

    @Test("a worker cut off from the store stops its agent, and writes nothing once its lease is gone")
    func partitionedWorkerIsFenced() async throws {
        let fleet = try await Fleet()
        // The worker to cut off logs in as a role of its own, so the test can shut it out alone.
        let role = "cut_" + UUID().uuidString.prefix(6).lowercased()
        _ = try await fleet.server.sql("CREATE ROLE \(role) LOGIN PASSWORD 'cut-off-secret' IN ROLE drover")
        let roleURL = fleet.url.replacingOccurrences(of: #"//[^@]+@"#, with: "//\(role):cut-off-secret@", options: .regularExpression)
        let client = try await fleet.client()
        let cutOff = try await fleet.worker(url: roleURL)
        let runId = try await client.startRun("hang-once").string("id")
        try await events(client, runId, until: has("step.started", attempt: 1))
        let agent = try await agents(of: runId).first!
        #expect(parentPid(agent) == cutOff.pid)

        // The partition: its sessions end and it cannot log in again.
        _ = try await fleet.server.sql("ALTER ROLE \(role) NOLOGIN; SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '\(role)'")
        #expect(await cutOff.stderrContains("lost the lease on run \(runId)", timeout: .seconds(30)), "\(cutOff.stderrText)")
        #expect(await gone(agent), "the cut-off worker stopped its agent")
        let before = try await client.storedEvents(runId)
        #expect(stepTrace(before).last == "step.started work 1", "nothing was written for the lost attempt: \(stepTrace(before))")

        // Another worker takes the run after the lease; the cut-off one comes back and must stay silent.
        let rescuer = try await fleet.worker()
        let events = try await events(client, runId, until: has("run.completed"))
        _ = try await fleet.server.sql("ALTER ROLE \(role) LOGIN")
        #expect(await cutOff.stderrContains("the store answers again", timeout: .seconds(30)), "\(cutOff.stderrText)")
        let after = try await client.storedEvents(runId)
        #expect(after.count == events.count, "nothing more was written once the cut-off worker could reach the store again")
        #expect(stepTrace(after) == [
            "run.created", "run.started", "step.started work 1", "step.interrupted work 1", "step.started work 2",
            "step.completed work 2", "run.completed",
        ], "\(stepTrace(after))")
        #expect(!cutOff.stderrText.contains("cut-off-secret"))
        for worker in [cutOff, rescuer] { worker.terminate() }
        for worker in [cutOff, rescuer] { _ = try await worker.waitForExit(timeout: .seconds(30)) }
        _ = try await client.shutdownAndExit()
    }

    @Test("worker errors: a bad URL and a wrong password stop it, saying why without the password; a server that is down is retried")
    func workerErrors() async throws {
        let fleet = try await Fleet()
        let bad = try DroverProcess(arguments: ["worker", "--store", "mysql://nope"])
        #expect(try await bad.waitForExit() == 1)
        #expect(bad.stderrText.contains("postgres://"), "\(bad.stderrText)")

        let wrong = fleet.url.replacingOccurrences(of: #":[^:@/]+@"#, with: ":wrong-secret@", options: .regularExpression)
        let refused = try DroverProcess(arguments: ["worker", "--store", wrong])
        #expect(try await refused.waitForExit(timeout: .seconds(30)) == 1)
        #expect(refused.stderrText.contains("password authentication failed"), "\(refused.stderrText)")
        #expect(!refused.stderrText.contains("wrong-secret"))

        let port = try PostgresTestServer.freeLoopbackPort()
        let down = try DroverProcess(arguments: ["worker", "--store", "postgres://drover:down-secret@127.0.0.1:\(port)/drover"])
        #expect(await down.stderrContains("trying again in", timeout: .seconds(30)), "\(down.stderrText)")
        #expect(down.isRunning, "a worker waits for its server")
        #expect(!down.stderrText.contains("down-secret"))
        down.terminate()
        _ = try await down.waitForExit(timeout: .seconds(30))

        let usage = try DroverProcess(arguments: ["worker", "--store", fleet.url, "--drivers", "fake,nonesuch"])
        #expect(try await usage.waitForExit() == 2)
        #expect(usage.stderrText.contains("unknown driver 'nonesuch'"), "\(usage.stderrText)")
    }
}
#endif
