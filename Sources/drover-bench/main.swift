import DroverEngine
#if PostgreSQL
import DroverPostgres
#endif
import DroverProtocol
import DroverSQLite
import DroverStore
import DroverSupport
import Foundation
import Synchronization

// drover-bench: prints the engine's own overhead beside its anchors (raw SQLite, the agent process
// alone). Run it with
//   swift run -c release drover-bench engine [--steps 50] [--events 1000] [--rounds 3] [--runs 100]
//     [--store postgres://…] [--parts events,steps,scale] [--keep-workspace]
// It drives the real engine, store and fake-agent subprocesses in a temporary workspace.

func median(_ values: [Double]) -> Double {
    values.isEmpty ? 0 : values.sorted()[values.count / 2]
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

// malloc as `drover engine` has it (`drover/main.swift` fixes the thresholds first thing), so the engine
// measured here allocates as the real one does.
MallocThresholds.fix()
let settings = Settings(Array(CommandLine.arguments.dropFirst(2)))
guard CommandLine.arguments.dropFirst().first == "engine", settings.mistake == nil else {
    if let mistake = settings.mistake { FileHandle.standardError.write(Data("drover-bench: \(mistake)\n".utf8)) }
    FileHandle.standardError.write(Data("usage: drover-bench engine [--steps N] [--events N] [--rounds N] [--runs N] [--store postgres://…] [--parts events,steps,scale] [--keep-workspace]\n".utf8))
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
defer { if !settings.keepsWorkspace { try? FileManager.default.removeItem(at: root) } }
var environment = ProcessInfo.processInfo.environment
environment["DROVER_CONFIG_DIR"] = root.appendingPathComponent("config").path

let usage: [String: Any] = ["usage": ["model": "bench", "input": 1, "output": 1]]
try writePipeline("events", steps: [fakeStep("burst", script: [Array(repeating: usage, count: settings.events) + [["result": "ok"]]])], in: workspace)
try writePipeline("steps", steps: (1...settings.steps).map { fakeStep("s\($0)", script: [[["result": "ok"]]]) }, in: workspace)
try writePipeline("instant", steps: [fakeStep("only", script: [[["result": "ok"]]])], in: workspace)
// The engine parses a pipeline file again on every use while it changed in the last 2 s (`FileValueCache`,
// in whole seconds); a workspace's pipelines are older, so the figures are taken once these have settled.
let pipelinesSettled = ContinuousClock.now + .milliseconds(3100)

#if PostgreSQL
let backend: StoreBackend = try settings.storeURL.map { try .postgres(url: $0) } ?? .sqlite
#else
if settings.storeURL != nil { FileHandle.standardError.write(Data("drover-bench: built without the PostgreSQL trait\n".utf8)); exit(2) }
let backend = StoreBackend.sqlite
#endif
let timing = TimingLauncher()
let host = try EngineHost.open(workspace: workspace, backend: backend, environment: environment, selfExecutable: binary, launcher: timing)
let engine = host.engine
_ = try await engine.setTrust(true)
let tap = EventTap()
_ = await engine.addListener { tap.record($0) }

print("drover-bench engine: \(settings.rounds) rounds, \(settings.events) events per burst, \(settings.steps)-step pipeline")
print("workspace: \(workspace.path), store: \(backend.name)" + (settings.keepsWorkspace ? " (kept: delete \(root.path))" : ""))

if settings.parts.contains(.events) {
    // (a) Events persisted (one transaction each) and notified, per second.
    try await Task.sleep(until: pipelinesSettled)
    var rates: [Double] = []
    for _ in 0..<settings.rounds {
        _ = try await runOnce(engine, tap: tap, pipeline: "events")
        let stamps = tap.stamps("usage.recorded")
        if let first = stamps.first, let last = stamps.last, stamps.count > 1 {
            rates.append(Double(stamps.count - 1) / seconds(last - first))
        }
    }
    rates.sort()
    let raw = StoreAnchors.rawTransactionsPerSecond(path: root.appendingPathComponent("raw.db").path, count: 5000)
    print(String(format: "events persisted+notified: median %.0f/s (min %.0f, max %.0f) — the agent prints them as fast as it can",
                 rates[rates.count / 2], rates.first ?? 0, rates.last ?? 0))
    print(String(format: "raw SQLite, one INSERT per transaction (WAL, synchronous=NORMAL): %.0f/s — events/s is %.2f× that (goal ≥ 1×: events arriving together share a commit)",
                 raw, rates[rates.count / 2] / raw))
}

if settings.parts.contains(.steps) {
    // (b) Wall time per step of a pipeline of instant agents, minus the agents' own process time.
    try await Task.sleep(until: pipelinesSettled)
    let launcher = ProcessLauncher()
    var agentTimes: [Double] = []
    var pipelineTimes: [Double] = []
    var engineCPU: [Double] = []
    var segments = StepSegments()
    for _ in 0..<settings.rounds {
        timing.reset()
        let cpuBefore = cpuSeconds(RUSAGE_SELF.rawValue)
        pipelineTimes.append(seconds(try await runOnce(engine, tap: tap, pipeline: "steps")) / Double(settings.steps))
        engineCPU.append((cpuSeconds(RUSAGE_SELF.rawValue) - cpuBefore) / Double(settings.steps))
        segments.add(started: tap.stamps("step.started"), completed: tap.stamps("step.completed"),
                     runCompleted: tap.stamps("run.completed"), attempts: timing.launched())
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
    let perStep = median(pipelineTimes)
    let perAgent = median(agentTimes)
    print(String(format: "per step, %d-step pipeline: %.2f ms wall; agent process alone %.2f ms; engine overhead %.2f ms/step; engine CPU %.2f ms/step",
                 settings.steps, perStep * 1000, perAgent * 1000, (perStep - perAgent) * 1000, median(engineCPU) * 1000))
    // Where a step's wall time goes, from the events' publication and the launcher's stamps (medians
    // over every step): the agent's part, and the engine's hand-offs around it.
    print(segments.summary(agentAlone: perAgent))
    let parts = try StoreAnchors.commitParts(path: root.appendingPathComponent("parts.db").path, steps: settings.steps)
    print(String(format: "  one commit's store work on a %d-step run: append %.3f ms = snapshot encoded %.3f ms (whole: %.3f ms) + event encoded %.3f ms + SQLite transaction %.3f ms; a step is 2 commits",
                 settings.steps, parts.append * 1000, parts.snapshot * 1000, parts.wholeSnapshot * 1000, parts.event * 1000,
                 (parts.append - parts.snapshot - parts.event) * 1000))
}

func cpuSeconds(_ who: Int32) -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(who), &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

if settings.parts.contains(.scale) {
    // (c) Many runs at once: engine CPU against the agents' CPU.
    try await Task.sleep(until: pipelinesSettled)
    tap.reset()
    let selfBefore = cpuSeconds(RUSAGE_SELF.rawValue)
    let childrenBefore = cpuSeconds(RUSAGE_CHILDREN.rawValue)
    let concurrentStart = ContinuousClock.now
    for index in 0..<settings.runs {
        _ = try await engine.startRun(RunStartRequest(pipelineId: "instant", task: "bench \(index)"))
    }
    await tap.wait(for: "run.completed", count: settings.runs)
    let concurrentWall = seconds(ContinuousClock.now - concurrentStart)
    let engineCPU = cpuSeconds(RUSAGE_SELF.rawValue) - selfBefore
    let agentsCPU = cpuSeconds(RUSAGE_CHILDREN.rawValue) - childrenBefore
    print(String(format: "%d concurrent instant runs: all done in %.2f s; engine CPU %.3f s, agents' CPU %.3f s: engine = %.0f%% of the agents' (goal ≤ 10%%)",
                 settings.runs, concurrentWall, engineCPU, agentsCPU, 100 * engineCPU / max(agentsCPU, 1e-9)))
    // Where the engine's part goes. The same runs with attempts that end at once and spawn nothing: the
    // engine's own work (records, admissions, commits, notifications). Then the attempts' processes without
    // the engine: the launcher alone. What the two leave of the figure above is the engine's own work done
    // between the agents on the same cores, where the same code runs slower.
    timing.withoutProcesses.store(true, ordering: .relaxed)
    tap.reset()
    let aloneBefore = cpuSeconds(RUSAGE_SELF.rawValue)
    for index in 0..<settings.runs {
        _ = try await engine.startRun(RunStartRequest(pipelineId: "instant", task: "alone \(index)"))
    }
    await tap.wait(for: "run.completed", count: settings.runs)
    timing.withoutProcesses.store(false, ordering: .relaxed)
    let engineAlone = (cpuSeconds(RUSAGE_SELF.rawValue) - aloneBefore) / Double(settings.runs)
    let launcherAlone = try await LauncherAlone.cpuPerAttempt(binary: binary, folder: root.appendingPathComponent("launcher"),
                                                              environment: environment, attempts: settings.runs)
    print(String(format: "  engine CPU per run %.3f ms; alone (the same runs, attempts answered at once, no process) %.3f ms; the launcher alone (the same agents, two at a time) %.3f ms per attempt",
                 1000 * engineCPU / Double(settings.runs), 1000 * engineAlone, 1000 * launcherAlone))
}
if settings.parts.contains(.encoding) {
    // (d) Encoding alone, in this process: the stores' snapshots and events beside the JSON tree's way.
    for steps in [1, settings.steps] {
        let cost = try EncodingCost.measure(steps: steps, rounds: max(20, 2000 / steps))
        print(String(format: "encoding, %d-step run, ns each: snapshot %.0f as stored (through Encodable %.0f, through the JSON tree %.0f); event data %.0f as stored (Encodable %.0f, tree %.0f)",
                     steps, cost.snapshot.stores, cost.snapshot.encodable, cost.snapshot.tree, cost.event.stores, cost.event.encodable, cost.event.tree))
    }
}
await engine.shutdown()
