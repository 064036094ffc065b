import Foundation
import Testing

/// Consensus steps over the real binary with fake agents in the roles: each role answers the same
/// prompt as its own attempt (all at once), a vote or a judge picks the output, and every answer stays visible.
@Suite("End to end: consensus steps")
struct ConsensusEndToEndTests {
    /// A fake agent for a role that answers `text` and reports some usage.
    static func role(_ text: String, say: String? = nil) -> [String: Any] {
        var turn: [[String: Any]] = [["usage": ["model": "fake-model", "input": 10, "output": 5, "costUSD": 0.01]]]
        if let say { turn.append(["say": say]) }
        turn.append(["result": text])
        return ["driver": "fake", "script": [turn]]
    }

    static func pipeline(_ consensus: [String: Any], next: Bool = true) -> [String: Any] {
        var steps: [[String: Any]] = [["id": "choose", "kind": "agent", "prompt": "Which database for {{task}}?", "consensus": consensus]]
        if next { steps.append(FakePipeline.step("use", prompt: "{{previous.output}}", turns: [[["result": "USING {{prompt}}"]]])) }
        return FakePipeline.pipeline(steps)
    }

    @Test("vote over three agents: the two that agree (case and spacing aside) win; every answer is an event with its own attempt, log and usage")
    func vote() async throws {
        let config: [String: Any] = ["agents": [
            "alpha": Self.role("Use PostgreSQL", say: "alpha saw: {{prompt}}"),
            "beta": Self.role("SQLite"),
            "gamma": Self.role("  use   postgresql\n"),
        ]]
        let workspace = try EngineWorkspace(
            pipelines: ["pick": Self.pipeline(["agents": ["alpha", "beta", "gamma"], "strategy": "vote"])], config: config)
        let drover = try await workspace.server()
        let runId = try await drover.startRun("pick", task: "the shop").string("id")
        try await drover.event(runId, "run.completed", timeout: .seconds(40))

        let events = try await drover.storedEvents(runId)
        // The roles answer at once, so their answers come in any order; attempts are numbered in the order listed.
        let candidates = events.filter { $0.string("type") == "consensus.candidate" }.map(\.data)
            .sorted { ($0["attempt"] as? Int ?? 0) < ($1["attempt"] as? Int ?? 0) }
        #expect(candidates.map { $0.string("role") } == ["alpha", "beta", "gamma"])
        #expect(candidates.map { $0["attempt"] as? Int } == [1, 2, 3])
        #expect(candidates.map { $0.string("output") } == ["Use PostgreSQL", "SQLite", "  use   postgresql\n"])
        let started = events.filter { $0.string("type") == "step.started" && $0.data.string("stepId") == "choose" }.map(\.data)
        #expect(started.map { $0.string("role") } == ["alpha", "beta", "gamma"], "each answer is an attempt run as its role")
        let decided = try #require(events.first { $0.string("type") == "consensus.decided" }).data
        #expect(decided.string("strategy") == "vote" && decided.string("winner") == "alpha")
        #expect(decided.string("reasons") == "2 of 3 answers agree (alpha, gamma)")
        #expect(events.filter { $0.string("type") == "usage.recorded" }.count == 3, "each answer's usage is recorded")

        let run = try await drover.getRun(runId)
        #expect(run.step("choose").string("output") == "Use PostgreSQL")
        #expect(run.step("choose")["attempts"] as? Int == 3)
        #expect(run.step("use").string("output") == "USING Use PostgreSQL")
        #expect(abs((run.object("usage")["costUSD"] as? Double ?? 0) - 0.03) < 1e-9)
        let log = try await drover.call("step/log", ["runId": runId, "stepId": "choose", "attempt": 1]).string("text")
        #expect(log.contains("alpha saw: Which database for the shop?"), "each role gets the step's prompt: \(log)")
    }

    @Test("vote with no two answers alike: the role listed first wins the tie, and says so")
    func voteTie() async throws {
        let config: [String: Any] = ["agents": ["alpha": Self.role("A"), "beta": Self.role("B")]]
        let workspace = try EngineWorkspace(
            pipelines: ["pick": Self.pipeline(["agents": ["beta", "alpha"], "strategy": "vote"], next: false)], config: config)
        let drover = try await workspace.server()
        let runId = try await drover.startRun("pick").string("id")
        let decided = try await drover.event(runId, "consensus.decided", timeout: .seconds(30)).data
        #expect(decided.string("winner") == "beta")
        #expect(decided.string("reasons").contains("the tie goes to the role listed first, beta"))
        try await drover.event(runId, "run.completed")
        #expect(try await drover.getRun(runId).step("choose").string("output") == "B")
    }

