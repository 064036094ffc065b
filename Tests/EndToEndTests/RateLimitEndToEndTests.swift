import Foundation
import Testing

/// Rate limits wait, they don't fail: an agent that gives up on a rate limit leaves its run `queued`
/// (`run.queued {reason: "rate_limit", retryAt}`), and the step re-runs at `retryAt` resuming the
/// agent's session — also after the engine was killed meanwhile; `run/cancel` ends the wait. Driven by
/// the fake agent's `rateLimit` action (the agent line protocol's `rate_limited`); the real CLIs'
/// rate limits are in the claude and codex suites.
@Suite("End to end: rate limits")
struct RateLimitEndToEndTests {
    /// Attempt 1 reports a session and is rate limited (`retryAfter` seconds); attempt 2 answers with
    /// the session it resumed and the prompt it was given.
    private static func pipeline(retryAfter: Double?) -> [String: Any] {
        var limit: [String: Any] = ["message": "429 Too Many Requests"]
        if let retryAfter { limit["retryAfter"] = retryAfter }
        return FakePipeline.pipeline([FakePipeline.step("work", prompt: "Work on {{task}}", turns: [
            [["session": "conv-1"], ["rateLimit": limit]],
            [["result": "resumed=[{{env.DROVER_RESUME_SESSION}}] attempt={{attempt}} prompt=[{{prompt}}]"]],
        ])])
    }

