@testable import DroverEngine
import DroverProtocol
import Foundation
import Testing

/// The scheduler's decision (pure) and the engine's queue with many runs behind few slots.
@Suite struct RunSchedulerTests {
    private func scheduler(_ runs: [(String, [String])]) -> RunScheduler {
        var scheduler = RunScheduler()
        for (runId, dependsOn) in runs { scheduler.enqueue(runId, dependsOn: dependsOn) }
        return scheduler
    }

    @Test func freeSlotsGoToTheOldestRunsAndTheRestWaitForCapacityOnce() {
        var scheduler = scheduler((1...5).map { ("r\($0)", []) })
        let first = scheduler.plan(running: 0, maxRuns: 2) { _ in nil }
        #expect(first.map(\.runId) == ["r1", "r2", "r3", "r4", "r5"])
        #expect(first.map(\.verdict) == [.start, .start] + Array(repeating: .wait(.capacity, waitingFor: []), count: 3))

        scheduler.remove("r1")
        scheduler.remove("r2")
        for runId in ["r3", "r4", "r5"] { scheduler.recorded(.capacity, for: runId) }
        // Still no slot: nothing new to do or record.
        #expect(scheduler.plan(running: 2, maxRuns: 2) { _ in nil }.isEmpty)
        // One slot frees: the oldest waiter takes it; the others' reason is recorded already.
        let next = scheduler.plan(running: 1, maxRuns: 2) { _ in nil }
        #expect(next.map(\.runId) == ["r3"] && next.map(\.verdict) == [.start])
    }