    @Test("judge over two agents: the judge sees both answers, picks one with its reasons; a merge becomes the output")
    func judge() async throws {
        let verdict = #"{"winner": "yankee", "reasons": "shorter and right"}"#
        let config: [String: Any] = ["agents": [
            "xray": Self.role("PostgreSQL, because it scales"),
            "yankee": Self.role("SQLite"),
            "judge": Self.role("```json\n\(verdict)\n```", say: "JUDGE PROMPT: {{prompt}}"),
            "merger": Self.role(#"{"output": "SQLite now, PostgreSQL later", "reasons": "both have a point"}"#),
        ]]
        let workspace = try EngineWorkspace(pipelines: [
            "judged": Self.pipeline(["agents": ["xray", "yankee"], "strategy": "judge", "judge": "judge"]),
            "merged": Self.pipeline(["agents": ["xray", "yankee"], "strategy": "judge", "judge": "merger"], next: false),
        ], config: config)
        let drover = try await workspace.server()

        let runId = try await drover.startRun("judged", task: "the shop").string("id")
        try await drover.event(runId, "run.completed", timeout: .seconds(40))
        let events = try await drover.storedEvents(runId)
        #expect(events.filter { $0.string("type") == "consensus.candidate" }.map { $0.data.string("role") }.sorted() == ["xray", "yankee"])
        let judgeStart = try #require(events.last { $0.string("type") == "step.started" && $0.data.string("stepId") == "choose" }).data
        #expect(judgeStart.string("role") == "judge" && judgeStart["attempt"] as? Int == 3)
        let decided = try #require(events.first { $0.string("type") == "consensus.decided" }).data
        #expect(decided.string("strategy") == "judge" && decided.string("winner") == "yankee")
        #expect(decided.string("reasons") == "shorter and right")
        let run = try await drover.getRun(runId)
        #expect(run.step("choose").string("output") == "SQLite")
        #expect(run.step("use").string("output") == "USING SQLite")
        let judgeLog = try await drover.call("step/log", ["runId": runId, "stepId": "choose", "attempt": 3]).string("text")
        #expect(judgeLog.contains("Which database for the shop?") && judgeLog.contains("Answer 1, from role 'xray':")
                && judgeLog.contains("PostgreSQL, because it scales") && judgeLog.contains("Answer 2, from role 'yankee':"),
                "the judge sees the request and both answers:\n\(judgeLog)")

        let mergedId = try await drover.startRun("merged").string("id")
        let merged = try await drover.event(mergedId, "consensus.decided", timeout: .seconds(30)).data
        #expect(merged.string("winner") == "merger" && merged.string("output") == "SQLite now, PostgreSQL later")
        try await drover.event(mergedId, "run.completed")
    }

    @Test("a judge whose reply names no answer fails the step with kind agent, quoting the reply")
    func unreadableVerdict() async throws {
        let config: [String: Any] = ["agents": [
            "xray": Self.role("A"), "yankee": Self.role("B"), "judge": Self.role("I like both"),
        ]]
        let workspace = try EngineWorkspace(
            pipelines: ["judged": Self.pipeline(["agents": ["xray", "yankee"], "strategy": "judge", "judge": "judge"], next: false)],
            config: config)
        let drover = try await workspace.server()
        let runId = try await drover.startRun("judged").string("id")
        try await drover.event(runId, "run.failed", timeout: .seconds(30))
        let failure = try await drover.getRun(runId).object("failure")
        #expect(failure.string("kind") == "agent" && failure.string("stepId") == "choose")
        #expect(failure.string("message").contains("The judge ('judge') of step 'choose' gave no verdict")
                && failure.string("message").contains("I like both"), "\(failure)")
    }

    @Test("pipeline/list explains a bad consensus block")
    func validation() async throws {
        let workspace = try EngineWorkspace(pipelines: [
            "bad": FakePipeline.pipeline([
                ["id": "a", "kind": "agent", "prompt": "p", "consensus": ["agents": ["solo"], "strategy": "vote"]],
                ["id": "b", "kind": "agent", "prompt": "p", "consensus": ["agents": ["x", "y"], "strategy": "judge"]],
                ["id": "c", "kind": "agent", "prompt": "p", "role": "x", "consensus": ["agents": ["x", "y"], "strategy": "poll"]],
            ]),
        ])
        let drover = try await workspace.server()
        let pipelines = try await drover.call("pipeline/list")["pipelines"] as? [[String: Any]] ?? []
        let errors = (pipelines.first { $0.string("id") == "bad" }?["errors"] as? [String] ?? []).joined(separator: "\n")
        #expect(errors.contains("step 1 ('a'): field 'consensus.agents' must list at least two role names"), "\(errors)")
        #expect(errors.contains("step 2 ('b'): field 'consensus.judge' is required with strategy \"judge\""), "\(errors)")
        #expect(errors.contains("step 3 ('c'): field 'consensus' names the roles that answer; leave out 'role' and 'agent'"), "\(errors)")
        #expect(errors.contains("step 3 ('c'): field 'consensus.strategy' must be \"vote\" or \"judge\""), "\(errors)")
    }
}