    /// The run's stored events once one of type `last` is among them (`run/events`, the catch-up path),
    /// polled until `timeout`.
    private static func storedEvents(_ drover: DroverProcess, _ runId: String, through last: String,
                                     timeout: Duration = .seconds(60)) async throws -> [[String: Any]] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let events = try await drover.storedEvents(runId)
            if events.contains(where: { $0.string("type") == last }) { return events }
            guard ContinuousClock.now < deadline else {
                throw UnexpectedResponse(description: "no \(last) of \(runId) stored within \(timeout): \(events.map { $0.string("type") })")
            }
            try await Task.sleep(for: .milliseconds(100))  // polling interval, not synchronisation
        }
    }

    private static func seconds(from start: String, to end: String) -> Double {
        let parse = { (text: String) -> Date? in
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return formatter.date(from: text)
        }
        guard let start = parse(start), let end = parse(end) else { return .nan }
        return end.timeIntervalSince(start)
    }

    @Test("a rate-limited attempt leaves the run queued with retryAt, not failed; at retryAt the step re-runs resuming the session")
    func waitsThenResumes() async throws {
        let workspace = try EngineWorkspace(pipelines: ["limited": Self.pipeline(retryAfter: 1)])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("limited", task: "store the runs").string("id")

        let queued = try await drover.event(runId, "run.queued") { $0.data.string("reason") == "rate_limit" }
        #expect(queued.data.string("stepId") == "work")
        #expect(queued.data.string("message") == "429 Too Many Requests")
        let wait = Self.seconds(from: queued.string("at"), to: queued.data.string("retryAt"))
        #expect(wait > 0.5 && wait < 2, "retryAt is the agent's retryAfter from now: \(queued.data)")
        let waiting = try await drover.getRun(runId)
        if waiting.string("status") == "queued" {  // it may have gone on already on a slow machine
            #expect(waiting["queueReason"] as? String == "rate_limit")
            #expect(waiting["retryAt"] as? String == queued.data.string("retryAt"))
            #expect(waiting.step("work").string("state") == "pending", "the step waits to re-run: \(waiting)")
        }

        try await drover.event(runId, "step.started") { $0.data["attempt"] as? Int == 2 }
        let output = try await drover.event(runId, "step.completed").data.string("output")
        #expect(output.contains("resumed=[conv-1]"), "the re-run resumes the agent's session: \(output)")
        #expect(output.contains("rate limited") && output.contains("continue"), "it is told only that it was rate limited: \(output)")
        #expect(!output.contains("Work on store the runs"), "a resumed session is not told the task again: \(output)")
        try await drover.event(runId, "run.completed")

        let types = try await drover.storedEvents(runId).map { $0.string("type") }
        #expect(!types.contains("step.failed") && !types.contains("run.failed"), "a rate limit is no failure: \(types)")
        #expect(types.filter { $0 == "run.started" }.count == 2, "the run starts again through the scheduler: \(types)")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("without a retry hint the engine backs off (config rateLimits.backoffSeconds), doubling per rate limit in a row")
    func backoffWithoutHint() async throws {
        let pipeline = FakePipeline.pipeline([FakePipeline.step("work", prompt: "p", turns: [
            [["rateLimit": ["message": "overloaded"]]],
            [["rateLimit": ["message": "overloaded"]]],
            [["result": "third time lucky"]],
        ])])
        let workspace = try EngineWorkspace(pipelines: ["limited": pipeline],
                                            config: ["rateLimits": ["backoffSeconds": 0.4, "maxBackoffSeconds": 60]])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("limited").string("id")
        try await drover.event(runId, "run.completed")
        let queued = try await drover.storedEvents(runId).filter { $0.string("type") == "run.queued" }
        let waits = queued.map { Self.seconds(from: $0.string("at"), to: $0.data.string("retryAt")) }
        #expect(waits.count == 2, "\(queued)")
        // retryAt is taken just before the event is stamped: on a loaded machine a little of the wait has passed.
        #expect(zip(waits, [0.4, 0.8]).allSatisfy { $0 <= $1 + 0.001 && $0 > $1 - 0.2 }, "\(waits)")
        #expect(try await drover.getRun(runId).step("work")["attempts"] as? Int == 3)
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("kill -9 of the engine while a run waits for its rate limit: the next engine re-arms the wait and runs the step at retryAt")
    func waitSurvivesKillNine() async throws {
        let workspace = try EngineWorkspace(pipelines: ["limited": Self.pipeline(retryAfter: 8)])
        let first = try await workspace.server(daemon: false)
        let runId = try await first.startRun("limited", task: "survive").string("id")
        // Killed by the stdout reader the moment run.queued arrives, well before retryAt: a kill from this
        // task came once after retryAt in a full-suite run (the runner had not resumed it for 8 s), so the
        // first engine had started attempt 2 and the next one re-ran it as attempt 3, as it should.
        first.deliver(SIGKILL) { message in
            let event = message["params"] as? [String: Any] ?? [:]
            return message["method"] as? String == "run/event" && event["runId"] as? String == runId
                && event["type"] as? String == "run.queued" && event.data.string("reason") == "rate_limit"
        }
        let queued = try await first.event(runId, "run.queued") { $0.data.string("reason") == "rate_limit" }
        #expect(try await first.waitForExit() != 0)

        let second = try await workspace.server(daemon: false)
        let waiting = try await second.getRun(runId)
        #expect(["queued", "running", "done"].contains(waiting.string("status")), "\(waiting)")
        // From the store: the next engine may re-run the step before this client has attached.
        let events = try await Self.storedEvents(second, runId, through: "run.completed")
        let restarted = events.filter { $0.string("type") == "run.started" }.last ?? [:]
        #expect(Self.seconds(from: queued.data.string("retryAt"), to: restarted.string("at")) >= -0.01,
                "not before retryAt: \(restarted) vs \(queued.data)")
        #expect(!events.contains { $0.string("type") == "step.interrupted" },
                "the first engine was killed while the run waited, before it re-ran the step: \(events.map { $0.string("type") })")
        let output = events.last { $0.string("type") == "step.completed" }?.data.string("output") ?? ""
        #expect(output.contains("resumed=[conv-1]") && output.contains("attempt=2"),
                "\(output) after \(events.map { "\($0.string("type")) \($0.data.string("stepId")) \($0.data["attempt"] ?? "")" })")
        #expect(try await second.shutdownAndExit() == 0)
    }

    @Test("an engine stopped cleanly while a run waits leaves it queued; the next engine runs it at retryAt")
    func stoppedEngineRunsItLater() async throws {
        // Long enough that the first engine is gone before retryAt even when the whole suite loads the machine.
        let workspace = try EngineWorkspace(pipelines: ["limited": Self.pipeline(retryAfter: 15)])
        let first = try await workspace.server(daemon: false)
        let runId = try await first.startRun("limited").string("id")
        let queued = try await first.event(runId, "run.queued") { $0.data.string("reason") == "rate_limit" }
        // The engine ends with the session: only the store remembers the wait.
        let stopped = try await first.getRun(runId)
        #expect(try await first.shutdownAndExit() == 0)
        #expect(stopped.string("status") == "queued" && stopped["retryAt"] as? String == queued.data.string("retryAt"), "\(stopped)")
        let second = try await workspace.server(daemon: false)
        let events = try await Self.storedEvents(second, runId, through: "run.completed")
        let output = events.last { $0.string("type") == "step.completed" }?.data.string("output") ?? ""
        #expect(output.contains("resumed=[conv-1]"), "\(output)")
        #expect(try await second.shutdownAndExit() == 0)
    }

    @Test("run/cancel while a run waits for its rate limit cancels it at once")
    func cancelWhileWaiting() async throws {
        let workspace = try EngineWorkspace(pipelines: ["limited": Self.pipeline(retryAfter: 60)])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("limited").string("id")
        try await drover.event(runId, "run.queued", timeout: .seconds(60)) { $0.data.string("reason") == "rate_limit" }
        let cancelled = try await drover.call("run/cancel", ["runId": runId, "reason": "not today"]).object("run")
        #expect(cancelled.string("status") == "cancelled", "\(cancelled)")
        #expect(cancelled["retryAt"] == nil && cancelled["queueReason"] == nil, "\(cancelled)")
        let events = try await drover.storedEvents(runId).map { $0.string("type") }
        #expect(events.filter { $0 == "step.started" }.count == 1 && events.last == "run.cancelled", "\(events)")
        #expect(try await drover.shutdownAndExit() == 0)
    }
}
