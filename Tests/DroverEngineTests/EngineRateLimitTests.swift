import DroverEngine
import DroverProtocol
import Foundation
import Testing

/// The engine's side of rate limits, with scripted outcomes: the wait is held while the run is queued,
/// ends with `run/cancel`, is re-armed by an engine that finds the run in the store, and the re-run
/// resumes the agent's session with a prompt that says only "continue".
@Suite("Engine: rate limits")
struct EngineRateLimitTests {
    @Test("a rate-limited attempt queues the run and holds a wait; at retryAt the step re-runs resuming the session")
    func waitsThenResumes() async throws {
        let h = try await EngineHarness.make()
        let run = try await h.start("flow", inputs: ["lang": "c"])
        let first = try await h.nextLaunch("a", attempt: 1)
        first.handle.emit(.session(id: "conv-1"))
        first.handle.finish(.rateLimited(retryAt: Date().addingTimeInterval(0.3), message: "429 slow down"))
        let queued = try await h.next("run.queued", of: run.id)
        guard case .runQueued(let data) = queued.body else { Issue.record("\(queued)"); return }
        #expect(data.reason == .rateLimit && data.stepId == "a" && data.message == "429 slow down" && data.retryAt != nil)
        let waiting = try await h.engine.getRun(run.id)
        #expect(waiting.status == .queued && waiting.step("a")?.state == .pending && waiting.failure == nil)

        let second = try await h.nextLaunch("a", attempt: 2)
        #expect(second.invocation.environment["DROVER_RESUME_SESSION"] == "conv-1")
        #expect(second.invocation.prompt == "Continue the same task. Since your last turn:\n"
                + "You were rate limited by the model API (429 slow down); the limit has passed: continue where you left off.")
        second.handle.finish(.completed(output: "a"))
        try await h.nextLaunch("b", attempt: 1).handle.finish(.completed(output: "b"))
        try await h.next("run.completed", of: run.id)
        #expect(await h.engine.activity().queuedRuns == 0)
    }

    @Test("run/cancel ends the wait: the run is cancelled, nothing waits, nothing re-runs")
    func cancelEndsTheWait() async throws {
        let h = try await EngineHarness.make()
        let run = try await h.start("flow", inputs: ["lang": "c"])
        try await h.nextLaunch("a", attempt: 1).handle.finish(.rateLimited(retryAt: Date().addingTimeInterval(3600), message: "usage limit"))
        try await h.next("run.queued", of: run.id)
        #expect(await h.engine.activity().queuedRuns == 1, "the engine stays up for the wait")
        let cancelled = try await h.engine.cancel(RunCancelRequest(runId: run.id))
        #expect(cancelled.status == .cancelled && cancelled.retryAt == nil && cancelled.queueReason == nil)
        #expect(await h.engine.activity().queuedRuns == 0, "the wait is gone with the run")
        await h.engine.waitUntilIdle()
        #expect(h.launcher.all.count == 1)
    }

    @Test("an engine that finds a rate-limited run in the store waits for its retryAt instead of starting it")
    func newEngineReArmsTheWait() async throws {
        let first = try await EngineHarness.make()
        let run = try await first.start("flow", inputs: ["lang": "c"])
        try await first.nextLaunch("a", attempt: 1).handle.finish(.rateLimited(retryAt: Date().addingTimeInterval(3600), message: "later"))
        try await first.next("run.queued", of: run.id)
        await first.engine.shutdown()

        let second = try await EngineHarness.make(store: first.store, dir: first.dir)
        await second.engine.resumeInterruptedRuns()
        _ = try await second.engine.resumeInterruptedRun(run.id)
        await second.engine.waitUntilIdle()
        #expect(await second.engine.activity().queuedRuns == 1, "re-armed from the store")
        #expect(second.launcher.all.isEmpty, "nothing starts before retryAt")
        #expect(try await second.engine.getRun(run.id).status == .queued)
        _ = try await second.engine.cancel(RunCancelRequest(runId: run.id))
    }

    @Test("a rate limit without a hint waits the configured backoff, doubling per rate limit in a row")
    func backoff() async throws {
        let h = try await EngineHarness.make(files: ["config/config.json": #"{"rateLimits": {"backoffSeconds": 0.2, "maxBackoffSeconds": 0.3}}"#])
        let run = try await h.start("flow", inputs: ["lang": "c"])
        var waits: [Double] = []
        for attempt in 1...3 {
            try await h.nextLaunch("a", attempt: attempt).handle.finish(.rateLimited(retryAt: nil, message: ""))
            let queued = try await h.next("run.queued", of: run.id)
            guard case .runQueued(let data) = queued.body, let retryAt = Timestamp.date(data.retryAt),
                  let at = Timestamp.date(queued.at) else { Issue.record("\(queued)"); return }
            #expect(data.message == nil)
            waits.append(retryAt.timeIntervalSince(at))
        }
        // retryAt is taken just before the event is stamped: on a loaded machine a little of the wait has passed.
        #expect(zip(waits, [0.2, 0.3, 0.3]).allSatisfy { $0 <= $1 + 0.001 && $0 > $1 - 0.1 }, "\(waits)")
        try await h.nextLaunch("a", attempt: 4).handle.finish(.completed(output: "a"))
        try await h.nextLaunch("b", attempt: 1).handle.finish(.completed(output: "b"))
        try await h.next("run.completed", of: run.id)
    }
}
