import DroverEngine
import DroverProtocol
import DroverStore
import Foundation

/// An engine over an in-memory store and a scripted launcher, in a temporary workspace whose
/// user config folder holds the test pipelines.
struct EngineHarness {
    let dir: TempDir
    let store: InMemoryRunStore
    /// `store` as this engine writes it, with its commits recorded.
    let recordingStore: RecordingRunStore
    let launcher: ScriptedLauncher
    let engine: Engine
    let recorder: EventRecorder
    var workspace: URL { dir.url.appendingPathComponent("ws") }
    var configDirectory: URL { dir.url.appendingPathComponent("config") }

    static let fakeAgent = #"{"driver": "fake", "script": [[{"result": "x"}]]}"#

    /// User pipelines available to every harness (no trust needed).
    static let userPipelines: [String: String] = [
        "flow": """
        {"name": "Flow", "steps": [
          {"id": "a", "kind": "agent", "role": "writer", "prompt": "Do {{task}} with {{inputs.lang}}", "agent": \(fakeAgent)},
          {"id": "b", "kind": "agent", "role": "reviewer", "prompt": "Use {{steps.a.output}} / {{previous.output}}", "agent": \(fakeAgent)}
        ]}
        """,
        "gated": """
        {"name": "Gated", "steps": [
          {"id": "a", "kind": "agent", "role": "writer", "prompt": "Write {{task}}", "requiresApproval": true, "agent": \(fakeAgent)},
          {"id": "b", "kind": "agent", "role": "reviewer", "prompt": "Build on {{steps.a.output}}", "agent": \(fakeAgent)}
        ]}
        """,
        "timed": """
        {"name": "Timed", "steps": [
          {"id": "a", "kind": "agent", "role": "writer", "prompt": "Go", "timeoutSeconds": 5, "agent": \(fakeAgent)},
          {"id": "c", "kind": "command", "command": "echo hi"}
        ]}
        """,
    ]

    /// - Parameters:
    ///   - files: extra files relative to the temp folder (`ws/...` is the workspace, `config/...` the user config).
    ///   - store: an existing store (to simulate a restart); a new one otherwise.
    ///   - ownership: which runs the engine may commit to; by default it may commit to any.
    ///   - adjust: changes to the engine's options (a shared store, a repository cache).
    static func make(files: [String: String] = [:], store: InMemoryRunStore? = nil, dir: TempDir? = nil,
                     ownership: (any RunOwnership)? = nil,
                     autoReply: (@Sendable (AgentInvocation) -> AgentOutcome?)? = nil,
                     adjust: (inout EngineOptions) -> Void = { _ in }) async throws -> EngineHarness {
        let dir = try dir ?? TempDir()
        try FileManager.default.createDirectory(at: dir.url.appendingPathComponent("ws"), withIntermediateDirectories: true)
        for (id, json) in userPipelines { try dir.write("config/pipelines/\(id).json", json) }
        for (path, text) in files { try dir.write(path, text) }
        var options = EngineOptions(
            workspace: dir.url.appendingPathComponent("ws"), configDirectory: dir.url.appendingPathComponent("config"),
            selfExecutable: "/opt/drover/bin/drover", killGrace: .milliseconds(100),
            environment: ["PATH": "/usr/bin:/bin", "HOME": dir.url.path, "KEEP": "1"])
        adjust(&options)
        let store = store ?? InMemoryRunStore()
        let recordingStore = RecordingRunStore(store)
        let launcher = ScriptedLauncher(autoReply: autoReply)
        let engine = try Engine(
            options: options, store: recordingStore, launcher: launcher, ownership: ownership ?? ProcessLocalOwnership())
        let recorder = await EventRecorder.attach(to: engine)
        return EngineHarness(
            dir: dir, store: store, recordingStore: recordingStore, launcher: launcher, engine: engine, recorder: recorder)
    }

    func start(_ pipelineId: String, task: String = "T", inputs: [String: String]? = nil) async throws -> Run {
        try await engine.startRun(RunStartRequest(pipelineId: pipelineId, task: task, inputs: inputs))
    }

    /// Waits for the next launch and checks it is the given step and attempt.
    func nextLaunch(_ stepId: String, attempt: Int) async throws -> ScriptedLauncher.Launch {
        let launch = try await launcher.next()
        guard launch.invocation.environment["DROVER_STEP_ID"] == stepId,
              launch.invocation.environment["DROVER_ATTEMPT"] == String(attempt) else {
            throw TestTimeout(what: "launch of \(stepId)#\(attempt), got \(launch.invocation.environment["DROVER_STEP_ID"] ?? "?")#\(launch.invocation.environment["DROVER_ATTEMPT"] ?? "?")")
        }
        return launch
    }

    /// The next event of `type` for `runId`.
    @discardableResult
    func next(_ type: String, of runId: String) async throws -> Event {
        try await recorder.nextEvent { $0.type == type && $0.runId == runId }
    }

    /// Expects `body` to throw an `EngineError`, returning it.
    func expectError(_ body: () async throws -> Any) async -> EngineError? {
        do {
            _ = try await body()
            return nil
        } catch let error as EngineError {
            return error
        } catch {
            return EngineError.internalError("unexpected \(error)")
        }
    }
}
