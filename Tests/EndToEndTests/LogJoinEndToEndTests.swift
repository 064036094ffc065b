import Foundation
import Testing

/// `run/log` offsets: a client that opens a log mid-step, backfills with `step/log` and then appends
/// live lines from the backfill's end gets every line once, in order.
@Suite("End to end: joining live logs to their backfill")
struct LogJoinEndToEndTests {
    /// Prints 50 lines, waits for the test to create `go` in its working directory, then prints 50
    /// more lines and one stderr line. (The agent's wait is its own behaviour, not the test's.)
    private static let script = """
        i=1; while [ $i -le 50 ]; do echo "line $i"; i=$((i+1)); done
        while [ ! -e go ]; do sleep 0.02; done
        while [ $i -le 100 ]; do echo "line $i"; i=$((i+1)); done
        echo "to stderr" >&2
        """

    @Test("backfill up to nextOffset plus live lines with offset ≥ nextOffset is the whole log, once")
    func joinIsExact() async throws {
        let pipeline: [String: Any] = ["name": "Log", "steps": [["id": "work", "kind": "agent", "role": "worker", "prompt": "p"]]]
        let config: [String: Any] = ["agents": ["worker": ["driver": "command", "command": "/bin/sh", "args": ["-c", Self.script]]]]
        let workspace = try EngineWorkspace(pipelines: ["log": pipeline], config: config)
        let drover = try await workspace.server()
        let runId = try await drover.startRun("log").string("id")
        try await drover.logLine(runId, "line 50")

        // Backfill now, mid-step, in small pages: the attempt is live, so it ends where the file ends.
        var backfill = ""
        var offset = 0
        while true {
            let page = try await drover.call("step/log", ["runId": runId, "stepId": "work", "offset": offset, "limit": 64])
            let text = page.string("text")
            backfill += text
            guard let next = page["nextOffset"] as? Int, next > offset, !text.isEmpty else { break }
            offset = next
        }
        FileManager.default.createFile(atPath: workspace.url.appendingPathComponent("go").path, contents: nil)
        try await drover.event(runId, "run.completed")

        let live = drover.notifications.compactMap { message -> (offset: Int, text: String)? in
            guard message["method"] as? String == "run/log", let log = message["params"] as? [String: Any],
                  log["runId"] as? String == runId, let at = log["offset"] as? Int else { return nil }
            return (at, log.string("text"))
        }
        #expect(live.count == 101, "every line is notified with an offset")
        let joined = backfill.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
            + live.filter { $0.offset >= offset }.map(\.text)

        let whole = try await drover.call("step/log", ["runId": runId, "stepId": "work", "limit": 1 << 20])
        let lines = whole.string("text").split(separator: "\n").map(String.init)
        #expect(lines == (1...100).map { "line \($0)" } + ["to stderr"])
        #expect(joined == lines, "joined: \(joined.count) lines, backfill ended at \(offset)")
        #expect(offset > 0 && live.contains { $0.offset < offset }, "the seam fell inside the live lines")
        _ = try await drover.shutdownAndExit()
    }
}
