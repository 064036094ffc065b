import DroverEngine
#if PostgreSQL
import DroverPostgres
#endif
import DroverProtocol
import DroverSQLite
import DroverStore
import Foundation
import Synchronization

// drover-bench: prints the engine's own overhead. Run it with
//   swift run -c release drover-bench engine [--steps 50] [--events 1000] [--rounds 3] [--store postgres://…]
// It drives the real engine, store and fake-agent subprocesses in a temporary workspace.

/// Command-line settings of the engine benchmark.
struct Settings {
    var steps = 50
    var events = 1000
    var rounds = 3
    /// A PostgreSQL store URL, or nil for the workspace's SQLite file.
    var storeURL: String?

    init(_ arguments: [String]) {
        var index = 0
        while index + 1 < arguments.count {
            let value = Int(arguments[index + 1]) ?? 0
            switch arguments[index] {
            case "--steps": steps = max(1, value)
            case "--events": events = max(1, min(value, 1500))
            case "--rounds": rounds = max(1, value)
            case "--store": storeURL = arguments[index + 1] == "sqlite" ? nil : arguments[index + 1]
            default: break
            }
            index += 2
        }
    }
}

/// Collects what the engine tells its listener, so the benchmark can wait on events.
final class EventTap: Sendable {
    private struct State {
        var stamps: [(type: String, at: ContinuousClock.Instant)] = []
        var waiters: [(String, CheckedContinuation<Void, Never>)] = []
    }
    private let state = Mutex(State())

    func record(_ output: EngineOutput) {
        guard case .event(let event) = output else { return }
        let now = ContinuousClock.now
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.stamps.append((event.type, now))
            let matched = state.waiters.filter { $0.0 == event.type }.map(\.1)
            state.waiters.removeAll { $0.0 == event.type }
            return matched
        }
        ready.forEach { $0.resume() }
    }

    func reset() { state.withLock { $0.stamps.removeAll() } }

    func stamps(_ type: String) -> [ContinuousClock.Instant] {
        state.withLock { $0.stamps.filter { $0.type == type }.map(\.at) }
    }

    func wait(for type: String) async {
        await withCheckedContinuation { continuation in
            let already = state.withLock { state -> Bool in
                if state.stamps.contains(where: { $0.type == type }) { return true }
                state.waiters.append((type, continuation))
                return false
            }
            if already { continuation.resume() }
        }
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func writePipeline(_ id: String, steps: [[String: Any]], in workspace: URL) throws {
    let folder = workspace.appendingPathComponent(".drover/pipelines")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let data = try JSONSerialization.data(withJSONObject: ["name": id, "steps": steps])
    try data.write(to: folder.appendingPathComponent("\(id).json"))
}

func fakeStep(_ id: String, script: [[[String: Any]]]) -> [String: Any] {
    ["id": id, "kind": "agent", "prompt": "{{task}}", "agent": ["driver": "fake", "script": script]]
}

func runOnce(_ engine: Engine, tap: EventTap, pipeline: String) async throws -> Duration {
    tap.reset()
    let start = ContinuousClock.now
    _ = try await engine.startRun(RunStartRequest(pipelineId: pipeline, task: "bench"))
    await tap.wait(for: "run.completed")
    return ContinuousClock.now - start
}

let settings = Settings(Array(CommandLine.arguments.dropFirst(2)))
guard CommandLine.arguments.dropFirst().first == "engine" else {
    FileHandle.standardError.write(Data("usage: drover-bench engine [--steps N] [--events N] [--rounds N] [--store postgres://…]\n".utf8))
    exit(2)
}
let binary = URL(fileURLWithPath: EngineHost.currentExecutable()).deletingLastPathComponent().appendingPathComponent("drover").path
guard FileManager.default.isExecutableFile(atPath: binary) else {
    FileHandle.standardError.write(Data("drover-bench: build the drover binary first (expected at \(binary))\n".utf8))
    exit(1)
}
let root = FileManager.default.temporaryDirectory.appendingPathComponent("drover-bench-\(UUID().uuidString)")
let workspace = root.appendingPathComponent("ws")
try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: root) }
var environment = ProcessInfo.processInfo.environment
environment["DROVER_CONFIG_DIR"] = root.appendingPathComponent("config").path

let usage: [String: Any] = ["usage": ["model": "bench", "input": 1, "output": 1]]
try writePipeline("events", steps: [fakeStep("burst", script: [Array(repeating: usage, count: settings.events) + [["result": "ok"]]])], in: workspace)
try writePipeline("steps", steps: (1...settings.steps).map { fakeStep("s\($0)", script: [[["result": "ok"]]]) }, in: workspace)

#if PostgreSQL
let backend: StoreBackend = try settings.storeURL.map { try .postgres(url: $0) } ?? .sqlite
#else
if settings.storeURL != nil { FileHandle.standardError.write(Data("drover-bench: built without the PostgreSQL trait\n".utf8)); exit(2) }
let backend = StoreBackend.sqlite
#endif
let host = try EngineHost.open(workspace: workspace, backend: backend, environment: environment, selfExecutable: binary)
let engine = host.engine
_ = try await engine.setTrust(true)
let tap = EventTap()
_ = await engine.addListener { tap.record($0) }

print("drover-bench engine: \(settings.rounds) rounds, \(settings.events) events per burst, \(settings.steps)-step pipeline")
print("workspace: \(workspace.path), store: \(backend.name)")

// (a) Events persisted (one transaction each) and notified, per second.
var rates: [Double] = []
for _ in 0..<settings.rounds {
    _ = try await runOnce(engine, tap: tap, pipeline: "events")
    let stamps = tap.stamps("usage.recorded")
    if let first = stamps.first, let last = stamps.last, stamps.count > 1 {
        rates.append(Double(stamps.count - 1) / seconds(last - first))
    }
}
rates.sort()
print(String(format: "events persisted+notified: median %.0f/s (min %.0f, max %.0f) — the agent prints them as fast as it can",
             rates[rates.count / 2], rates.first ?? 0, rates.last ?? 0))

// (b) Wall time per step of a pipeline of instant agents, minus the agents' own process time.
let launcher = ProcessLauncher()
var agentTimes: [Double] = []
var pipelineTimes: [Double] = []
for _ in 0..<settings.rounds {
    pipelineTimes.append(seconds(try await runOnce(engine, tap: tap, pipeline: "steps")) / Double(settings.steps))
    var total = Duration.zero
    for index in 0..<settings.steps {
        let invocation = try FakeDriver().invocation(for: AttemptContext(
            runId: "r-bench", stepId: "s", attempt: 1, prompt: "bench", workingDirectory: workspace.path,
            environment: environment, agent: AgentSpec(driver: "fake", settings: ["script": .array([.array([.object(["result": .string("ok")])])])]),
            logFile: root.appendingPathComponent("direct/\(index).log"), selfExecutable: binary))
        let start = ContinuousClock.now
        _ = try await launcher.launch(invocation) { _ in }.wait()
        total += ContinuousClock.now - start
    }
    agentTimes.append(seconds(total) / Double(settings.steps))
}
pipelineTimes.sort()
agentTimes.sort()
let perStep = pipelineTimes[pipelineTimes.count / 2]
let perAgent = agentTimes[agentTimes.count / 2]
print(String(format: "per step, %d-step pipeline: %.2f ms wall; agent process alone %.2f ms; engine overhead %.2f ms/step",
             settings.steps, perStep * 1000, perAgent * 1000, (perStep - perAgent) * 1000))
await engine.shutdown()
