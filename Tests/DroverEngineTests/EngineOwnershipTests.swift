import DroverEngine
import DroverProtocol
import DroverStore
import Foundation
import Testing

/// Run ownership as the engine lives it: commits only to owned runs, caches dropped when another
/// writer got there first, and a run's start stored with its creation or its first step.
@Suite struct EngineOwnershipTests {
    @Test("a run that starts at once is created started in one commit, its first step in the next; clients see the same")
    func runStartStoresCreatedAndStartedAsOneCommitAndClientsSeeTheSame() async throws {
        let h = try await EngineHarness.make()
        let run = try await h.start("flow", inputs: ["lang": "c"])
        #expect(run.status == .running && run.lastSeq == 3 && run.steps[0].state == .pending, "the first step starts after the response")
        try await h.next("step.started", of: run.id)
        #expect(Array(h.recordingStore.commits(of: run.id).prefix(2)) == [
            .init(types: ["run.created", "run.workspace", "run.started"], status: .running),
            .init(types: ["step.started"], status: .running),
        ])
        #expect(h.recorder.events.filter { $0.runId == run.id }.prefix(3).map(\.type) == ["run.created", "run.workspace", "run.started"])
        try await h.nextLaunch("a", attempt: 1).handle.finish(.completed(output: "a"))
        try await h.nextLaunch("b", attempt: 1).handle.finish(.completed(output: "b"))
        try await h.next("run.completed", of: run.id)
    }

    @Test("the last step's step.completed and run.completed are one commit; an earlier step's completion is its own")
    func theLastStepsCompletionEndsTheRunInTheSameCommit() async throws {
        let h = try await EngineHarness.make()
        let run = try await h.start("flow", inputs: ["lang": "c"])
        try await h.nextLaunch("a", attempt: 1).handle.finish(.completed(output: "a"))
        try await h.nextLaunch("b", attempt: 1).handle.finish(.completed(output: "b"))
        try await h.next("run.completed", of: run.id)
        let completions = h.recordingStore.commits(of: run.id).filter { $0.types.contains("step.completed") }
        #expect(completions == [
            .init(types: ["step.completed"], status: .running),
            .init(types: ["step.completed", "run.completed"], status: .done),
        ])
        #expect(h.recorder.events.filter { $0.runId == run.id }.suffix(2).map(\.type) == ["step.completed", "run.completed"])
        #expect(h.store.allEvents(run.id).map(\.seq) == Array(1...h.store.allEvents(run.id).count))
    }

    @Test("a run that must wait for a slot is created waiting in one commit; once the slot is free, it starts with its first step in one commit")
    func aRunThatMustWaitIsCreatedWaitingInOneCommit() async throws {
        let h = try await EngineHarness.make(files: ["config/config.json": #"{"concurrency": {"maxRuns": 1}}"#])
        let first = try await h.start("flow", inputs: ["lang": "c"])
        let second = try await h.start("flow", inputs: ["lang": "c"])
        #expect(first.status == .running && second.status == .queued && second.queueReason == .capacity)
        #expect(h.recordingStore.commits(of: second.id) == [.init(types: ["run.created", "run.workspace", "run.queued"], status: .queued)])
        try await h.nextLaunch("a", attempt: 1).handle.finish(.completed(output: "a"))
        try await h.nextLaunch("b", attempt: 1).handle.finish(.completed(output: "b"))
        try await h.next("run.completed", of: first.id)
        try await h.next("step.started", of: second.id)
        #expect(h.recordingStore.commits(of: second.id).prefix(2) == [
            .init(types: ["run.created", "run.workspace", "run.queued"], status: .queued),
            .init(types: ["run.started", "step.started"], status: .running),
        ])
        #expect(h.recorder.events.filter { $0.runId == second.id }.map(\.seq) == [1, 2, 3, 4, 5], "each event published once, in seq order")
        #expect(h.store.allEvents(second.id).filter { $0.type == "run.queued" }.count == 1, "recorded once")
        try await h.nextLaunch("a", attempt: 1).handle.finish(.completed(output: "a"))
        try await h.nextLaunch("b", attempt: 1).handle.finish(.completed(output: "b"))
        try await h.next("run.completed", of: second.id)
    }

    @Test func aRunStoredAsQueuedIsStartedByTheNextEngine() async throws {
        // What a scheduler holding the run (or an engine that died between run/start's commits, as
        // builds did that stored run.started on its own) leaves: run.created only.
        let first = try await EngineHarness.make()
        let steps = [StepInfo(id: "a", kind: .agent, role: "writer"), StepInfo(id: "b", kind: .agent, role: "reviewer")]
        let created = Event(
            runId: "r-queued", seq: 1, at: "2026-01-01T00:00:00.000Z",
            body: .runCreated(.init(pipelineId: "flow", task: "T", inputs: ["lang": "c"], steps: steps)))
        try first.store.append([created], snapshot: try #require(try RunReducer.apply(created, to: nil)))
        #expect(try first.store.run(id: "r-queued")?.status == .queued)

        let second = try await EngineHarness.make(store: first.store, dir: first.dir)
        await second.engine.resumeInterruptedRuns()
        try await second.nextLaunch("a", attempt: 1).handle.finish(.completed(output: "a"))
        try await second.nextLaunch("b", attempt: 1).handle.finish(.completed(output: "b"))
        try await second.next("run.completed", of: "r-queued")
        #expect(second.store.allEvents("r-queued").prefix(2).map(\.type) == ["run.created", "run.started"])
    }

    @Test func aCommitOverAnotherWritersSeqsIsAConflictAndTheRunIsReloaded() async throws {
        let stale = try await EngineHarness.make()
        let run = try await stale.start("gated")
        try await stale.nextLaunch("a", attempt: 1).handle.finish(.completed(output: "p"))
        try await stale.next("approval.requested", of: run.id)

        // Another writer appends to the run behind the first engine's back.
        let other = try await EngineHarness.make(store: stale.store, dir: stale.dir)
        let cancelled = try await other.engine.cancel(RunCancelRequest(runId: run.id, reason: "by the other writer"))
        #expect(cancelled.status == .cancelled)

        let refused = await stale.expectError { try await stale.engine.approve(StepApproveRequest(runId: run.id, approvalId: "a-a-1")) }
        #expect(refused?.code == .conflict)
        #expect(refused?.message.contains("changed by another writer") == true)
        #expect(stale.store.allEvents(run.id).map(\.seq) == Array(1...cancelled.lastSeq), "nothing of the refused commit stored")

        // The cached snapshot is gone: the engine answers from the store, and acts on what it says.
        #expect(try await stale.engine.getRun(run.id) == cancelled)
        let late = await stale.expectError { try await stale.engine.approve(StepApproveRequest(runId: run.id, approvalId: "a-a-1")) }
        #expect(late?.code == .conflict && late?.message.contains("cancelled") == true)
    }

    @Test func anEngineThatLosesOwnershipCommitsNothing() async throws {
        let dir = try TempDir()
        let layout = StoreLayout(workspace: dir.url.appendingPathComponent("ws"))
        try FileManager.default.createDirectory(at: layout.workspace, withIntermediateDirectories: true)
        try layout.prepare()
        let ownership = try WorkspaceLockOwnership(layout: layout)
        let h = try await EngineHarness.make(dir: dir, ownership: ownership)
        let run = try await h.start("gated")
        try await h.nextLaunch("a", attempt: 1).handle.finish(.completed(output: "p"))
        try await h.next("approval.requested", of: run.id)
        #expect(ownership.holds(runId: run.id))
        let before = h.store.allEvents(run.id)

        ownership.releaseLock()
        let refused = await h.expectError { try await h.engine.approve(StepApproveRequest(runId: run.id, approvalId: "a-a-1")) }
        #expect(refused?.code == .conflict)
        #expect(refused?.message.contains("no longer owns run \(run.id)") == true)
        #expect(h.store.allEvents(run.id) == before, "nothing stored without ownership")
        // The workspace is free for the next engine.
        #expect(try WorkspaceLockOwnership(layout: layout).lock.isHeld)
    }

    @Test func aRunIsReleasedWhenItEndsAndClaimedAgainOnRetry() async throws {
        let ownership = ProcessLocalOwnership()
        let h = try await EngineHarness.make(ownership: ownership)
        let run = try await h.start("gated")
        #expect(ownership.holds(runId: run.id))
        try await h.nextLaunch("a", attempt: 1).handle.finish(.completed(output: "p"))
        try await h.next("approval.requested", of: run.id)
        _ = try await h.engine.reject(StepRejectRequest(runId: run.id, approvalId: "a-a-1", reason: "no"))
        #expect(!ownership.holds(runId: run.id))

        _ = try await h.engine.retry(RunRetryRequest(runId: run.id))
        #expect(ownership.holds(runId: run.id))
        try await h.nextLaunch("a", attempt: 2).handle.finish(.completed(output: "p2"))
        try await h.next("approval.requested", of: run.id)
    }
}
