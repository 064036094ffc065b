import DroverStore
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which process an agent attempt is, kept on disk so that the next engine can kill the attempt's
/// process group if this engine dies without stopping it.
///
/// Why: agents run in their own process group (so a timeout or cancel kills all of it), which also
/// means they outlive an engine killed without warning (kill -9, the OOM killer). The next engine
/// re-runs the interrupted step, and without this the orphan would keep editing the same workspace.
/// The engine never trusts an agent to stop.
///
/// Decision: a small record per attempt, a slot of the workspace's `.drover/agents` (`AgentRecordTable`;
/// builds before it wrote a file per attempt, `logs/<run>/<step>.<attempt>.pid`, still read when reaping),
/// holding the leader's pid (which is also the group id), the host id (`OwnerIdentity.thisHost`), its
/// start time (field 22 of `/proc/<pid>/stat`, clock ticks since boot) and the boot id. Together they
/// name one process for good, so a pid recycled since, a record from before a reboot, or one written
/// on another host sharing the workspace, is never taken for ours. The engine
/// writes it right after the launch and clears it once the attempt has been reaped; the next engine
/// reaps the records of steps the store still shows `working` (their engine died mid-attempt) before it
/// records `step.interrupted` and re-runs them. Not an event: a pid means something on this
/// machine and in this boot only, it is not part of the run's history.
///
/// If the leader is gone but members of its group live on (the agent exited while no engine was
/// there to kill its children), the group id cannot have been reused while they live, so members whose
/// environment carries the run's `DROVER_RUN_ID` are taken as ours.
///
/// An engine killed between the spawn and the write leaves an orphan nobody recorded, so the next engine
/// also looks for the run's processes by their environment (`carrying(runId:workspace:)`): every agent
/// is spawned with `DROVER_RUN_ID` and `DROVER_SOURCE_WORKSPACE` (the engine's workspace, whatever
/// folder the run works in), and only one engine drives a workspace.
///
/// Limits: it reads `/proc`, so elsewhere than on Linux nothing is recorded and nothing reaped. Processes
/// that left the group (`setsid` daemons) or cleared their environment are out of reach, as they are
/// for a timeout.
struct AgentProcessRecord: Sendable, Hashable {
    /// The agent's pid, which is also its process-group id.
    var pid: Int32
    /// When it started: `/proc/<pid>/stat` field 22.
    var startTime: UInt64
    /// `/proc/sys/kernel/random/boot_id` when it started.
    var bootId: String
    /// The host it runs on: a pid names a process on that host only.
    var hostId: String

    /// The record of `pid` if it is a child of this process leading its own group (what
    /// `ProcessLauncher` spawns); nil otherwise, e.g. for a pretend pid or a process already reaped.
    static func ofChild(_ pid: Int32) -> AgentProcessRecord? {
        guard pid > 0, let stat = ProcStat(pid: pid), stat.ppid == getpid(), stat.pgrp == pid else { return nil }
        return AgentProcessRecord(pid: pid, startTime: stat.startTime, bootId: Self.currentBootId)
    }

    // MARK: The file

    /// The file's text: `pid=…`, `start=…`, `boot=…`, `host=…` lines.
    var text: String { "pid=\(pid)\nstart=\(startTime)\nboot=\(bootId)\nhost=\(hostId)\n" }

    /// Parses `text`; nil unless pid, start and boot are there and well formed. A record without a
    /// host (written before records had one) is this host's: those builds only drove local agents.
    init?(text: String) {
        guard let fields = Self.fields(of: text) else { return nil }
        self.init(fields: fields)
    }

    /// The record in `key=value` fields (others, such as the attempt's in `AgentRecordTable`, are ignored).
    init?(fields: [Substring: Substring]) {
        guard let pid = fields["pid"].flatMap({ Int32($0) }), pid > 0,
              let start = fields["start"].flatMap({ UInt64($0) }), let boot = fields["boot"] else { return nil }
        self.init(pid: pid, startTime: start, bootId: String(boot), hostId: fields["host"].map(String.init) ?? OwnerIdentity.thisHost)
    }

