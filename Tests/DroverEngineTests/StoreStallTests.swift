import DroverEngine
import DroverProtocol
import DroverStore
import Foundation
import Testing

/// A store that cannot take writes for a while (its disk full): the engine keeps what an attempt
/// ended with, answers requests with a clear error, and goes on once writes work again.
@Suite struct StoreStallTests {
    static let diskFull = StoreError(.full, "the disk holding the store /ws/.drover/drover.db is full; nothing was written: free some space")

    @Test("an outcome and usage the full disk refused are recorded once it takes writes again; the step is not re-run")
    func outcomeIsKeptUntilTheStoreTakesWrites() async throws {
        let h = try await EngineHarness.make()
        let run = try await h.start("flow", task: "full disk", inputs: ["lang": "swift"])
        let launch = try await h.nextLaunch("a", attempt: 1)
        h.recordingStore.refuseAppends(Self.diskFull)
        launch.handle.emit(.usage(AgentUsage(model: "m", inputTokens: 7, outputTokens: 3, reportedCostUSD: nil)))
        launch.handle.finish(.completed(output: "A"))
        // The usage, then the usage again with the outcome: both refused.
        try await h.recordingStore.waitForRefusals(2)

        let activity = await h.engine.activity()
        #expect(activity.runsWaitingForStore == 1)
        #expect(activity.storeError?.contains("is full") == true, "\(activity.storeError ?? "no store error")")
        #expect(!activity.isQuiet, "an engine that owes the store an outcome is not idle")
        let refused = await h.expectError { try await h.start("flow", task: "while full", inputs: ["lang": "swift"]) }
        #expect(refused?.kind == .storeUnavailable)
        #expect(refused?.message.contains("is full") == true, "\(refused?.message ?? "no error")")
        #expect(try await h.engine.getRun(run.id).status == .running)

        h.recordingStore.refuseAppends(nil)
        try await h.nextLaunch("b", attempt: 1).handle.finish(.completed(output: "B"))
        try await h.next("run.completed", of: run.id)

        let done = try await h.engine.getRun(run.id)
        #expect(done.steps[0].attempts == 1 && done.steps[0].output == "A", "the kept outcome was recorded, not re-run")
        #expect(done.usage.inputTokens == 7 && done.usage.outputTokens == 3, "the refused usage was kept")
        let stored = try await h.engine.events(RunEventsRequest(runId: run.id, limit: 1000)).events
        #expect(stored.map(\.seq) == Array(1...stored.count))
        #expect(stored.filter { $0.type == "step.completed" }.count == 2)
        await h.engine.waitUntilIdle()
        #expect(await h.engine.activity().runsWaitingForStore == 0)
    }

    @Test("a run whose next step could not be started on a full disk starts it once the store takes writes")
    func advanceIsRetried() async throws {
        let h = try await EngineHarness.make()
        let run = try await h.start("flow", task: "full between steps", inputs: ["lang": "swift"])
        // Listeners run inside the commit, so the disk is full before `advance` tries to start step b.
        let store = h.recordingStore
        _ = await h.engine.addListener { output in
            if case .event(let event) = output, case .stepCompleted(let done) = event.body, done.stepId == "a" {
                store.refuseAppends(Self.diskFull)
            }
        }
        try await h.nextLaunch("a", attempt: 1).handle.finish(.completed(output: "A"))
        try await h.recordingStore.waitForRefusals(1)
        #expect(await h.engine.activity().runsWaitingForStore == 1)
        h.recordingStore.refuseAppends(nil)
        try await h.nextLaunch("b", attempt: 1).handle.finish(.completed(output: "B"))
        try await h.next("run.completed", of: run.id)
        let stored = try await h.engine.events(RunEventsRequest(runId: run.id, limit: 1000)).events
        #expect(stored.map(\.seq) == Array(1...stored.count))
    }

    @Test("a queued run whose start (run.started with step.started) the full disk refused is still queued, and starts once the store takes writes")
    func refusedStartOfAQueuedRunIsRetried() async throws {
        let h = try await EngineHarness.make(files: ["config/config.json": #"{"concurrency": {"maxRuns": 1}}"#])
        let first = try await h.start("flow", task: "first", inputs: ["lang": "swift"])
        let second = try await h.start("flow", task: "second", inputs: ["lang": "swift"])
        #expect(second.status == .queued)
        // Listeners run inside the commit: the disk is full before the freed slot goes to the second run.
        let store = h.recordingStore
        _ = await h.engine.addListener { output in
            if case .event(let event) = output, event.runId == first.id, event.type == "run.completed" {
                store.refuseAppends(Self.diskFull)
            }
        }
        try await h.nextLaunch("a", attempt: 1).handle.finish(.completed(output: "A"))
        try await h.nextLaunch("b", attempt: 1).handle.finish(.completed(output: "B"))
        try await h.recordingStore.waitForRefusals(1)
        #expect(try await h.engine.getRun(second.id).status == .queued, "the refused run.started is not taken as stored")
        #expect(h.recorder.events.filter { $0.runId == second.id }.map(\.type) == ["run.created", "run.workspace", "run.queued"])

        h.recordingStore.refuseAppends(nil)
        let launch = try await h.nextLaunch("a", attempt: 1)
        #expect(launch.invocation.environment["DROVER_RUN_ID"] == second.id)
        #expect(h.recordingStore.commits(of: second.id).last == .init(types: ["run.started", "step.started"], status: .running))
        launch.handle.finish(.completed(output: "A"))
        try await h.nextLaunch("b", attempt: 1).handle.finish(.completed(output: "B"))
        try await h.next("run.completed", of: second.id)
        let stored = try await h.engine.events(RunEventsRequest(runId: second.id, limit: 1000)).events
        #expect(stored.map(\.seq) == Array(1...stored.count))
        #expect(h.recorder.events.filter { $0.runId == second.id }.map(\.seq) == stored.map(\.seq), "each event published once")
    }
}
