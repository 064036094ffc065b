@testable import DroverEngine
import DroverProtocol
import DroverStore
import Foundation
import Testing

/// `inbox/list` over blocked runs this engine does not own (loaded from the store, never claimed).
@Suite struct EngineInboxTests {
    /// Each call used to fold every blocked run's whole event log again, so a store of long runs made
    /// the inbox slow (92 ms p50 in a debug build on the reliability suite's 1,000,000 events). The
    /// history is kept while the run's `lastSeq` is unchanged, and read again once another writer moved it.
    @Test func historiesOfRunsOwnedElsewhereAreReadAgainOnlyWhenTheRunChanged() async throws {
        let first = try await EngineHarness.make()
        let run = try await first.start("gated")
        try await first.nextLaunch("a", attempt: 1).handle.finish(.completed(output: "p1"))
        let requested = try await first.next("approval.requested", of: run.id)

        let second = try await EngineHarness.make(store: first.store, dir: first.dir)
        let before = try await second.engine.inbox().items
        #expect(before.map(\.id) == ["a-a-1"] && before.map(\.since) == [requested.at])
        let reads = second.recordingStore.eventReads(of: run.id)
        #expect(reads > 0)
        for _ in 0..<3 { #expect(try await second.engine.inbox().items == before) }
        #expect(second.recordingStore.eventReads(of: run.id) == reads, "the unchanged run's events were read again")

        // The other engine sends the proposal back: a new approval of the same blocked run.
        _ = try await first.engine.requestChanges(StepRequestChangesRequest(runId: run.id, approvalId: "a-a-1", feedback: "shorter"))
        try await first.nextLaunch("a", attempt: 2).handle.finish(.completed(output: "p2"))
        let latest = try await first.next("approval.requested", of: run.id)
        guard case .approvalRequested(let approval) = latest.body else { Issue.record("not an approval: \(latest)"); return }
        let after = try await second.engine.inbox().items
        #expect(after.map(\.id) == [approval.approvalId] && after.map(\.since) == [latest.at])
        #expect(second.recordingStore.eventReads(of: run.id) > reads)
    }
}
