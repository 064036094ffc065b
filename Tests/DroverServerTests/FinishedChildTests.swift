@testable import DroverServer
import Foundation
import Testing

/// `drover serve` runs `drover engine start` with `FinishedChild` (Foundation's `Process.waitUntilExit`
/// never returned in the fully static build, so a cold `drover serve` hung for its whole 30 s deadline).
struct FinishedChildTests {
    @Test("a helper's exit status and stderr are collected once it ends")
    func collectsStatusAndStderr() throws {
        let failed = try FinishedChild.run("/bin/sh", arguments: ["-c", "echo 'drover: no engine' >&2; echo out; exit 3"],
                                           environment: [:])
        #expect(!failed.exitedCleanly)
        #expect(failed.status >> 8 == 3)
        #expect(failed.stderrText == "drover: no engine\n")
        let fine = try FinishedChild.run("/bin/sh", arguments: ["-c", "test \"$PROBE\" = yes"], environment: ["PROBE": "yes"])
        #expect(fine.exitedCleanly)
        #expect(fine.stderr.isEmpty)
    }

    @Test("a helper that cannot be spawned is an error, not a hang")
    func missingExecutable() {
        #expect(throws: FinishedChild.SpawnError.self) {
            try FinishedChild.run("/nonexistent/drover", arguments: [], environment: [:])
        }
    }
}
