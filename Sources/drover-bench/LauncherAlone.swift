import DroverEngine
import DroverProtocol
import Foundation

/// The attempts' processes without the engine: the real launcher starting the bench's instant fake agent,
/// two at a time (as the scale part's runs go, `concurrency.maxRuns` being the 2 cores), and what that costs
/// this process — spawning, each attempt's I/O thread, reaping — per attempt.
enum LauncherAlone {
    static func cpuPerAttempt(binary: String, folder: URL, environment: [String: String], attempts: Int) async throws -> Double {
        let launcher = ProcessLauncher()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let agent = AgentSpec(driver: "fake", settings: ["script": .array([.array([.object(["result": .string("ok")])])])])
        let before = cpuSeconds(RUSAGE_SELF.rawValue)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<2 {
                group.addTask {
                    for index in stride(from: lane, to: attempts, by: 2) {
                        let invocation = try FakeDriver().invocation(for: AttemptContext(
                            runId: "r-bench", stepId: "s", attempt: 1, prompt: "bench", workingDirectory: folder.path,
                            environment: environment, agent: agent, logFile: folder.appendingPathComponent("\(index).log"),
                            selfExecutable: binary))
                        _ = await (try launcher.launch(invocation) { _ in }).wait()
                    }
                }
            }
            try await group.waitForAll()
        }
        return (cpuSeconds(RUSAGE_SELF.rawValue) - before) / Double(attempts)
    }
}
