@testable import DroverEngine
import Foundation
import Testing

/// The agent records of a workspace's live attempts, one slot each in `.drover/agents`: reused, never
/// taken from a live engine, and left for the next engine by one that dies.
@Suite struct AgentRecordTableTests {
    private func record(_ pid: Int32) -> AgentProcessRecord {
        AgentProcessRecord(pid: pid, startTime: UInt64(pid) * 10, bootId: "boot-1")
    }

    private func key(_ runId: String, attempt: Int = 1) -> AgentRecordTable.Key {
        .init(runId: runId, stepId: "work", attempt: attempt)
    }

    private func slots(_ path: String) throws -> Int {
        try (FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0) / AgentRecordTable.slotSize
    }

    @Test("records go in place: a cleared slot is reused, so the file holds only as many slots as attempts alive at once; 0600")
    func slotsAreReused() async throws {
        let dir = try TempDir()
        let path = dir.url.appendingPathComponent(".drover/agents").path
        let table = AgentRecordTable(path: path)
        for index in 1...3 { try table.add(record(Int32(index)), for: key("r-\(index)")) }
        #expect(try slots(path) == 3)
        try table.remove(key("r-2"))
        try table.remove(key("r-2"))  // already cleared: fine
        for attempt in 1...50 {
            try table.add(record(9), for: key("r-9", attempt: attempt))
            try table.remove(key("r-9", attempt: attempt))
        }
        #expect(try slots(path) == 3, "attempts one after another share a slot")
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)

        table.close()  // as if its engine died: the records stay for the next one
        #expect(await AgentRecordTable.orphans(of: key("r-1"), at: path) == [record(1)])
        let next = AgentRecordTable(path: path)
        #expect(next.entries(for: key("r-2")).isEmpty)
        #expect(next.entries(for: key("r-3")) == [record(3)])
        try next.remove(key("r-1"))
        #expect(AgentRecordTable(path: path).entries(for: key("r-1")).isEmpty, "a dead engine's record, once reaped, is cleared")
    }

    @Test("a live engine's slot is neither reported to another nor taken by it; once that engine is gone it is")
    func liveSlotsAreLeftAlone() async throws {
        let dir = try TempDir()
        let path = dir.url.appendingPathComponent(".drover/agents").path
        let alive = AgentRecordTable(path: path)
        try alive.add(record(1), for: key("r-1"))
        let other = AgentRecordTable(path: path)
        #expect(other.entries(for: key("r-1")).isEmpty, "its engine is alive: it is not an orphan")
        try other.remove(key("r-1"))
        try other.add(record(2), for: key("r-2"))
        #expect(try slots(path) == 2, "the other engine took a slot of its own")

        alive.close()
        #expect(await AgentRecordTable.orphans(of: key("r-1"), at: path) == [record(1)], "the writer is gone: its record is the survivor's to reap")
        #expect(other.entries(for: key("r-1")) == [record(1)])
        #expect(AgentRecordTable(path: path).entries(for: key("r-2")).isEmpty, "the other engine still holds its own")
        try other.add(record(3), for: key("r-3"))
        #expect(try slots(path) == 3, "a dead engine's record is not overwritten before it is reaped")
    }

    @Test("a torn or foreign slot counts as free; a record too long for a slot is refused with its size")
    func unreadableSlots() throws {
        let dir = try TempDir()
        let path = dir.url.appendingPathComponent(".drover/agents").path
        try FileManager.default.createDirectory(at: dir.url.appendingPathComponent(".drover"), withIntermediateDirectories: true)
        try Data("run=r-1\nstep=wo".utf8 + [UInt8](repeating: 0, count: AgentRecordTable.slotSize - 15)).write(to: URL(fileURLWithPath: path))
        let table = AgentRecordTable(path: path)
        #expect(table.entries(for: key("r-1")).isEmpty)
        try table.add(record(4), for: key("r-4"))
        #expect(try slots(path) == 1, "the torn slot was taken")
        let long = AgentProcessRecord(pid: 5, startTime: 5, bootId: "b", hostId: String(repeating: "h", count: AgentRecordTable.slotSize))
        let refused = #expect(throws: (any Error).self) { try table.add(long, for: key("r-5")) }
        #expect("\(refused.map { "\($0)" } ?? "")".contains("more than a slot's"))
    }
}

extension AgentRecordTable {
    /// The records of `key` a new table sees at `path`, once some appear (within 10 s): a closed table's
    /// locks go with its open file's last descriptor, and a process another test forks meanwhile holds a
    /// copy of it until it execs.
    static func orphans(of key: Key, at path: String) async -> [AgentProcessRecord] {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            let found = AgentRecordTable(path: path).entries(for: key)
            if !found.isEmpty || ContinuousClock.now >= deadline { return found }
            try? await Task.sleep(for: .milliseconds(10))  // polling interval
        }
    }
}
