import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Agent processes over the wire: cancel, timeout and restart kill the whole process group (checked
/// by scanning /proc for the run's processes), agent failures, `step/log` and `run/log`.
@Suite("End to end: engine processes")
struct EngineProcessEndToEndTests {
    /// A `command` agent for role `worker` that leaves two grandchildren sleeping in its group.
    private static var grandchildConfig: [String: Any] { config(script: "sleep 300 & sleep 300 & wait") }

    /// A `command` agent for role `worker` running `script` with `/bin/sh -c`.
    private static func config(script: String) -> [String: Any] {
        ["agents": ["worker": ["driver": "command", "command": "/bin/sh", "args": ["-c", script]]]]
    }

    private static func hangingPipeline(timeoutSeconds: Double? = nil) -> [String: Any] {
        FakePipeline.pipeline([
            FakePipeline.step("work", prompt: "Work on {{task}}",
                              turns: [[["say": "hello from the agent"], ["hang": true]], [["result": "second {{attempt}}"]]],
                              timeoutSeconds: timeoutSeconds),
            FakePipeline.step("after", prompt: "After", turns: [[["result": "after"]]]),
        ])
    }

    private static func workerPipeline(timeoutSeconds: Double? = nil) -> [String: Any] {
        var step: [String: Any] = ["id": "work", "kind": "agent", "role": "worker", "prompt": "Work on {{task}}"]
        if let timeoutSeconds { step["timeoutSeconds"] = timeoutSeconds }
        return FakePipeline.pipeline([step])
    }

    @Test("run/cancel while a fake agent hangs: the run is cancelled and no process of it is left")
    func cancelHangingFakeAgent() async throws {
        let workspace = try EngineWorkspace(pipelines: ["hang": Self.hangingPipeline()])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("hang").string("id")
        try await drover.logLine(runId, "hello from the agent")
        let agents = try await workspace.waitForAgents()
        #expect(agents.count == 1)
        let agent = try #require(agents.first)
        #expect(processGroup(agent) == agent, "the agent leads its own process group")
        let environ = String(decoding: FileManager.default.contents(atPath: "/proc/\(agent)/environ") ?? Data(), as: UTF8.self)
        #expect(environ.contains("DROVER_RUN_ID=\(runId)\0"))
        #expect(environ.contains("DROVER_STEP_ID=work\0"))
        #expect(environ.contains("DROVER_ATTEMPT=1\0"))
        let cmdline = String(decoding: FileManager.default.contents(atPath: "/proc/\(agent)/cmdline") ?? Data(), as: UTF8.self)
        #expect(cmdline.contains("agent-fake"), "the fake agent is the drover binary: \(cmdline.debugDescription)")

        // A live attempt's log is not at its end yet.
        let live = try await drover.call("step/log", ["runId": runId, "stepId": "work"])
        #expect(live.string("text").contains("hello from the agent"))
        #expect(live["eof"] as? Bool == false)

        let cancelled = try await drover.call(tag: "cancel", "run/cancel", ["runId": runId, "reason": "changed my mind"])
        let run = cancelled["run"] as? [String: Any] ?? [:]
        #expect(run.string("status") == "cancelled")
        #expect(run.object("failure").string("kind") == "cancelled")
        #expect(!run.object("failure").string("hint").isEmpty)
        #expect(run.step("work").string("state") == "failed")
        #expect(run.step("after").string("state") == "pending")
        let event = try await drover.event(runId, "run.cancelled")
        #expect(event.data.string("reason") == "changed my mind")
        #expect(try #require(drover.wireIndex(ofResponse: "cancel"))
                < (try #require(drover.wireIndex(ofEvent: runId, seq: event["seq"] as? Int ?? -1))))
        let left = await workspace.waitForNoAgents()
        #expect(left.isEmpty, "processes of the run left after run/cancel: \(left)")
        #expect(kill(agent, 0) != 0 || processState(agent) == "Z", "the agent is gone")

        // Idempotent on a terminal run; the finished attempt's log is at eof.
        let again = try await drover.call("run/cancel", ["runId": runId])
        #expect((again["run"] as? [String: Any])?["lastSeq"] as? Int == run["lastSeq"] as? Int)
        let log = try await drover.call("step/log", ["runId": runId, "stepId": "work"])
        #expect(log["eof"] as? Bool == true)

        // run/retry of the cancelled run re-runs the step (turn 2 is instant) and completes.
        try await drover.call("run/retry", ["runId": runId])
        let done = try await drover.event(runId, "step.completed") { $0.data.string("stepId") == "work" }
        #expect(done.data.string("output") == "second 2")
        try await drover.event(runId, "run.completed")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("run/cancel of a command agent with grandchildren kills its whole process group (SIGKILL if SIGTERM is ignored)",
          arguments: ["sleep 300 & sleep 300 & wait", "trap '' TERM; sleep 300 & sleep 300 & wait"])
    func cancelCommandAgentWithGrandchildren(script: String) async throws {
        let workspace = try EngineWorkspace(pipelines: ["work": Self.workerPipeline()], config: Self.config(script: script))
        let drover = try await workspace.server()
        let runId = try await drover.startRun("work").string("id")
        let processes = try await workspace.waitForAgents(count: 3)  // sh and its two sleeps
        let groups = Set(processes.compactMap(processGroup))
        #expect(groups.count == 1, "one process group: \(processes) in \(groups)")
        let cancelled = try await drover.call("run/cancel", ["runId": runId])
        #expect((cancelled["run"] as? [String: Any])?.string("status") == "cancelled")
        let left = await workspace.waitForNoAgents()
        #expect(left.isEmpty, "processes of the run left after run/cancel: \(left)")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("timeoutSeconds on a hanging step: the run fails with kind timeout and no process is left",
          arguments: ["fake", "command"])
    func timeout(driver: String) async throws {
        // Long enough for the test to see the agents before the timeout kills them on a loaded machine.
        let workspace = driver == "fake"
            ? try EngineWorkspace(pipelines: ["slow": Self.hangingPipeline(timeoutSeconds: 3.5)])
            : try EngineWorkspace(pipelines: ["slow": Self.workerPipeline(timeoutSeconds: 3.5)], config: Self.grandchildConfig)
        let drover = try await workspace.server()
        // Watched for from before run/start: its answer (through the serve proxy and the engine, two
        // hops) may come after the agent started and, on a loaded machine, after most of its timeout.
        let agents = workspace.watchForAgents(count: driver == "fake" ? 1 : 3)
        let runId = try await drover.startRun("slow").string("id")
        _ = try await agents.found()
        let stepFailed = try await drover.event(runId, "step.failed")
        let failure = stepFailed.data.object("failure")
        #expect(failure.string("kind") == "timeout")
        #expect(failure.string("stepId") == "work")
        #expect(failure.string("message").contains("3.5s"), "\(failure)")
        #expect(failure.string("hint").contains("timeoutSeconds"), "\(failure)")
        let runFailed = try await drover.event(runId, "run.failed")
        #expect(runFailed.data.object("failure").string("kind") == "timeout")
        let run = try await drover.getRun(runId)
        #expect(run.string("status") == "failed")
        #expect(run.object("failure").string("kind") == "timeout")
        let left = await workspace.waitForNoAgents()
        #expect(left.isEmpty, "processes of the run left after the timeout: \(left)")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("run/restart of a run whose step hangs stops the agent and re-runs the step")
    func restartLiveRun() async throws {
        let workspace = try EngineWorkspace(pipelines: ["hang": Self.hangingPipeline()])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("hang").string("id")
        let first = try #require(try await workspace.waitForAgents().first)
        let restarted = try await drover.call("run/restart", ["runId": runId, "fromStep": "work"])
        #expect((restarted["run"] as? [String: Any])?.string("status") == "running")
        let interrupted = try await drover.event(runId, "step.interrupted")
        #expect(interrupted.data["attempt"] as? Int == 1)
        try await drover.event(runId, "run.restarted")
        let done = try await drover.event(runId, "step.completed") { $0.data.string("stepId") == "work" }
        #expect(done.data.string("output") == "second 2")
        try await drover.event(runId, "run.completed")
        #expect(kill(first, 0) != 0 || processState(first) == "Z", "the first attempt's agent is gone")
        #expect(await workspace.waitForNoAgents().isEmpty)
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("an agent failure: kind agent, its stderr as message, a hint; the first failure stays; a retry tells the agent")
    func agentFailure() async throws {
        let pipeline = FakePipeline.pipeline([
            FakePipeline.step("work", prompt: "Work on {{task}}",
                              turns: [[["say": "trying"], ["fail": "boom: the widget exploded"]], [["result": "R {{prompt}}"]]]),
            FakePipeline.step("after", prompt: "After", turns: [[["result": "after"]]]),
        ])
        let workspace = try EngineWorkspace(pipelines: ["fail": pipeline])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("fail", task: "widgets").string("id")
        let stepFailed = try await drover.event(runId, "step.failed")
        let failure = stepFailed.data.object("failure")
        #expect(stepFailed.data.string("stepId") == "work")
        #expect(stepFailed.data["attempt"] as? Int == 1)
        #expect(failure.string("kind") == "agent")
        #expect(failure.string("message").contains("boom: the widget exploded"), "\(failure)")
        #expect(!failure.string("hint").isEmpty)
        let runFailed = try await drover.event(runId, "run.failed")
        #expect(runFailed.data.object("failure").string("kind") == "agent")
        let stderrLog = try await drover.waitFor { message in
            guard message["method"] as? String == "run/log", let log = message["params"] as? [String: Any] else { return false }
            return log.string("runId") == runId && log.string("stream") == "stderr"
        }
        #expect((stderrLog["params"] as? [String: Any])?.string("text").contains("boom") == true)
        let run = try await drover.getRun(runId)
        #expect(run.string("status") == "failed")
        #expect(run.step("work").string("state") == "failed")
        #expect(run.step("after").string("state") == "pending")
        #expect(run.object("failure").string("kind") == "agent")
        #expect(run.object("failure").string("message") == failure.string("message"))
        // A later cancel changes nothing: the first failure recorded wins.
        let cancelled = try await drover.call("run/cancel", ["runId": runId])
        #expect((cancelled["run"] as? [String: Any])?.object("failure").string("kind") == "agent")
        #expect((cancelled["run"] as? [String: Any])?.string("status") == "failed")
        // The failed attempt's log holds its stderr.
        let log = try await drover.call("step/log", ["runId": runId, "stepId": "work", "attempt": 1])
        #expect(log.string("text").contains("boom: the widget exploded"))

        try await drover.call("run/retry", ["runId": runId])
        let done = try await drover.event(runId, "step.completed") { $0.data.string("stepId") == "work" }
        let output = done.data.string("output")
        #expect(output.hasPrefix("R Work on widgets"))
        #expect(output.contains("boom: the widget exploded"), "the earlier failure reaches the retry's prompt: \(output)")
        try await drover.event(runId, "run.completed")
        #expect(try await drover.getRun(runId)["failure"] == nil)
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("step/log returns the agent's output, paged by offset and limit, with eof at the end")
    func stepLog() async throws {
        let pipeline = FakePipeline.pipeline([
            FakePipeline.step("talk", prompt: "Talk", turns: [[["say": "first line ünïcødé 🐑"], ["spam": 200], ["result": "done"]]]),
            FakePipeline.step("never", prompt: "Never", turns: [[["fail": "stop here"]]]),
            FakePipeline.step("unreached", prompt: "Unreached", turns: [[["result": "x"]]]),
        ])
        let workspace = try EngineWorkspace(pipelines: ["talk": pipeline])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("talk").string("id")
        try await drover.event(runId, "run.failed")

        let whole = try await drover.call("step/log", ["runId": runId, "stepId": "talk", "limit": 1_000_000])
        let text = whole.string("text")
        #expect(whole["eof"] as? Bool == true)
        #expect(text.contains("first line ünïcødé 🐑"))
        #expect(text.contains("spam 200/200"))
        #expect(whole["nextOffset"] as? Int == text.utf8.count)

        // Paging in small slices gives the same text, never cutting a character, eof on the last page only.
        var paged = ""
        var offset = 0
        var pages = 0
        while true {
            // Tiny slices over the multi-byte characters at the start, then bigger ones.
            let limit = offset < 120 ? 3 : 500
            let page = try await drover.call("step/log", ["runId": runId, "stepId": "talk", "attempt": 1, "offset": offset, "limit": limit])
            let next = try #require(page["nextOffset"] as? Int)
            paged += page.string("text")
            pages += 1
            if page["eof"] as? Bool == true { break }
            #expect(next > offset, "progress at offset \(offset)")
            offset = next
            if pages > 10_000 { Issue.record("no eof after \(pages) pages"); break }
        }
        #expect(paged == text)
        #expect(pages > 40)
        let past = try await drover.call("step/log", ["runId": runId, "stepId": "talk", "offset": text.utf8.count + 10])
        #expect(past.string("text").isEmpty && past["eof"] as? Bool == true)
        // A step that never ran has an empty log.
        let unreached = try await drover.call("step/log", ["runId": runId, "stepId": "unreached"])
        #expect(unreached.string("text").isEmpty && unreached["eof"] as? Bool == true)
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("run/log carries the agent's say lines live, and nothing when initialize turned logs off", arguments: [true, false])
    func runLog(logs: Bool) async throws {
        let pipeline = FakePipeline.pipeline([
            FakePipeline.step("talk", prompt: "Talk", turns: [[["say": "alpha"], ["say": "beta"], ["result": "done"]]]),
            FakePipeline.step("more", prompt: "More", turns: [[["say": "gamma"], ["result": "done"]]]),
        ])
        let workspace = try EngineWorkspace(pipelines: ["talk": pipeline])
        let drover = try await workspace.server(logs: logs)
        let runId = try await drover.startRun("talk").string("id")
        try await drover.event(runId, "run.completed")
        let lines = drover.notifiedLogs(runId)
        if logs {
            #expect(lines.map { $0.string("text") } == ["alpha", "beta", "gamma"])
            #expect(lines.map { $0.string("stepId") } == ["talk", "talk", "more"])
            #expect(lines.allSatisfy { $0.string("stream") == "agent" && $0["attempt"] as? Int == 1 && $0["seq"] == nil })
        } else {
            #expect(lines.isEmpty, "run/log sent although logs were turned off: \(lines)")
            #expect(drover.notifications.allSatisfy { $0["method"] as? String != "run/log" })
            // The output is still in the step's log.
            #expect(try await drover.call("step/log", ["runId": runId, "stepId": "talk"]).string("text").contains("beta"))
        }
        #expect(try await drover.shutdownAndExit() == 0)
    }
}
