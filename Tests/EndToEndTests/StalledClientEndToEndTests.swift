import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("End to end: a client that stops reading")
struct StalledClientEndToEndTests {
    /// How many log lines the agent prints: far more than a pipe and the server's log backlog hold.
    static let lines = 200_000

    @Test("a client that never reads its stdout does not stall the engine: the CLI sees the run finish, memory stays bounded, and the reader learns what it missed")
    func stalledClient() async throws {
        let workspace = try EngineWorkspace(pipelines: ["flood": FakePipeline.pipeline([
            FakePipeline.step("flood", prompt: "Flood", turns: [[["spam": Self.lines], ["result": "flooded"]]]),
        ])])
        let server = try await workspace.server()
        let baseline = try #require(residentKiB(server.pid))
        let runId = try await server.startRun("flood").string("id")
        server.pauseReadingStdout()

        // The stalled server still drives the run to its end; read-only CLI commands work beside it.
        var peak = baseline
        let deadline = ContinuousClock.now + .seconds(120)
        var status = ""
        while !status.contains(" done") {
            guard ContinuousClock.now < deadline else {
                Issue.record("the run did not finish while the client was stalled; last status: \(status)")
                return
            }
            peak = max(peak, residentKiB(server.pid) ?? 0)
            status = try await cliOutput(["status", runId], in: workspace)
        }
        peak = max(peak, residentKiB(server.pid) ?? 0)
        let growthMB = Double(peak - baseline) / 1024
        print("stalled client: server RSS \(baseline / 1024) MB before the run, peak +\(String(format: "%.1f", growthMB)) MB for \(Self.lines) log lines")
        #expect(growthMB < 64, "the server's memory stays bounded while its client is stalled")
        #expect(try await cliOutput(["runs"], in: workspace).contains(runId))
        let log = try logFile(of: runId, in: workspace)
        #expect(log.split(separator: 0x0A).count == Self.lines + 1, "every line is in the log file (and the result)")

        // Reading again, the client gets every event, and each line it did not get is counted.
        server.resumeReadingStdout()
        try await server.event(runId, "run.completed", timeout: .seconds(60))
        let notifications = server.notifications
        let received = notifications.filter { $0["method"] as? String == "run/log" }.count
        let gaps = notifications.filter { $0["method"] as? String == "run/logsDropped" }.map { $0.object("params") }
        #expect(!gaps.isEmpty, "lines were dropped while the client was stalled")
        #expect(gaps.allSatisfy { $0.string("runId") == runId && $0.string("stepId") == "flood" && $0["attempt"] as? Int == 1 })
        #expect(received + gaps.reduce(0) { $0 + ($1["lines"] as? Int ?? 0) } == Self.lines,
                "every line was either sent or counted in run/logsDropped")
        let sentTexts = Set(notifications.compactMap { $0["method"] as? String == "run/log" ? $0.object("params").string("text") : nil })
        for gap in gaps {
            // The log file from `fromOffset` on holds the first line the client did not get.
            let offset = gap["fromOffset"] as? Int ?? -1
            #expect(offset == 0 || (offset > 0 && offset < log.count && log[offset - 1] == 0x0A), "fromOffset starts a line")
            let line = log.dropFirst(max(offset, 0)).prefix { $0 != 0x0A }
            let text = (try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])?.string("text") ?? ""
            #expect(text.hasPrefix("spam ") && !sentTexts.contains(text), "the line at fromOffset was not sent: \(text)")
        }
        let seqs = server.notifiedEvents(runId).compactMap { $0["seq"] as? Int }
        #expect(seqs == Array(1...(seqs.last ?? 0)), "no run/event was dropped")
        #expect(server.protocolViolations.isEmpty)
        #expect(try await server.shutdownAndExit() == 0)
    }

    /// What `drover <arguments>` prints on stdout, run in `workspace` beside its server.
    private func cliOutput(_ arguments: [String], in workspace: EngineWorkspace) async throws -> String {
        let cli = try DroverProcess(arguments: arguments, directory: workspace.url)
        let code = try await cli.waitForExit(timeout: .seconds(20))
        let output = String(decoding: cli.stdoutBytes, as: UTF8.self)
        guard code == 0 else { throw UnexpectedResponse(description: "drover \(arguments) exited \(code): \(output) \(cli.stderrText)") }
        return output
    }

    /// The attempt's log file: `.drover/logs/` holds one per attempt, `<runId>@<stepId>.<attempt>.log`.
    private func logFile(of runId: String, in workspace: EngineWorkspace) throws -> Data {
        let directory = workspace.url.appendingPathComponent(".drover/logs")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("\(runId)@") }
        guard names.count == 1, let name = names.first else { throw UnexpectedResponse(description: "log files: \(names)") }
        return try Data(contentsOf: directory.appendingPathComponent(name))
    }
}

/// The resident set size of `pid` in KiB (`VmRSS` of /proc/<pid>/status), nil if it is gone.
func residentKiB(_ pid: pid_t) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return nil }
    return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
}
