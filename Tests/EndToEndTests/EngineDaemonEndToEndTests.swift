import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// One engine per workspace, over real processes: `drover serve`s and `drover run` attach to the
/// workspace's engine process, runs outlive their clients, the engine is restarted after a kill,
/// and the scheduler queues runs (`concurrency.maxRuns`, `dependsOn`).
@Suite("End to end: the workspace's engine")
struct EngineDaemonEndToEndTests {
    /// Runs `drover <arguments>` for `workspace` (its config folder) to its end, waiting without
    /// blocking the test runner's threads; its exit code and output.
    private func command(_ arguments: [String], in workspace: EngineWorkspace) async throws -> (code: Int32, stdout: String, stderr: String) {
        let drover = try DroverProcess(arguments: arguments, environment: ["NO_COLOR": "1"], directory: workspace.url)
        drover.closeStdin()
        let code = try await drover.waitForExit(timeout: .seconds(60))
        return (code, String(decoding: drover.stdoutBytes, as: UTF8.self), drover.stderrText)
    }

    private static var decisionPipeline: [String: Any] { FakePipeline.pipeline([
        FakePipeline.step("plan", prompt: "Plan {{task}}", turns: [
            [["ask": ["question": "Which database?", "options": ["sqlite", "postgres"]]]],
            [["result": "planned"]],
        ]),
    ]) }

    private static var quickPipeline: [String: Any] { FakePipeline.pipeline([
        FakePipeline.step("work", prompt: "Work on {{task}}", turns: [[["say": "working"], ["result": "done"]]]),
    ]) }

    /// A command agent that waits until the file `go` exists in the workspace.
    private static var waitingPipeline: [String: Any] {
        FakePipeline.pipeline([["id": "work", "kind": "agent", "role": "worker", "prompt": "Work on {{task}}"]])
    }

    private static func waitingConfig(_ workspace: String, extra: [String: Any] = [:]) -> [String: Any] {
        var config: [String: Any] = ["agents": ["worker": ["driver": "command", "command": "/bin/sh",
                                                           "args": ["-c", "until [ -f '\(workspace)/go' ]; do sleep 0.05; done; echo finished"]]]]
        config.merge(extra) { _, new in new }
        return config
    }

    /// Pids of engine processes serving `workspace` (from /proc: `drover engine --foreground --workspace PATH`).
    ///
    /// A process an engine is spawning (an agent it resumes, a git) shows the engine's command line
    /// until it execs: it is left out by its parent, else a new engine looked like two.
    private static func enginePIDs(_ workspace: String) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        let parents = entries.compactMap { entry -> (pid: pid_t, parent: pid_t?)? in
            guard let pid = pid_t(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard arguments.contains("engine"), arguments.contains("--foreground"), arguments.contains(workspace) else { return nil }
            // A zombie has no command line; a live engine has one.
            return (pid, parentPID(pid))
        }
        let candidates = Set(parents.map(\.pid))
        return parents.filter { $0.parent.map { !candidates.contains($0) } ?? true }.map(\.pid)
    }