    /// A run created queued has its `run.queued` in its creation's commit: enqueued with that reason, it
    /// is not recorded again while the reason holds, and is once it changes.
    @Test func aRunEnqueuedWithItsRecordedReasonIsNotRecordedAgain() {
        var scheduler = scheduler([("r1", [])])
        scheduler.enqueue("r2", dependsOn: [], recorded: .capacity)
        #expect(scheduler.plan(running: 1, maxRuns: 1) { _ in nil }.map(\.runId) == ["r1"])
        scheduler.draining = true
        #expect(scheduler.plan(running: 1, maxRuns: 1) { _ in nil }.map(\.verdict)
                == [.wait(.draining, waitingFor: []), .wait(.draining, waitingFor: [])])
    }

    @Test func aRunWaitingForADependencyDoesNotHoldBackLaterRunsButASlotWaiterDoes() {
        let scheduler = scheduler([("r1", ["r0"]), ("r2", []), ("r3", [])])
        let plan = scheduler.plan(running: 0, maxRuns: 1) { $0 == "r0" ? .running : nil }
        #expect(plan.map(\.verdict) == [.wait(.dependency, waitingFor: ["r0"]), .start, .wait(.capacity, waitingFor: [])])
    }

    @Test func aDependencyThatFailedOrVanishedFailsTheRun() {
        let scheduler = scheduler([("r1", ["gone"]), ("r2", ["bad"]), ("r3", ["ok"])])
        let status: (String) -> RunStatus? = { ["bad": .failed, "ok": .done][$0] }
        #expect(scheduler.plan(running: 0, maxRuns: 4, status: status).map(\.verdict) == [
            .fail(dependency: "gone", status: .cancelled), .fail(dependency: "bad", status: .failed), .start,
        ])
    }

    /// A run about to be created is planned as the last in line, without joining the queue: what the plan
    /// says of it and of the runs before it is what it would say with the run enqueued.
    @Test func anArrivingRunIsPlannedLastWithoutJoiningTheQueue() {
        var scheduler = scheduler([("r1", []), ("r2", ["r0"])])
        scheduler.recorded(.capacity, for: "r1")
        scheduler.recorded(.dependency, for: "r2")
        let arriving = RunScheduler.Waiting(runId: "r3", dependsOn: [])
        let full = scheduler.plan(running: 1, maxRuns: 1, arriving: arriving) { _ in .running }
        #expect(full.map(\.runId) == ["r3"] && full.map(\.verdict) == [.wait(.capacity, waitingFor: [])])
        let free = scheduler.plan(running: 0, maxRuns: 2, arriving: arriving) { _ in .running }
        #expect(free.map(\.runId) == ["r1", "r3"] && free.map(\.verdict) == [.start, .start])
        #expect(scheduler.waitingCount == 2 && !scheduler.isWaiting("r3"))
    }

    @Test func whileDrainingNothingStarts() {
        var scheduler = scheduler([("r1", [])])
        scheduler.draining = true
        #expect(scheduler.plan(running: 0, maxRuns: 4) { _ in nil }.map(\.verdict) == [.wait(.draining, waitingFor: [])])
    }

    /// With a thousand runs queued, one admission reads the status of dependencies only, never of the
    /// waiting runs themselves (the engine used to reload every waiting run on every admission).
    @Test func anAdmissionAsksOnlyAboutDependencies() {
        var runs: [(String, [String])] = (1...1000).map { ("r\($0)", []) }
        runs[500].1 = ["dep"]
        var scheduler = scheduler(runs)
        for (runId, _) in runs { scheduler.recorded(runId == "r501" ? .dependency : .capacity, for: runId) }
        var asked: [String] = []
        let plan = scheduler.plan(running: 3, maxRuns: 4) { asked.append($0); return .running }
        #expect(asked == ["dep"])
        #expect(plan.map(\.runId) == ["r1"] && plan.map(\.verdict) == [.start])
    }

    /// Many runs behind a few slots: they start in the order they were created, never more than
    /// `maxRuns` at once, each records `run.queued` (capacity) once, a run cancelled while it waits
    /// never starts and leaves the queue, and all the others finish.
    @Test func manyRunsStartInOrderWithinTheLimit() async throws {
        let maxRuns = 3
        let h = try await EngineHarness.make(files: [
            "ws/.drover/config.json": #"{"concurrency": {"maxRuns": \#(maxRuns)}}"#,
            "config/pipelines/one.json": #"{"name": "One", "steps": [{"id": "a", "kind": "agent", "prompt": "go", "agent": \#(EngineHarness.fakeAgent)}]}"#,
        ])
        var runIds: [String] = []
        for index in 0..<24 { runIds.append(try await h.start("one", task: "task \(index)").id) }
        let cancelled = runIds[10]
        _ = try await h.engine.cancel(RunCancelRequest(runId: cancelled))
        #expect(await h.engine.activity().queuedRuns == runIds.count - maxRuns - 1)

        var launchedRuns: [String] = []
        var left = runIds.count - 1
        while left > 0 {
            // The runs holding the slots, finished newest first: the order of starts must not follow it.
            var batch: [ScriptedLauncher.Launch] = []
            for _ in 0..<min(maxRuns, left) { batch.append(try await h.launcher.next()) }
            launchedRuns += batch.map { $0.invocation.environment["DROVER_RUN_ID"] ?? "" }
            for launch in batch.reversed() { launch.handle.finish(.completed(output: "ok")) }
            left -= batch.count
        }
        for _ in 0..<(runIds.count - 1) { try await h.recorder.next("run.completed") }

        let expectedOrder = runIds.filter { $0 != cancelled }
        #expect(Set(launchedRuns) == Set(expectedOrder) && launchedRuns.count == expectedOrder.count)
        let events = h.recorder.events
        #expect(events.filter { $0.type == "run.started" }.map(\.runId) == expectedOrder)
        var running: Set<String> = []
        var most = 0
        for event in events {
            if event.type == "run.started" { running.insert(event.runId) }
            if event.type == "run.completed" { running.remove(event.runId) }
            most = max(most, running.count)
        }
        #expect(most == maxRuns)
        for runId in runIds.dropFirst(maxRuns) {
            #expect(events.filter { $0.runId == runId && $0.type == "run.queued" }.count == 1, "run \(runId)")
        }
        #expect(!events.contains { $0.runId == cancelled && $0.type == "run.started" })
        #expect(await h.engine.activity().queuedRuns == 0)
    }
}
