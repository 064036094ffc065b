@testable import DroverEngine
import DroverProtocol
import DroverStore
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Agents left behind by a dead engine: the record written at launch, and the reap from it. Real
/// processes throughout; an agent is "orphaned" by never calling `terminate` on its handle.
@Suite("AgentProcessRecord")
struct AgentProcessRecordTests {
    typealias Support = LaunchTestSupport

    /// Launches `script` through `ProcessLauncher` as an attempt of run `runId`, waits for its
    /// "started" line and returns it with its record.
    private func launchAgent(_ script: String, runId: String = "r-1") async throws -> (Support.Launched, AgentProcessRecord) {
        let run = try Support.shell(script, environment: ["DROVER_RUN_ID": runId])
        #expect(await run.recorder.waitFor { $0 == .log(.agent, "started") })
        let record = try #require(AgentProcessRecord.ofChild(run.handle.pid))
        return (run, record)
    }

    @Test("the record names the child and its start time; a file an older build wrote is read and removed")
    func recordFile() async throws {
        let (run, record) = try await launchAgent("echo started; sleep 300")
        defer { run.handle.terminate(grace: .zero) }
        #expect(record.pid == run.handle.pid)
        #expect(record.startTime == ProcStat(pid: run.handle.pid)?.startTime)
        #expect(!record.bootId.isEmpty)
        #expect(AgentProcessRecord.ofChild(getpid()) == nil, "not a child of ours")
        #expect(AgentProcessRecord.ofChild(0) == nil)

        let path = run.directory.appendingPathComponent("a.1.pid").path
        try Data(record.text.utf8).write(to: URL(fileURLWithPath: path))
        #expect(AgentProcessRecord.read(from: path) == record)
        try AgentProcessRecord.remove(path)
        try AgentProcessRecord.remove(path)  // already gone: fine
        #expect(AgentProcessRecord.read(from: path) == nil)
        #expect(AgentProcessRecord(text: "pid=12\nstart=x\nboot=b\n") == nil)
        #expect(AgentProcessRecord(text: "pid=12\n") == nil)
    }

    @Test("a stat line is read past a command name holding spaces and parentheses; a short or malformed one is refused")
    func statLines() throws {
        let fields = (4...52).map { $0 == 22 ? "987654321" : "\($0)" }.joined(separator: " ")
        let line = "4242 (a (b) c) S 17 4242 \(fields.split(separator: " ").dropFirst(2).joined(separator: " "))\n"
        let stat = try #require(ProcStat(statLine: Array(line.utf8)[...]))
        #expect(stat.state == "S" && stat.ppid == 17 && stat.pgrp == 4242 && stat.startTime == 987654321)
        #expect(stat.isAlive)
        #expect(ProcStat(statLine: Array("4242 (zombie) Z 1 2 3".utf8)[...]) == nil, "too few fields")
        #expect(ProcStat(statLine: Array(line.replacingOccurrences(of: " 17 ", with: " x7 ").utf8)[...]) == nil)
        #expect(ProcStat(statLine: Array("no name here".utf8)[...]) == nil)
    }

    @Test("the record names its host; a record without one (older builds) is this host's")
    func recordHost() throws {
        let record = AgentProcessRecord(pid: 12, startTime: 34, bootId: "b", hostId: "elsewhere")
        #expect(record.text == "pid=12\nstart=34\nboot=b\nhost=elsewhere\n")
        #expect(AgentProcessRecord(text: record.text) == record)
        #expect(!record.isOnThisHost)
        let legacy = try #require(AgentProcessRecord(text: "pid=12\nstart=34\nboot=b\n"))
        #expect(legacy.hostId == OwnerIdentity.thisHost && legacy.isOnThisHost)
    }