    /// The parent in /proc/PID/stat (the field after the state, after the command's closing parenthesis).
    private static func parentPID(_ pid: pid_t) -> pid_t? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat"),
              let close = data.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = data[(close + 1)...].split(separator: UInt8(ascii: " "))
        return fields.count > 1 ? pid_t(String(decoding: fields[1], as: UTF8.self)) : nil
    }

    private static func waitForDone(_ drover: DroverProcess, _ runId: String, status: String = "done") async throws -> [String: Any] {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let run = try await drover.getRun(runId)
            if run.string("status") == status || ContinuousClock.now >= deadline { return run }
            try await Task.sleep(for: .milliseconds(50))  // polling interval
        }
    }

    @Test("two serves on one workspace see each other's runs live, and one answers the other's gate")
    func twoClients() async throws {
        let workspace = try EngineWorkspace(pipelines: ["dec": Self.decisionPipeline])
        let first = try await workspace.server()
        let second = try await workspace.server()
        let runId = try await first.startRun("dec").string("id")
        let requested = try await second.event(runId, "decision.requested")
        _ = try await first.event(runId, "decision.requested")
        _ = try await second.call("decision/resolve", ["runId": runId, "decisionId": requested.data.string("decisionId"), "choice": "sqlite"])
        _ = try await first.event(runId, "decision.resolved")
        _ = try await first.event(runId, "run.completed")
        _ = try await second.event(runId, "run.completed")
        #expect(Self.enginePIDs(workspace.path).count == 1)
        #expect(try await first.shutdownAndExit() == 0)
        #expect(try await second.shutdownAndExit() == 0)
    }

    @Test("a run outlives the serve that started it; a serve started later finds it done with all its events")
    func runOutlivesClient() async throws {
        let workspace = try EngineWorkspace(pipelines: ["wait": Self.waitingPipeline])
        try JSONSerialization.data(withJSONObject: Self.waitingConfig(workspace.path))
            .write(to: workspace.url.appendingPathComponent(".drover/config.json"))
        let first = try await workspace.server()
        let runId = try await first.startRun("wait").string("id")
        _ = try await workspace.waitForAgents()
        first.closeStdin()
        #expect(try await first.waitForExit() == 1)
        // The editor is gone; the agent is not.
        #expect(!(await workspace.scanAgentProcesses()).isEmpty)
        FileManager.default.createFile(atPath: workspace.path + "/go", contents: nil)
        let later = try await workspace.server()
        let run = try await Self.waitForDone(later, runId)
        #expect(run.string("status") == "done")
        #expect(run.step("work")["attempts"] as? Int == 1)
        let types = try await later.storedEvents(runId).map { $0.string("type") }
        #expect(types.first == "run.created" && types.last == "run.completed")
        #expect(!types.contains("step.interrupted"))
        #expect(try await later.shutdownAndExit() == 0)
    }

    @Test("drover run works beside an attached drover serve, which sees the run's events")
    func cliBesideServe() async throws {
        let workspace = try EngineWorkspace(pipelines: ["quick": Self.quickPipeline])
        let editor = try await workspace.server()
        let cli = try await command(["run", "quick", "--task", "from the terminal", "--yes", "--workspace", workspace.path], in: workspace)
        let text = cli.stdout + cli.stderr
        #expect(cli.code == 0, "drover run: \(text)")
        let completed = try await editor.waitFor { message in
            (message["params"] as? [String: Any])?["type"] as? String == "run.completed"
        }
        #expect(text.contains((completed["params"] as? [String: Any] ?? [:]).string("runId")))
        #expect(try await editor.shutdownAndExit() == 0)
    }

    @Test("the engine's socket is 0600 in a 0700 folder")
    func socketIsPrivate() async throws {
        let workspace = try EngineWorkspace(pipelines: [:])
        let drover = try await workspace.server()
        let text = try await command(["engine", "status", "--workspace", workspace.path], in: workspace).stdout
        let socket = try #require(text.split(separator: " ").first { $0.hasSuffix(".sock;") }.map { String($0.dropLast()) }, "status: \(text)")
        var info = stat()
        #expect(lstat(socket, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(info.st_mode & S_IFMT == S_IFSOCK)
        #expect(lstat((socket as NSString).deletingLastPathComponent, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o700)
        #expect(info.st_uid == geteuid())
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("drover engine stop still stops the engine of a workspace whose folder was removed (it would otherwise run until idle)")
    func stopAfterFolderRemoved() async throws {
        let workspace = try EngineWorkspace(pipelines: [:])
        let drover = try await workspace.server(environment: ["DROVER_ENGINE_IDLE_TIMEOUT": "600"])
        #expect(Self.enginePIDs(workspace.path).count == 1)
        #expect(try await drover.shutdownAndExit() == 0)
        try FileManager.default.removeItem(at: workspace.url)
        let elsewhere = try EngineWorkspace(pipelines: [:])
        let status = try await command(["engine", "status", "--workspace", workspace.path], in: elsewhere)
        #expect(status.code == 0 && status.stdout.contains("drives \(workspace.path)"), "\(status)")
        let stopped = try await command(["engine", "stop", "--workspace", workspace.path], in: elsewhere)
        #expect(stopped.code == 0 && stopped.stdout.contains("stopped"), "\(stopped)")
        // `engine stop` returns once the engine has exited.
        #expect(Self.enginePIDs(workspace.path).isEmpty)
        let again = try await command(["engine", "start", "--workspace", workspace.path], in: elsewhere)
        #expect(again.code != 0 && again.stderr.contains("is not a folder"), "a removed workspace gets no new engine: \(again)")
    }

    @Test("kill -9 of the engine mid-step: the next client starts a new engine, which kills the orphan and completes the run")
    func engineKilled() async throws {
        let workspace = try EngineWorkspace(pipelines: ["wait": Self.waitingPipeline])
        try JSONSerialization.data(withJSONObject: Self.waitingConfig(workspace.path))
            .write(to: workspace.url.appendingPathComponent(".drover/config.json"))
        let first = try await workspace.server()
        let runId = try await first.startRun("wait").string("id")
        let orphans = try await workspace.waitForAgents()
        let engines = Self.enginePIDs(workspace.path)
        #expect(engines.count == 1)
        for pid in engines { kill(pid, SIGKILL) }
        // The editor's server has lost its engine: it says so and exits.
        #expect(try await first.waitForExit() == 1)
        let second = try await workspace.server()
        #expect(Self.enginePIDs(workspace.path).count == 1)
        #expect(Set(Self.enginePIDs(workspace.path)).isDisjoint(with: engines))
        // The new engine resumed the run when it started, maybe before this client attached: read the log.
        let deadline = ContinuousClock.now + .seconds(20)
        while orphans.contains(where: { kill($0, 0) == 0 }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))  // polling interval
        }
        for pid in orphans { #expect(kill(pid, 0) != 0, "orphaned agent \(pid) still alive") }
        FileManager.default.createFile(atPath: workspace.path + "/go", contents: nil)
        let run = try await Self.waitForDone(second, runId)
        #expect(run.string("status") == "done")
        #expect(run.step("work")["attempts"] as? Int == 2)
        let types = try await second.storedEvents(runId).map { $0.string("type") }
        #expect(types.contains("step.interrupted"))
        #expect(try await second.shutdownAndExit() == 0)
    }

    @Test("concurrency.maxRuns 1: three runs queue (reason capacity) and run one after another")
    func capacity() async throws {
        let workspace = try EngineWorkspace(pipelines: ["wait": Self.waitingPipeline])
        try JSONSerialization.data(withJSONObject: Self.waitingConfig(workspace.path, extra: ["concurrency": ["maxRuns": 1]]))
            .write(to: workspace.url.appendingPathComponent(".drover/config.json"))
        let drover = try await workspace.server()
        var runIds: [String] = []
        for index in 0..<3 {
            let run = try await drover.startRun("wait", task: "task \(index)")
            #expect(run.string("status") == (index == 0 ? "running" : "queued"))
            runIds.append(run.string("id"))
        }
        for runId in runIds.dropFirst() {
            let queued = try await drover.event(runId, "run.queued")
            #expect(queued.data.string("reason") == "capacity")
        }
        #expect(await workspace.scanAgentProcesses().count <= 2, "one agent (sh, and maybe its sleep)")
        let listed = try await drover.call("run/list", ["status": ["queued"]])
        #expect(Set((listed["runs"] as? [[String: Any]] ?? []).map { $0.string("id") }) == Set(runIds.dropFirst()))
        FileManager.default.createFile(atPath: workspace.path + "/go", contents: nil)
        for runId in runIds { _ = try await drover.event(runId, "run.completed") }
        // From the order of events on the wire: each run starts only after the one before it completed.
        for (earlier, later) in zip(runIds, runIds.dropFirst()) {
            let completed = try #require(drover.notifiedEvents(earlier).first { $0.string("type") == "run.completed" }?["seq"] as? Int)
            let started = try #require(drover.notifiedEvents(later).first { $0.string("type") == "run.started" }?["seq"] as? Int)
            #expect(try #require(drover.wireIndex(ofEvent: earlier, seq: completed)) < (try #require(drover.wireIndex(ofEvent: later, seq: started))))
        }
        #expect(try await drover.shutdownAndExit() == 0)
    }

    /// The engine counts the runs running from what it stored (`concurrency.maxRuns`): the count must hold
    /// across a kill -9 (the new engine re-runs the interrupted step of the run that was running, and starts
    /// none of those queued beside it), a cancel (the slot goes to the next in line, one only) and completions.
    @Test("concurrency.maxRuns 1 holds across a kill -9 of the engine with a run running, a cancel and completions")
    func capacityAcrossRestart() async throws {
        let workspace = try EngineWorkspace(pipelines: ["wait": Self.waitingPipeline])
        // Each run's agent waits for a file of its own: `go-<run id>`.
        let config: [String: Any] = [
            "agents": ["worker": ["driver": "command", "command": "/bin/sh",
                                  "args": ["-c", "until [ -f \"$0/go-$DROVER_RUN_ID\" ]; do sleep 0.05; done; echo finished", workspace.path]]],
            "concurrency": ["maxRuns": 1],
        ]
        try JSONSerialization.data(withJSONObject: config).write(to: workspace.url.appendingPathComponent(".drover/config.json"))
        func release(_ runId: String) { FileManager.default.createFile(atPath: workspace.path + "/go-" + runId, contents: nil) }
        func statuses(_ drover: DroverProcess, _ runIds: [String]) async throws -> [String] {
            var found: [String] = []
            for runId in runIds { found.append(try await drover.getRun(runId).string("status")) }
            return found
        }

        let first = try await workspace.server()
        var runIds: [String] = []
        for index in 0..<3 { runIds.append(try await first.startRun("wait", task: "task \(index)").string("id")) }
        let (a, b, c) = (runIds[0], runIds[1], runIds[2])
        _ = try await workspace.waitForAgents()
        #expect(try await statuses(first, runIds) == ["running", "queued", "queued"])
        for pid in Self.enginePIDs(workspace.path) { kill(pid, SIGKILL) }
        #expect(try await first.waitForExit() == 1)

        // The new engine re-runs a's step; b and c go on waiting.
        let second = try await workspace.server()
        let deadline = ContinuousClock.now + .seconds(20)
        while try await second.getRun(a).step("work")["attempts"] as? Int != 2, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))  // polling interval
        }
        #expect(try await second.getRun(a).step("work")["attempts"] as? Int == 2)
        #expect(try await statuses(second, runIds) == ["running", "queued", "queued"])

        // Cancelled, a frees its slot for b alone.
        _ = try await second.call("run/cancel", ["runId": a])
        _ = try await second.event(b, "step.started")
        #expect(try await statuses(second, runIds) == ["cancelled", "running", "queued"])
        release(b)
        _ = try await second.event(c, "step.started")
        #expect(try await statuses(second, [b, c]) == ["done", "running"])
        release(c)
        _ = try await second.event(c, "run.completed")
        let cStarted = try #require(second.notifiedEvents(c).first { $0.string("type") == "run.started" }?["seq"] as? Int)
        let bCompleted = try #require(second.notifiedEvents(b).first { $0.string("type") == "run.completed" }?["seq"] as? Int)
        #expect(try #require(second.wireIndex(ofEvent: b, seq: bCompleted)) < (try #require(second.wireIndex(ofEvent: c, seq: cStarted))))
        #expect(try await second.shutdownAndExit() == 0)
    }

    @Test("dependsOn: a run waits for its dependency to be done, fails when it is cancelled; unknown ids are refused")
    func dependencies() async throws {
        let workspace = try EngineWorkspace(pipelines: ["dec": Self.decisionPipeline, "quick": Self.quickPipeline])
        let drover = try await workspace.server()
        let first = try await drover.startRun("dec").string("id")
        let requested = try await drover.event(first, "decision.requested")
        let after = try await drover.call("run/start", ["pipelineId": "quick", "task": "after", "dependsOn": [first]])
        let afterRun = after["run"] as? [String: Any] ?? [:]
        #expect(afterRun.string("status") == "queued")
        #expect(afterRun["dependsOn"] as? [String] == [first])
        let afterId = afterRun.string("id")
        let queued = try await drover.event(afterId, "run.queued")
        #expect(queued.data.string("reason") == "dependency")
        _ = try await drover.call("decision/resolve", ["runId": first, "decisionId": requested.data.string("decisionId"), "choice": "sqlite"])
        _ = try await drover.event(afterId, "run.completed")
        let firstDone = try #require(drover.notifiedEvents(first).first { $0.string("type") == "run.completed" }?["seq"] as? Int)
        let afterStarted = try #require(drover.notifiedEvents(afterId).first { $0.string("type") == "run.started" }?["seq"] as? Int)
        #expect(try #require(drover.wireIndex(ofEvent: first, seq: firstDone)) < (try #require(drover.wireIndex(ofEvent: afterId, seq: afterStarted))))

        let doomed = try await drover.startRun("dec").string("id")
        _ = try await drover.event(doomed, "decision.requested")
        let dependent = (try await drover.call("run/start", ["pipelineId": "quick", "task": "never", "dependsOn": [doomed]])["run"] as? [String: Any] ?? [:]).string("id")
        _ = try await drover.call("run/cancel", ["runId": doomed])
        let failed = try await drover.event(dependent, "run.failed")
        #expect(failed.data.object("failure").string("kind") == "dependency")
        #expect(failed.data.object("failure").string("message").contains(doomed))

        let unknown = try await drover.callError("run/start", ["pipelineId": "quick", "task": "t", "dependsOn": ["r-nope"]])
        #expect(unknown.message.contains("r-nope"))
        #expect(try await drover.shutdownAndExit() == 0)
    }
}
