@testable import DroverEngine
import DroverProtocol
import Foundation
import Testing

/// Group commit: usage an agent reports while the engine is busy is stored in one transaction per
/// batch, not one per event, and nothing is lost or reordered on the way.
@Suite struct GroupCommitTests {
    @Test("a burst of usage reports is stored in fewer commits than events, gapless, log lines in order")
    func burstOfUsageIsGrouped() async throws {
        let h = try await EngineHarness.make()
        let run = try await h.start("flow", task: "burst", inputs: ["lang": "swift"])
        let launch = try await h.nextLaunch("a", attempt: 1)
        let burst = 500
        for index in 0..<burst {
            launch.handle.emit(.usage(AgentUsage(model: "m", inputTokens: 1, outputTokens: 1, reportedCostUSD: nil)))
            if index == burst / 2 { launch.handle.emit(.log(.agent, "half-way")) }
        }
        launch.handle.emit(.log(.agent, "done"))
        launch.handle.finish(.completed(output: "A"))
        try await h.nextLaunch("b", attempt: 1).handle.finish(.completed(output: "B"))
        try await h.next("run.completed", of: run.id)

        let usageCommits = h.recordingStore.commits(of: run.id).filter { $0.types.contains("usage.recorded") }
        #expect(usageCommits.allSatisfy { $0.types.allSatisfy { $0 == "usage.recorded" } }, "usage commits carry usage only")
        #expect(usageCommits.reduce(0) { $0 + $1.types.count } == burst, "every report recorded once")
        #expect(usageCommits.count < burst, "reports that piled up shared a commit (\(usageCommits.count) commits)")
        let stored = try await h.engine.events(RunEventsRequest(runId: run.id, limit: 10000)).events
        #expect(stored.map(\.seq) == Array(1...stored.count))
        #expect(try await h.engine.getRun(run.id).usage.inputTokens == burst)
        #expect(h.recorder.logs.map(\.text) == ["half-way", "done"])
    }
}

/// A huge line reaches the log file whole but its live notification is cut, so it cannot fill a
/// prompt client's backlog on its own (the reliability suite's 40 MB line made the server shed events).
@Suite struct LiveLogTextTests {
    @Test("lines up to 64 KiB go out whole; longer ones are cut at a character boundary with a marker")
    func longLinesAreCut() {
        let short = String(repeating: "a", count: LiveLogText.limit)
        #expect(LiveLogText.forNotification(short) == short)
        let long = String(repeating: "é", count: LiveLogText.limit)  // 2 bytes each: the limit falls inside none
        let cut = LiveLogText.forNotification(long)
        #expect(cut.hasSuffix(LiveLogText.marker))
        let kept = cut.dropLast(LiveLogText.marker.count)
        #expect(kept.utf8.count == LiveLogText.limit && kept.allSatisfy { $0 == "é" })
        let odd = "x" + long  // the limit falls in the middle of an "é": cut before it
        #expect(odd.utf8.count > LiveLogText.limit)
        #expect(LiveLogText.forNotification(odd).dropLast(LiveLogText.marker.count).utf8.count == LiveLogText.limit - 1)
    }
}
