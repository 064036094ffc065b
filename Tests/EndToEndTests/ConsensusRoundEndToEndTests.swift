import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A consensus step's round over the real binary and real git: the roles run at once, each in a
/// worktree of its own in an isolated run (only the winner's change reaches the run's worktree), a
/// candidate that fails leaves the others to decide, and cancel or kill -9 leave nothing behind.
@Suite("End to end: consensus rounds")
struct ConsensusRoundEndToEndTests {
    /// A fake agent for a role, from its turns (attempt N plays turn N, the last one repeats).
    static func role(_ turns: [[[String: Any]]]) -> [String: Any] {
        ["driver": "fake", "script": turns]
    }

    static func pipeline(_ consensus: [String: Any]) -> [String: Any] {
        FakePipeline.pipeline([["id": "choose", "kind": "agent", "prompt": "Pick for {{task}}", "consensus": consensus]])
    }

    static func vote(_ agents: [String]) -> [String: Any] { ["agents": agents, "strategy": "vote"] }

    /// Where a run/log line or run/event first arrived among the client's notifications.
    static func index(in drover: DroverProcess, _ matches: ([String: Any]) -> Bool) -> Int? {
        drover.notifications.firstIndex { message in
            guard let params = message["params"] as? [String: Any] else { return false }
            return matches(["method": message["method"] as? String ?? "", "params": params])
        }
    }

    static func candidates(_ events: [[String: Any]]) -> [[String: Any]] {
        events.filter { $0.string("type") == "consensus.candidate" }.map(\.data)
            .sorted { ($0["attempt"] as? Int ?? 0) < ($1["attempt"] as? Int ?? 0) }
    }

    /// The paths of the repository's worktrees (`git worktree list`).
    static func worktrees(_ workspace: EngineWorkspace) async throws -> [String] {
        try await GitFixture.git(workspace.path, "worktree", "list", "--porcelain")
            .split(separator: "\n").filter { $0.hasPrefix("worktree ") }.map { String($0.dropFirst("worktree ".count)) }
    }

    /// What candidate worktrees and branches of `runId` are left.
    static func candidatesLeft(_ workspace: EngineWorkspace, runId: String) async throws -> [String] {
        let branches = try await GitFixture.git(workspace.path, "branch", "--list", "drover-candidate/*")
        let folder = workspace.path + "/.drover/candidates/\(runId)"
        return (branches.isEmpty ? [] : [branches]) + (FileManager.default.fileExists(atPath: folder) ? [folder] : [])
    }

