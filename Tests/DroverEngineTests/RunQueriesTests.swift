import DroverEngine
import DroverProtocol
import Foundation
import Testing

/// The read path: a reader beside the engine (the CLI's read-only commands) answers from the store
/// exactly what the engine answers, and follows runs through the change feed.
@Suite struct RunQueriesTests {
    /// A reader over the engine's store, as `drover runs/status/logs` open one beside a server.
    func reader(_ h: EngineHarness) -> RunQueries { RunQueries(store: h.store, workspace: h.workspace) }

    @Test func aReaderAnswersWhatTheEngineAnswers() async throws {
        let h = try await EngineHarness.make()
        let gated = try await h.start("gated")
        let a = try await h.nextLaunch("a", attempt: 1)
        try FileManager.default.createDirectory(at: a.invocation.logFile.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("drafting\n".utf8).write(to: a.invocation.logFile)
        a.handle.finish(.completed(output: "draft"))
        try await h.next("approval.requested", of: gated.id)
        let reader = reader(h)

        #expect(try reader.run(gated.id) == (try await h.engine.getRun(gated.id)))
        #expect(try reader.runs(RunListRequest()) == (try await h.engine.listRuns(RunListRequest())))
        let page = RunEventsRequest(runId: gated.id, afterSeq: 1, limit: 2)
        #expect(try reader.events(page) == (try await h.engine.events(page)))
        let inbox = try reader.inbox()
        #expect(inbox == (try await h.engine.inbox()))
        #expect(inbox.items.map(\.id) == ["a-a-1"])
        let log = StepLogRequest(runId: gated.id, stepId: "a")
        #expect(try reader.stepLog(log) == (try await h.engine.stepLog(log)))
        #expect(try reader.stepLog(log).text == "drafting\n")

        let unknown = #expect(throws: EngineError.self) { try reader.run("r-nope") }
        #expect(unknown?.code == .notFound)
        let tooMany = #expect(throws: EngineError.self) { try reader.runs(RunListRequest(limit: 501)) }
        #expect(tooMany?.code == .invalidParams)
    }

    @Test func theChangeFeedGivesEachRunsUnseenEventsAndItsStateNow() async throws {
        let h = try await EngineHarness.make()
        let gated = try await h.start("gated")
        let other = try await h.start("flow", inputs: ["lang": "c"])
        let reader = reader(h)
        try await h.nextLaunch("a", attempt: 1).handle.finish(.completed(output: "draft"))
        try await h.next("approval.requested", of: gated.id)

        let first = try reader.changes(afterRunSeqs: [(gated.id, 0)])
        #expect(first.map(\.run.id) == [gated.id])
        #expect(first[0].events.map(\.seq) == Array(1...first[0].run.lastSeq), "every event, gapless, up to the run's state")
        #expect(first[0].run.status == .blocked)
        let seen = first[0].run.lastSeq

        #expect(try reader.changes(afterRunSeqs: [(gated.id, seen)]).isEmpty, "nothing new, nothing listed")
        _ = try await h.engine.approve(StepApproveRequest(runId: gated.id, approvalId: "a-a-1"))
        let otherSeq = try await h.engine.getRun(other.id).lastSeq
        let second = try reader.changes(afterRunSeqs: [(other.id, otherSeq), (gated.id, seen)])
        #expect(second.map(\.run.id) == [gated.id])
        #expect(second[0].events.first?.seq == seen + 1)
        #expect(second[0].events.map(\.type).prefix(2) == ["approval.resolved", "step.completed"])
        #expect(second[0].events.last?.seq == second[0].run.lastSeq)
    }

    @Test func stepLogNeverEndsInHalfACharacterOfALiveLog() async throws {
        let h = try await EngineHarness.make()
        let run = try await h.start("flow", inputs: ["lang": "c"])
        let a = try await h.nextLaunch("a", attempt: 1)
        try FileManager.default.createDirectory(at: a.invocation.logFile.deletingLastPathComponent(), withIntermediateDirectories: true)
        // The agent is halfway through writing "é" (0xC3 0xA9).
        try Data([UInt8(ascii: "h"), 0xC3]).write(to: a.invocation.logFile)
        let live = try reader(h).stepLog(StepLogRequest(runId: run.id, stepId: "a"))
        #expect(live.text == "h" && live.nextOffset == 1 && !live.eof)
        try Data([UInt8(ascii: "h"), 0xC3, 0xA9, UInt8(ascii: "\n")]).write(to: a.invocation.logFile)
        let rest = try reader(h).stepLog(StepLogRequest(runId: run.id, stepId: "a", offset: live.nextOffset))
        #expect(rest.text == "é\n" && !rest.eof)
    }

    @Test("step/log reads an attempt an older build logged in the run's own folder; new attempts log beside every run's")
    func stepLogReadsTheOlderLayout() async throws {
        let h = try await EngineHarness.make()
        let run = try await h.start("gated")
        let a = try await h.nextLaunch("a", attempt: 1)
        #expect(a.invocation.logFile.lastPathComponent == "\(run.id)@a.1.log")
        let older = h.workspace.appendingPathComponent(".drover/logs/\(run.id)/a.1.log")
        try FileManager.default.createDirectory(at: older.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("logged by an older build\n".utf8).write(to: older)
        a.handle.finish(.completed(output: "draft"))
        try await h.next("approval.requested", of: run.id)
        let log = StepLogRequest(runId: run.id, stepId: "a")
        #expect(try reader(h).stepLog(log).text == "logged by an older build\n")
        #expect(try await h.engine.stepLog(log).text == "logged by an older build\n")

        try Data("logged now\n".utf8).write(to: a.invocation.logFile)
        #expect(try reader(h).stepLog(log).text == "logged now\n", "where both exist, the current layout's is the attempt's")
    }

    @Test func openGatesAreTheInboxRuleForOneRun() async throws {
        let h = try await EngineHarness.make()
        let run = try await h.start("gated")
        try await h.nextLaunch("a", attempt: 1).handle.finish(.completed(output: "draft"))
        try await h.next("approval.requested", of: run.id)
        let blocked = try await h.engine.getRun(run.id)
        let gates = RunQueries.openGates(of: blocked, history: nil)
        #expect(gates.map(\.id) == ["a-a-1"] && gates[0].kind == .approval && gates[0].proposal == "draft")
        #expect(gates.map(\.id) == (try await h.engine.inbox()).items.map(\.id))
        _ = try await h.engine.approve(StepApproveRequest(runId: run.id, approvalId: "a-a-1"))
        #expect(RunQueries.openGates(of: try await h.engine.getRun(run.id), history: nil).isEmpty)
    }
}
