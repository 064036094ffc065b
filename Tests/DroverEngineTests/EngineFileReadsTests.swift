@testable import DroverEngine
import DroverProtocol
import Foundation
import Testing

/// The engine reads config and trust once per stretch of synchronous work (`TurnReads`) and decides a new
/// run's admission once (`admissionAtCreation`): edits made between runs, and between one run's steps,
/// still count from the next run or attempt on, and a queue that a changed limit frees still moves.
@Suite struct EngineFileReadsTests {
    /// A user pipeline whose steps take their agent from the config's `writer` role.
    static let rolePipeline = #"{"name": "Roles", "steps": [{"id": "a", "kind": "agent", "role": "writer", "prompt": "one"}, {"id": "b", "kind": "agent", "role": "writer", "prompt": "two"}]}"#

    static func writerConfig(model: String, maxRuns: Int = 2) -> String {
        #"{"agents": {"writer": {"driver": "fake", "model": "\#(model)", "script": [[{"result": "x"}]]}}, "concurrency": {"maxRuns": \#(maxRuns)}}"#
    }

    @Test("a config edited between two runs, and between two steps of a run, is used by the next attempt")
    func configEditsCountFromTheNextAttempt() async throws {
        let h = try await EngineHarness.make(files: [
            "config/pipelines/roles.json": Self.rolePipeline, "config/config.json": Self.writerConfig(model: "first"),
        ])
        let first = try await h.start("roles")
        let a = try await h.nextLaunch("a", attempt: 1)
        #expect(a.invocation.environment["DROVER_MODEL"] == "first")
        try h.dir.write("config/config.json", Self.writerConfig(model: "second"))
        a.handle.finish(.completed(output: "x"))
        let b = try await h.nextLaunch("b", attempt: 1)
        #expect(b.invocation.environment["DROVER_MODEL"] == "second")
        b.handle.finish(.completed(output: "x"))
        try await h.next("run.completed", of: first.id)

        try h.dir.write("config/config.json", Self.writerConfig(model: "third"))
        _ = try await h.start("roles")
        #expect(try await h.nextLaunch("a", attempt: 1).invocation.environment["DROVER_MODEL"] == "third")
    }

    @Test("trust withdrawn while a run waits in the queue refuses its first attempt when it is admitted")
    func trustWithdrawnWhileQueued() async throws {
        let h = try await EngineHarness.make(files: [
            "ws/.drover/pipelines/local.json": #"{"name": "Local", "steps": [{"id": "x", "kind": "command", "command": "make"}]}"#,
            "config/config.json": #"{"concurrency": {"maxRuns": 1}}"#,
        ])
        #expect(try await h.engine.setTrust(true))
        let holding = try await h.start("local")
        let attempt = try await h.nextLaunch("x", attempt: 1)
        let waiting = try await h.start("local")
        #expect(waiting.status == .queued)
        // Withdrawn from outside (another process's `drover trust --revoke`), not through this engine.
        try h.dir.write("config/trust.json", #"{"trusted": []}"#)
        attempt.handle.finish(.completed(output: ""))
        try await h.next("run.completed", of: holding.id)
        let failed = try await h.next("run.failed", of: waiting.id)
        guard case .runFailed(let data) = failed.body else { throw TestTimeout(what: "run.failed") }
        #expect(data.failure.message.contains("is not trusted"))
    }

    @Test("a limit raised in the config starts the runs already queued when the next run is created")
    func raisedLimitMovesTheQueueAtTheNextStart() async throws {
        let h = try await EngineHarness.make(files: [
            "config/pipelines/roles.json": Self.rolePipeline, "config/config.json": Self.writerConfig(model: "m", maxRuns: 1),
        ])
        let holding = try await h.start("roles")
        _ = try await h.nextLaunch("a", attempt: 1)  // holds the one slot
        let queued = try await h.start("roles")
        #expect(queued.status == .queued)
        try h.dir.write("config/config.json", Self.writerConfig(model: "m", maxRuns: 3))
        let third = try await h.start("roles")
        // The new run's admission sees a free slot for the run before it too: both start.
        try await h.next("run.started", of: queued.id)
        #expect(third.status == .running)
        let started = h.recorder.events.filter { $0.type == "run.started" }.map(\.runId)
        #expect(started.count == 3 && Set(started) == [holding.id, queued.id, third.id])
    }
}