    @Test("the roles run at once: every candidate has started before any has answered")
    func concurrent() async throws {
        let slow: (String) -> [String: Any] = { name in
            Self.role([[["say": "\(name) started"], ["sleep": 2], ["result": "\(name)'s pick"]]])
        }
        let workspace = try EngineWorkspace(
            pipelines: ["pick": Self.pipeline(Self.vote(["alpha", "beta", "gamma"]))],
            config: ["agents": ["alpha": slow("alpha"), "beta": slow("beta"), "gamma": slow("gamma")]])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("pick").string("id")
        try await drover.event(runId, "run.completed", timeout: .seconds(40))

        let firstAnswer = try #require(Self.index(in: drover) {
            $0.string("method") == "run/event" && $0.object("params").string("type") == "consensus.candidate"
        })
        for name in ["alpha", "beta", "gamma"] {
            let started = try #require(Self.index(in: drover) {
                $0.string("method") == "run/log" && $0.object("params").string("text") == "\(name) started"
            })
            #expect(started < firstAnswer, "\(name) started before the first candidate answered")
        }
        let events = try await drover.storedEvents(runId)
        #expect(Self.candidates(events).map { $0.string("role") } == ["alpha", "beta", "gamma"])
        let decided = try #require(events.first { $0.string("type") == "consensus.decided" }).data
        #expect(decided.string("winner") == "alpha", "no two agree: the role listed first wins")
    }

    @Test("a failing candidate is recorded with its failure; the vote decides over the others")
    func failingCandidate() async throws {
        let workspace = try EngineWorkspace(
            pipelines: ["pick": Self.pipeline(Self.vote(["alpha", "beta", "gamma"]))],
            config: ["agents": [
                "alpha": Self.role([[["result": "PostgreSQL"]]]),
                "beta": Self.role([[["fail": "beta's model is down"]]]),
                "gamma": Self.role([[["result": "postgresql"]]]),
            ]])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("pick").string("id")
        try await drover.event(runId, "run.completed", timeout: .seconds(40))

        let candidates = Self.candidates(try await drover.storedEvents(runId))
        #expect(candidates.map { $0.string("role") } == ["alpha", "beta", "gamma"])
        let failed = candidates[1]
        #expect(failed.string("output") == "" && failed.object("failure").string("kind") == "agent")
        #expect(failed.object("failure").string("message").contains("beta's model is down"), "\(failed)")
        #expect(candidates[0]["failure"] == nil && candidates[2]["failure"] == nil)
        let run = try await drover.getRun(runId)
        #expect(run.step("choose").string("output") == "PostgreSQL")
        let decided = try await drover.storedEvents(runId).first { $0.string("type") == "consensus.decided" }?.data ?? [:]
        #expect(decided.string("reasons") == "2 of 2 answers agree (alpha, gamma)")
    }

    @Test("too few answers to vote (one of three) fail the step, naming each failed candidate")
    func tooFewAnswers() async throws {
        let workspace = try EngineWorkspace(
            pipelines: ["pick": Self.pipeline(Self.vote(["alpha", "beta", "gamma"]))],
            config: ["agents": [
                "alpha": Self.role([[["result": "PostgreSQL"]]]),
                "beta": Self.role([[["fail": "beta broke"]]]),
                "gamma": Self.role([[["fail": "gamma broke"]]]),
            ]])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("pick").string("id")
        try await drover.event(runId, "run.failed", timeout: .seconds(40))
        let failure = try await drover.getRun(runId).object("failure")
        #expect(failure.string("kind") == "agent" && failure.string("stepId") == "choose")
        let message = failure.string("message")
        #expect(message.contains("Consensus step 'choose' could not decide: 1 of 3 roles answered; more than half of the 3 roles must answer to vote"),
                "\(message)")
        #expect(message.contains("'beta' (attempt 2): beta broke") && message.contains("'gamma' (attempt 3): gamma broke"), "\(message)")
    }

    @Test("a rate-limited candidate the vote cannot do without: the run waits for the limit, then runs a fresh round")
    func rateLimitedCandidate() async throws {
        let workspace = try EngineWorkspace(
            pipelines: ["pick": Self.pipeline(Self.vote(["alpha", "beta"]))],
            config: ["agents": [
                "alpha": Self.role([[["result": "same"]]]),
                // Attempt 2 (the first round) is rate limited; attempt 4 (the next round) answers.
                "beta": Self.role([[["result": "same"]], [["rateLimit": ["message": "429 slow down", "retryAfter": 1]]], [["result": "same"]]]),
            ]])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("pick").string("id")
        let queued = try await drover.event(runId, "run.queued", timeout: .seconds(30)) { $0.data.string("reason") == "rate_limit" }.data
        #expect(queued.string("stepId") == "choose" && queued.string("message") == "429 slow down")
        try await drover.event(runId, "run.completed", timeout: .seconds(40))

        let events = try await drover.storedEvents(runId)
        let candidates = Self.candidates(events)
        #expect(candidates.map { $0["attempt"] as? Int } == [1, 2, 3, 4])
        #expect(candidates[1].object("failure").string("message").contains("was rate limited (429 slow down)"), "\(candidates[1])")
        let decided = try #require(events.first { $0.string("type") == "consensus.decided" }).data
        #expect(decided.string("reasons") == "2 of 2 answers agree (alpha, beta)", "the fresh round's answers decide")
        #expect(!events.contains { $0.string("type") == "run.failed" })
    }

    @Test("a judge judges the answers there are: a failed candidate is left out of its prompt")
    func judgeOverTheAnswers() async throws {
        let workspace = try EngineWorkspace(
            pipelines: ["pick": Self.pipeline(["agents": ["xray", "yankee"], "strategy": "judge", "judge": "judge"])],
            config: ["agents": [
                "xray": Self.role([[["fail": "xray broke"]]]),
                "yankee": Self.role([[["result": "SQLite"]]]),
                "judge": Self.role([[["say": "JUDGE: {{prompt}}"], ["result": #"{"winner": "yankee", "reasons": "the only answer"}"#]]]),
            ]])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("pick").string("id")
        try await drover.event(runId, "run.completed", timeout: .seconds(40))
        #expect(try await drover.getRun(runId).step("choose").string("output") == "SQLite")
        let judgeLog = try await drover.call("step/log", ["runId": runId, "stepId": "choose", "attempt": 3]).string("text")
        #expect(judgeLog.contains("Answer 1, from role 'yankee':") && !judgeLog.contains("xray"), "\(judgeLog)")
    }

    @Test("isolated run: each candidate edits in its own worktree; only the winner's edit reaches the run's worktree and run/diff; no worktree is left")
    func isolatedCandidates() async throws {
        let writer: (String, String) -> [String: Any] = { name, answer in
            Self.role([[["write": ["path": "choice.txt", "text": "\(name) was here\n"]], ["result": answer]]])
        }
        let workspace = try await GitFixture.workspace(
            pipelines: ["pick": FakePipeline.pipeline([
                ["id": "choose", "kind": "agent", "prompt": "Pick", "consensus": Self.vote(["alpha", "beta", "gamma"])],
                FakePipeline.step("after", prompt: "next", turns: [[["result": "after"]]]),
            ])],
            config: ["agents": ["alpha": writer("alpha", "A"), "beta": writer("beta", "B"), "gamma": writer("gamma", "A")]])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("pick").string("id")
        try await drover.event(runId, "run.completed", timeout: .seconds(60))

        let events = try await drover.storedEvents(runId)
        let candidates = Self.candidates(events)
        #expect(candidates.allSatisfy { !$0.string("commit").isEmpty }, "each candidate's change is committed in its worktree: \(candidates)")
        #expect(Set(candidates.map { $0.string("commit") }).count == 3)
        let decided = try #require(events.first { $0.string("type") == "consensus.decided" }).data
        #expect(decided.string("winner") == "alpha" && decided.string("changesFrom") == "alpha")
        let committed = events.filter { $0.string("type") == "step.committed" && $0.data.string("stepId") == "choose" }.map(\.data)
        #expect(committed.count == 1 && committed.first?["attempt"] as? Int == 1, "the winner's change is the step's: \(committed)")

        let run = try await drover.getRun(runId)
        let runPath = run.object("workspace").string("path")
        #expect(GitFixture.read(runPath + "/choice.txt") == "alpha was here\n")
        #expect(GitFixture.read(workspace.path + "/choice.txt") == nil, "not in the user's tree")
        let diff = try await drover.call("run/diff", ["runId": runId])
        let files = diff["files"] as? [[String: Any]] ?? []
        #expect(files.map { $0.string("path") } == ["choice.txt"])
        let patch = files.first?.string("patch") ?? ""
        #expect(patch.contains("+alpha was here") && !patch.contains("beta") && !patch.contains("gamma"), "\(patch)")

        #expect(try await Self.worktrees(workspace).sorted() == [workspace.path, runPath].sorted(), "only the user's tree and the run's")
        #expect(try await Self.candidatesLeft(workspace, runId: runId).isEmpty)
    }

    @Test("isolated run, judge: a merged answer keeps the file changes of the role the judge names; cancel while the judge runs removes the candidates' worktrees")
    func isolatedJudge() async throws {
        let writer: (String) -> [String: Any] = { name in
            Self.role([[["write": ["path": "\(name).txt", "text": "\(name)\n"]], ["result": "\(name)'s answer"]]])
        }
        let judged: (String) -> [String: Any] = { judge in
            Self.pipeline(["agents": ["xray", "yankee"], "strategy": "judge", "judge": judge])
        }
        let workspace = try await GitFixture.workspace(
            pipelines: ["merged": judged("merger"), "stuck": judged("sleeper")],
            config: ["agents": [
                "xray": writer("xray"), "yankee": writer("yankee"),
                "merger": Self.role([[["result": #"{"output": "both, merged", "reasons": "r", "changesFrom": "yankee"}"#]]]),
                "sleeper": Self.role([[["say": "judging"], ["hang": true]]]),
            ]])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("merged").string("id")
        try await drover.event(runId, "run.completed", timeout: .seconds(60))
        let decided = try #require(try await drover.storedEvents(runId).first { $0.string("type") == "consensus.decided" }).data
        #expect(decided.string("winner") == "merger" && decided.string("changesFrom") == "yankee" && decided.string("output") == "both, merged")
        let runPath = try await drover.getRun(runId).object("workspace").string("path")
        #expect(GitFixture.read(runPath + "/yankee.txt") == "yankee\n" && GitFixture.read(runPath + "/xray.txt") == nil)
        #expect(try await Self.candidatesLeft(workspace, runId: runId).isEmpty)

        let stuckId = try await drover.startRun("stuck").string("id")
        try await drover.logLine(stuckId, "judging", timeout: .seconds(60))
        #expect(try await !Self.candidatesLeft(workspace, runId: stuckId).isEmpty, "the candidates' worktrees wait for the judge")
        try await drover.call("run/cancel", ["runId": stuckId])
        let deadline = ContinuousClock.now + .seconds(20)
        while try await !Self.candidatesLeft(workspace, runId: stuckId).isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50)) // polling interval: the removal follows run.cancelled
        }
        #expect(try await Self.candidatesLeft(workspace, runId: stuckId).isEmpty)
        #expect(await workspace.waitForNoAgents().isEmpty)
    }

    @Test("cancel mid-round stops every candidate's process group and removes their worktrees")
    func cancelMidRound() async throws {
        let hanging: (String) -> [String: Any] = { name in Self.role([[["say": "\(name) up"], ["hang": true]]]) }
        let workspace = try await GitFixture.workspace(
            pipelines: ["pick": Self.pipeline(Self.vote(["alpha", "beta"]))],
            config: ["agents": ["alpha": hanging("alpha"), "beta": hanging("beta")]])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("pick").string("id")
        try await drover.logLine(runId, "alpha up", timeout: .seconds(30))
        try await drover.logLine(runId, "beta up", timeout: .seconds(30))
        #expect(try await Self.worktrees(workspace).count == 4, "the user's tree, the run's and two candidates'")

        let cancelled = try await drover.call("run/cancel", ["runId": runId, "reason": "enough"])
        #expect(cancelled.object("run").string("status") == "cancelled")
        #expect(await workspace.waitForNoAgents().isEmpty, "no candidate outlives the cancel")
        #expect(try await Self.worktrees(workspace).count == 2)
        #expect(try await Self.candidatesLeft(workspace, runId: runId).isEmpty)
        let events = try await drover.storedEvents(runId)
        #expect(!events.contains { $0.string("type") == "consensus.candidate" }, "a stopped round records no answers")
        #expect(agentRecords(workspace: workspace.path).isEmpty)
    }

    @Test("run/restart mid-round stops every candidate and runs the round afresh, in fresh worktrees")
    func restartMidRound() async throws {
        let role: (String) -> [String: Any] = { name in
            Self.role([[["say": "\(name) up"], ["hang": true]], [["say": "\(name) up"], ["hang": true]], [["result": "same"]]])
        }
        let workspace = try await GitFixture.workspace(
            pipelines: ["pick": Self.pipeline(Self.vote(["alpha", "beta"]))],
            config: ["agents": ["alpha": role("alpha"), "beta": role("beta")]])
        let drover = try await workspace.server()
        let runId = try await drover.startRun("pick").string("id")
        try await drover.logLine(runId, "alpha up", timeout: .seconds(30))
        try await drover.logLine(runId, "beta up", timeout: .seconds(30))
        let first = workspace.agentProcesses()
        try await drover.call("run/restart", ["runId": runId, "fromStep": "choose"])
        try await drover.event(runId, "run.completed", timeout: .seconds(60))
        #expect(first.allSatisfy { processState($0) == nil || processState($0) == "Z" }, "the first round's candidates were stopped")
        let events = try await drover.storedEvents(runId)
        #expect(Self.candidates(events).map { $0["attempt"] as? Int } == [3, 4], "only the fresh round answers")
        #expect(try await Self.worktrees(workspace).count == 2)
        #expect(try await Self.candidatesLeft(workspace, runId: runId).isEmpty)
    }

    @Test("kill -9 mid-round: the next engine kills every candidate, removes their worktrees and runs the round afresh")
    func killNineMidRound() async throws {
        // Attempts 1 and 2 (the first round) hang; attempts 3 and 4 (the round after the restart) answer.
        let role: (String) -> [String: Any] = { name in
            Self.role([[["say": "\(name) up"], ["hang": true]], [["say": "\(name) up"], ["hang": true]], [["result": "same"]]])
        }
        let workspace = try await GitFixture.workspace(
            pipelines: ["pick": Self.pipeline(Self.vote(["alpha", "beta"]))],
            config: ["agents": ["alpha": role("alpha"), "beta": role("beta")]])
        let first = try await workspace.server(daemon: false)
        let runId = try await first.startRun("pick").string("id")
        try await first.logLine(runId, "alpha up", timeout: .seconds(30))
        try await first.logLine(runId, "beta up", timeout: .seconds(30))
        let orphans = workspace.agentProcesses()
        #expect(orphans.count == 2)
        kill(first.pid, SIGKILL)
        #expect(try await first.waitForExit() != 0)

        let second = try await workspace.server(daemon: false)
        try await second.event(runId, "run.completed", timeout: .seconds(60))
        #expect(orphans.allSatisfy { processState($0) == nil || processState($0) == "Z" }, "the first round's candidates were killed")
        let events = try await second.storedEvents(runId)
        let steps = events.filter { $0.string("type").hasPrefix("step.") }.map { "\($0.string("type")) \($0.data["attempt"] as? Int ?? 0)" }
        #expect(steps == ["step.started 1", "step.started 2", "step.interrupted 2", "step.started 3", "step.started 4", "step.completed 4"], "\(steps)")
        #expect(Self.candidates(events).map { $0["attempt"] as? Int } == [3, 4], "only the fresh round's answers")
        #expect(try await Self.worktrees(workspace).count == 2)
        #expect(try await Self.candidatesLeft(workspace, runId: runId).isEmpty)
        #expect(try await second.shutdownAndExit() == 0)
        #expect(workspace.agentProcesses().isEmpty)
        let records = agentRecords(workspace: workspace.path)
        #expect(records.isEmpty, "every candidate's record went with it: \(records)")
    }
}