    /// A run whose engine "died" while attempt a#1 ran: its agent, `script`, still running and recorded
    /// as `edit` makes the record (by default as the dead engine wrote it): in the workspace's table, or
    /// in the file an older build wrote (`legacy`).
    private func orphanedAttempt(_ script: String, legacy: Bool = false, edit: (inout AgentProcessRecord) -> Void = { _ in }) async throws
        -> (first: EngineHarness, runId: String, agent: Support.Launched, record: AgentProcessRecord, table: String)
    {
        let first = try await EngineHarness.make()
        let working = try await first.start("flow", inputs: ["lang": "c"])
        _ = try await first.nextLaunch("a", attempt: 1)
        var (agent, record) = try await launchAgent(script, runId: working.id)
        edit(&record)
        let layout = StoreLayout(workspace: first.workspace)
        if legacy {
            let path = try layout.agentRecordFile(runId: working.id, stepId: "a", attempt: 1)
            try FileManager.default.createDirectory(at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(record.text.utf8).write(to: path)
        } else {
            let dead = AgentRecordTable(path: layout.agentTablePath)
            try dead.add(record, for: .init(runId: working.id, stepId: "a", attempt: 1))
            dead.close()  // its engine died: the lock goes, the record stays
            _ = await AgentRecordTable.orphans(of: .init(runId: working.id, stepId: "a", attempt: 1), at: layout.agentTablePath)
        }
        return (first, working.id, agent, record, layout.agentTablePath)
    }

    private func recorded(_ table: String, runId: String) -> [AgentProcessRecord] {
        AgentRecordTable(path: table).entries(for: .init(runId: runId, stepId: "a", attempt: 1))
    }

    @Test("a record written on another host is never reaped by pid, and the engine leaves it in place")
    func otherHostsRecordIsLeftAlone() async throws {
        // A live process here whose pid happens to be in a record another host wrote for this attempt.
        let (first, runId, agent, record, table) = try await orphanedAttempt("echo started; sleep 300") { $0.hostId = "another-host" }
        defer { agent.handle.terminate(grace: .zero) }
        #expect(await record.reap(runId: runId, grace: .zero) == .nothing)

        let second = try await EngineHarness.make(store: first.store, dir: first.dir)
        await second.engine.resumeInterruptedRuns()
        #expect(ProcStat(pid: agent.handle.pid)?.isAlive == true, "never signalled")
        #expect(recorded(table, runId: runId) == [record], "the other host's record stays")
        try await second.nextLaunch("a", attempt: 2).handle.finish(.completed(output: "a"))
    }

    @Test("reap kills the whole group of a forgotten agent with SIGTERM")
    func reapTerminates() async throws {
        let (run, record) = try await launchAgent("sleep 300 & echo started; sleep 300")
        #expect(record.livingMembers().count >= 2)
        let reaped = await record.reap(runId: "r-1", grace: .seconds(5))
        guard case .terminated(let pids) = reaped, pids.contains(run.handle.pid), pids.count >= 2 else {
            Issue.record("expected the group to go on SIGTERM, got \(reaped)")
            run.handle.terminate(grace: .zero)
            return
        }
        #expect(Support.livingMembers(ofGroup: run.handle.pid).isEmpty, "gone when reap returns")
        guard case .failed(_, exitCode: nil)? = await Support.outcome(of: run.handle) else {
            Issue.record("the agent should have died of a signal")
            return
        }
    }

    @Test("reap escalates to SIGKILL after the grace when SIGTERM is ignored")
    func reapEscalates() async throws {
        let (run, record) = try await launchAgent("trap '' TERM; sleep 300 & echo started; while :; do sleep 1; done")
        let start = ContinuousClock.now
        guard case .killed(let pids, let left) = await record.reap(runId: "r-1", grace: .milliseconds(200)) else {
            Issue.record("expected SIGKILL")
            run.handle.terminate(grace: .zero)
            return
        }
        #expect(ContinuousClock.now - start >= .milliseconds(200))
        #expect(pids.contains(run.handle.pid) && left.isEmpty)
        #expect(Support.livingMembers(ofGroup: run.handle.pid).isEmpty)
        _ = await Support.outcome(of: run.handle)
    }

    @Test("a stale record kills nothing: process gone, pid recycled, another boot")
    func staleRecords() async throws {
        // The process is gone (reaped by its handle).
        let done = try Support.shell("exit 0", environment: ["DROVER_RUN_ID": "r-1"])
        _ = await Support.outcome(of: done.handle)
        let gone = AgentProcessRecord(pid: done.handle.pid, startTime: 1, bootId: AgentProcessRecord.currentBootId)
        #expect(await gone.reap(runId: "r-1", grace: .zero) == .nothing)

        // The pid now names another process: same pid, other start time. Or the record is from another boot.
        let (alive, real) = try await launchAgent("echo started; sleep 300")
        defer { alive.handle.terminate(grace: .zero) }
        var recycled = real
        recycled.startTime += 1
        var rebooted = real
        rebooted.bootId = "another-boot"
        for stale in [recycled, rebooted] {
            #expect(!stale.isOurs(runId: "r-1"))
            #expect(await stale.reap(runId: "r-1", grace: .zero) == .nothing)
        }
        #expect(Support.livingMembers(ofGroup: alive.handle.pid).contains(alive.handle.pid), "left alone")
        #expect(real.isOurs(runId: "r-1"))
    }

    @Test("with the leader gone, members of the group are killed only if they carry the run's id")
    func leaderlessGroup() async throws {
        for (runId, ours) in [("r-orphan", true), ("r-other", false)] {
            let leader = try Self.spawnGroupLeader("sleep 300 & exit 0", environment: ["DROVER_RUN_ID": runId])
            var status: Int32 = 0
            #expect(waitpid(leader, &status, 0) == leader)
            let members = Support.livingMembers(ofGroup: leader)
            #expect(members.count == 1 && !members.contains(leader))
            let record = AgentProcessRecord(pid: leader, startTime: 1, bootId: AgentProcessRecord.currentBootId)
            let reaped = await record.reap(runId: "r-orphan", grace: .seconds(5))
            if ours {
                #expect(reaped == .terminated(members))
            } else {
                #expect(reaped == .nothing)
                #expect(Support.livingMembers(ofGroup: leader) == members, "someone else's process is left alone")
                kill(-leader, SIGKILL)
            }
            #expect(await Support.groupIsGone(leader))
        }
    }

    @Test("resume kills the agent a dead engine left behind before the step re-runs, and clears its record",
          arguments: [false, true])
    func resumeReapsBeforeRerun(legacy: Bool) async throws {
        // The real process of a#1, as the dead engine left it: running, recorded, nobody holding its handle.
        let (first, runId, agent, record, table) = try await orphanedAttempt("sleep 300 & echo started; sleep 300", legacy: legacy)
        let legacyPath = try StoreLayout(workspace: first.workspace).agentRecordFile(runId: runId, stepId: "a", attempt: 1).path
        #expect(legacy ? AgentProcessRecord.read(from: legacyPath) == record : recorded(table, runId: runId) == [record])

        let second = try await EngineHarness.make(store: first.store, dir: first.dir)
        await second.engine.resumeInterruptedRuns()
        #expect(Support.livingMembers(ofGroup: agent.handle.pid).isEmpty, "killed before step.interrupted and the re-run")
        #expect(recorded(table, runId: runId).isEmpty && !FileManager.default.fileExists(atPath: legacyPath))
        try await second.next("step.interrupted", of: runId)
        try await second.nextLaunch("a", attempt: 2).handle.finish(.completed(output: "a"))
        _ = await Support.outcome(of: agent.handle)
    }

    /// `/bin/sh -c script` as the leader of a new process group, with stdio on /dev/null and reaped by
    /// the caller: unlike `ProcessLauncher`, nothing kills the group when the leader exits.
    private static func spawnGroupLeader(_ script: String, environment: [String: String]) throws -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Default signal handling, as ProcessLauncher gives its agents: the test runner may block or ignore some.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        posix_spawnattr_setpgroup(&attributes, 0)
        resetSignalsOnSpawn(&attributes)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd in Int32(0)...2 { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_RDWR, 0) }
        let arguments: [String] = ["/bin/sh", "-c", script]
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, envp)
        guard status == 0 else { throw POSIXError(POSIXErrorCode(rawValue: status) ?? .EINVAL) }
        return pid
    }
}