    /// The `key=value` lines of `text`; nil if a line is not one.
    static func fields(of text: String) -> [Substring: Substring]? {
        var fields: [Substring: Substring] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { return nil }
            fields[line[..<equals]] = line[line.index(after: equals)...]
        }
        return fields
    }

    init(pid: Int32, startTime: UInt64, bootId: String, hostId: String = OwnerIdentity.thisHost) {
        self.pid = pid
        self.startTime = startTime
        self.bootId = bootId
        self.hostId = hostId
    }

    /// The record in the file at `path` (how builds before `AgentRecordTable` kept it); nil if there is
    /// none or it is not a record (a symlink is not followed).
    static func read(from path: String) -> AgentProcessRecord? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = buffer.withUnsafeMutableBytes { readDescriptor(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return AgentProcessRecord(text: String(decoding: buffer[..<count], as: UTF8.self))
    }

    /// Removes the record at `path`; a missing one is fine.
    static func remove(_ path: String) throws {
        guard unlink(path) == 0 || errno == ENOENT else { throw StoreError.io("remove", path, errno: errno) }
    }

    // MARK: Reaping

    /// What `reap` did.
    enum Reaped: Sendable, Hashable {
        /// Nothing of the recorded group is alive, or what is alive is not ours.
        case nothing
        /// These members were alive; the group went after SIGTERM.
        case terminated([Int32])
        /// These members were alive; the group needed SIGKILL. `left` are still alive after it
        /// (e.g. stuck in uninterruptible sleep).
        case killed([Int32], left: [Int32])
    }

    /// How long after SIGKILL `reap` waits for the kernel to tear the group down.
    static let killWait: Duration = .seconds(5)

    /// Kills what is left of the recorded process group if it is still this run's attempt: SIGTERM to
    /// the group, up to `grace` for it to go (polling `/proc`), then SIGKILL.
    func reap(runId: String, grace: Duration) async -> Reaped {
        let members = livingMembers()
        guard !members.isEmpty, isOurs(runId: runId) else { return .nothing }
        // A group with a living member keeps its id, so -pid is still this group when signalled.
        _ = kill(-pid, SIGTERM)
        if await waitUntilGone(within: grace) { return .terminated(members) }
        _ = kill(-pid, SIGKILL)
        _ = await waitUntilGone(within: Self.killWait)
        return .killed(members, left: livingMembers())
    }

    /// Whether the recorded process runs on this host; if not, its pid means nothing here.
    var isOnThisHost: Bool { hostId == OwnerIdentity.thisHost }

    /// Whether the group is the recorded attempt's: same host, same boot, and the leader with the
    /// recorded start time, or (leader gone) a member whose environment names the run.
    func isOurs(runId: String) -> Bool {
        guard isOnThisHost, bootId == Self.currentBootId else { return false }
        if let leader = ProcStat(pid: pid) { return leader.startTime == startTime }
        let entry = Array("DROVER_RUN_ID=\(runId)".utf8)
        return livingMembers().contains { member in
            guard let environ = FileManager.default.contents(atPath: "/proc/\(member)/environ") else { return false }
            return environ.split(separator: 0).contains { Array($0) == entry }
        }
    }

    /// The process groups with a living member whose environment names `runId` in `workspace`: the
    /// run's agents whether or not a record was written. One record per group, led by its group id.
    static func carrying(runId: String, workspace: String) -> [AgentProcessRecord] {
        let runEntry = Array("DROVER_RUN_ID=\(runId)".utf8)
        let workspaceEntry = Array("DROVER_SOURCE_WORKSPACE=\(workspace)".utf8)
        var groups: Set<Int32> = []
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for candidate in names.compactMap(Int32.init) where candidate != getpid() {
            guard let stat = ProcStat(pid: candidate), stat.isAlive, stat.pgrp > 1, stat.pgrp != getpgrp(),
                  let environ = FileManager.default.contents(atPath: "/proc/\(candidate)/environ") else { continue }
            let entries = environ.split(separator: 0)
            guard entries.contains(where: { Array($0) == runEntry }),
                  entries.contains(where: { Array($0) == workspaceEntry }) else { continue }
            groups.insert(stat.pgrp)
        }
        return groups.sorted().map { group in
            AgentProcessRecord(pid: group, startTime: ProcStat(pid: group)?.startTime ?? 0, bootId: currentBootId)
        }
    }

    /// Pids of the group's processes that are alive (zombies waiting for a reaper do not count).
    func livingMembers() -> [Int32] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap(Int32.init).filter { candidate in
            guard let stat = ProcStat(pid: candidate) else { return false }
            return stat.pgrp == pid && stat.isAlive
        }.sorted()
    }

    private func waitUntilGone(within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while !livingMembers().isEmpty {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(20))  // polling interval
        }
        return true
    }

    /// This boot's id; empty where the kernel does not say.
    static let currentBootId: String = {
        let text = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)) ?? ""
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }()
}

/// The fields of `/proc/<pid>/stat` that drover uses.
struct ProcStat: Sendable, Hashable {
    /// R, S, D, Z, …
    var state: Substring
    var ppid: Int32
    var pgrp: Int32
    /// Field 22: when the process started, in clock ticks since boot.
    var startTime: UInt64

    /// Not a zombie waiting for its parent, nor dead.
    var isAlive: Bool { state != "Z" && state != "X" }

    /// Nil if there is no such process (or no `/proc`).
    init?(pid: Int32) {
        // One read(2): this runs at every launch (`AgentProcessRecord.ofChild`), where Foundation's
        // String(contentsOfFile:) cost more than the rest of the record.
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { closeDescriptor(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { readDescriptor(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        self.init(statLine: buffer[..<count])
    }

    /// Parses a stat line's bytes. The command name (field 2) may hold spaces and parentheses, so the
    /// fields are counted from its last `)`. Bytes, not a `String` split into all fifty fields: this runs
    /// at every launch, and that split cost more than reading the file.
    init?(statLine bytes: ArraySlice<UInt8>) {
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        // fields[0] is field 3 (state), so field N is fields[N - 3]; the rest after field 22 stays in one piece.
        let fields = bytes[bytes.index(after: close)...].split(separator: UInt8(ascii: " "), maxSplits: 20)
        guard fields.count > 19, let ppid = Self.decimal(fields[1]), let pgrp = Self.decimal(fields[2]),
              let start = Self.decimal(fields[19]), ppid <= Int32.max, pgrp <= Int32.max else { return nil }
        self.state = String(decoding: fields[0], as: UTF8.self)[...]
        self.ppid = Int32(ppid)
        self.pgrp = Int32(pgrp)
        self.startTime = start
    }

    /// A field of decimal digits; nil for anything else (or more than fits).
    private static func decimal(_ digits: ArraySlice<UInt8>) -> UInt64? {
        guard !digits.isEmpty else { return nil }
        var value: UInt64 = 0
        for byte in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            guard !overflow else { return nil }
            let (sum, carry) = times.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !carry else { return nil }
            value = sum
        }
        return value
    }
}

/// read(2) under another name: inside `AgentProcessRecord`, `read` is `read(from:)`.
private func readDescriptor(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}
