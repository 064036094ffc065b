@testable import DroverEngine
import DroverProtocol
import Foundation
import Testing

/// `.drover/reports/<run-id>.md`: written when `run/report` asks for it, not at every run's end, and
/// kept true once written.
@Suite struct RunReportFileTests {
    @Test("a run nobody asks about leaves no report file; run/report writes it; the file follows the run's next end")
    func reportFileIsWrittenWhenAskedAndKeptTrue() async throws {
        // `.drover/` as a real store leaves it (the in-memory store makes none).
        let h = try await EngineHarness.make(files: ["ws/.drover/logs/.keep": ""])
        let run = try await h.start("flow", inputs: ["lang": "swift"])
        try await h.nextLaunch("a", attempt: 1).handle.finish(.failed(message: "segfault", exitCode: 139))
        try await h.next("run.failed", of: run.id)
        _ = try await h.engine.getRun(run.id)
        let file = h.workspace.path + "/.drover/reports/\(run.id).md"
        #expect(!FileManager.default.fileExists(atPath: file), "an ended run that nobody asked about has no report file")

        let report = try await h.engine.report(RunReportRequest(runId: run.id))
        #expect(report.path == file)
        let written = try String(contentsOfFile: file, encoding: .utf8)
        #expect(written == report.markdown && written.contains("- **Outcome:** failed (agent)"), "\(written)")

        _ = try await h.engine.retry(RunRetryRequest(runId: run.id))
        try await h.nextLaunch("a", attempt: 2).handle.finish(.completed(output: "A"))
        try await h.nextLaunch("b", attempt: 1).handle.finish(.completed(output: "B"))
        try await h.next("run.completed", of: run.id)
        _ = try await h.engine.getRun(run.id)  // the commit that published run.completed has finished on the actor
        let rewritten = try String(contentsOfFile: file, encoding: .utf8)
        #expect(rewritten.contains("- **Outcome:** done") && rewritten.contains("| a | writer | done | 2 |"), "\(rewritten)")
    }
}
