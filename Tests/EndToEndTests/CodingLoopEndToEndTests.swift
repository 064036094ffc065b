import Foundation
import Testing

/// The built-in `implement` pipeline over the real binary and real git, with fake agents in the roles:
/// plan (approved) → implement → tests (`auto`) → the implementer fixes → tests pass → audit → report.
@Suite("End to end: the implement pipeline's coding loop")
struct CodingLoopEndToEndTests {
    /// A Makefile whose `test` target checks `answer.txt`: `make test` is what `auto` finds.
    static let makefile = """
        # the project's tests
        .PHONY: test
        test:
        \t@test "$$(cat answer.txt 2>/dev/null)" = 42 || { echo "FAIL: answer is '$$(cat answer.txt 2>/dev/null)', want 42"; exit 1; }
        \t@echo "1 passed, 0 failed"

        """

    /// Fake agents for the implement pipeline's roles: the implementer gets it wrong first, then fixes it.
    static var agents: [String: Any] { ["agents": [
        "planner": ["driver": "fake", "script": [[["result": "1. write answer.txt"]]]],
        "implementer": ["driver": "fake", "script": [
            [["write": ["path": "answer.txt", "text": "41\n"]], ["result": "wrote answer.txt"]],
            [["write": ["path": "answer.txt", "text": "42\n"]], ["result": "fixed: the answer is 42"]],
        ]],
        "auditor": ["driver": "fake", "script": [[["result": "AUDIT OF:\n{{prompt}}"]]]],
        "reporter": ["driver": "fake", "script": [[["result": "REPORT OF:\n{{prompt}}"]]]],
    ]] }

    @Test("plan (approved) → implement → tests (auto: make test) fail → the implementer fixes → pass → the audit sees the diff and the tests")
    func implementLoop() async throws {
        let workspace = try await GitFixture.workspace(config: Self.agents, files: ["Makefile": Self.makefile])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("implement", task: "make the answer 42").string("id")
        let approval = try await drover.event(runId, "approval.requested").data
        #expect(approval.string("stepId") == "plan")
        try await drover.call("step/approve", ["runId": runId, "approvalId": approval.string("approvalId")])

        let failed = try await drover.event(runId, "tests.finished").data
        #expect(failed["passed"] as? Bool == false && failed["fixesLeft"] as? Int == 2)
        #expect(failed.string("summary").contains("FAIL: answer is '41', want 42"))
        #expect(failed.string("summary").contains(#"command "auto" runs `make test` (found Makefile's test target)"#))
        let fixer = try await drover.event(runId, "step.started") { $0.data.string("stepId") == "tests" && $0.data["attempt"] as? Int == 2 }
        #expect(fixer.data.string("role") == "implementer")
        let passed = try await drover.event(runId, "tests.finished") { $0.data["passed"] as? Bool == true }.data
        #expect(passed.string("summary").contains("1 passed, 0 failed"))
        try await drover.event(runId, "run.completed", timeout: .seconds(30))

        let run = try await drover.getRun(runId)
        #expect((run["steps"] as? [[String: Any]])?.map { $0.string("id") } == ["plan", "impl", "tests", "audit", "report"])
        let audit = run.step("audit").string("output")
        #expect(audit.contains("+42") && audit.contains("answer.txt | 1 +"), "the auditor sees the diff and its stat:\n\(audit)")
        #expect(audit.contains("1 passed, 0 failed"), "the auditor sees the latest test run")
        #expect(audit.contains("make the answer 42") && audit.contains("1. write answer.txt"))
        #expect(run.step("report").string("output").contains("AUDIT OF:"), "the report sees the audit")
        #expect(GitFixture.read(workspace.path + "/answer.txt") == nil, "all of it happened in the run's worktree")

        // No report file until one is asked for; run/report writes it, with the diffstat.
        let file = workspace.path + "/.drover/reports/\(runId).md"
        #expect(GitFixture.read(file) == nil, "a run nobody asked about leaves no report file")
        let report = try await drover.call("run/report", ["runId": runId])
        #expect(report.string("path") == file && report.string("markdown").contains(" answer.txt | 1 +"))
        let written = try #require(GitFixture.read(file))
        #expect(written.contains("- **Task:** make the answer 42") && written.contains("- **Outcome:** done"))
        #expect(written.contains("| tests | tests | done | 3 |"), "\(written)")
        #expect(written.contains("`tests` attempt 1") && written.contains("**failed**, exit 2, handed to the fixer (2 round(s) left)"), "\(written)")
        #expect(written.contains("FAIL: answer is '41', want 42") && written.contains("`tests` attempt 3"))
        #expect(written.contains("`plan` approval: **approved**"), "\(written)")
        #expect(written.contains("step `impl` attempt 1: 1 file(s), +1 -0") && written.contains("step `tests` attempt 2: 1 file(s), +1 -1"))
        #expect(written == report.string("markdown"))
    }

    @Test("\"command\": \"auto\" in a project with no test command fails the step with kind tests, listing what it looked for")
    func autoFindsNothing() async throws {
        let pipeline = FakePipeline.pipeline([["id": "tests", "kind": "tests", "command": "auto"]])
        let workspace = try await GitFixture.workspace(pipelines: ["check": pipeline], files: ["Makefile": "build:\n\ttrue\n"])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("check").string("id")
        try await drover.event(runId, "run.failed")
        let failure = try await drover.getRun(runId).object("failure")
        #expect(failure.string("kind") == "tests")
        let message = failure.string("message")
        #expect(message.contains("found no test command") && message.contains("Package.swift (swift test)")
                && message.contains("a Makefile with a 'test' target (make test)"), "\(message)")
        #expect(failure.string("hint").contains("\"command\""))
    }
}
