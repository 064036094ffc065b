import DroverStore
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The workspace's agent process records (`AgentProcessRecord`), one fixed-size slot each in one file,
/// `.drover/agents` (mode 0600).
///
/// Why one file: a file per attempt cost every attempt an inode created and one removed, the largest
/// single part of the engine's own CPU with many short runs. A slot is written in place (`pwrite`) at
/// launch and zeroed when the attempt is reaped; the file grows only to the most attempts alive at once.
///
/// Who may touch a slot: the writer holds an open-file-description lock on its slot while the attempt
/// lives. The kernel drops it when the writer's engine dies, however it dies, so a slot that holds a
/// record and no lock is a dead engine's — the next engine's to reap (`entries(for:)`) and clear — and a
/// locked slot is left alone: its engine is alive. Two engines on one workspace (two workers on one host,
/// tests) therefore never take or clear each other's slots. The fd is close-on-exec: an agent that kept it
/// would keep its engine's locks alive.
///
/// Each slot: `run=…`, `step=…`, `attempt=…` lines, then `AgentProcessRecord.text`, padded with zero
/// bytes; a slot starting with a zero byte is free. A torn or unreadable slot is taken as free (the
/// engine also finds a run's agents by their environment, `AgentProcessRecord.carrying`).
///
/// Not thread-safe: the engine actor owns it.
final class AgentRecordTable {
    /// Which attempt a record is for.
    struct Key: Hashable, Sendable {
        var runId: String
        var stepId: String
        var attempt: Int
    }

    /// Bytes per slot: room for the longest ids (128 characters each) and a long host name.
    static let slotSize = 1024

    private let path: String
    private var fd: Int32 = -1
    /// Slots this table wrote and holds locked, by attempt.
    private var held: [Key: Int] = [:]
    /// Slots seen free (they may have been taken since by another engine: checked under the lock).
    private var free: [Int] = []
    /// Slots in the file as far as this table knows; the next new slot is this one.
    private var end = 0

    /// Describes the table at `path`; touches nothing on disk until it is used.
    init(path: String) {
        self.path = path
    }

    deinit { close() }

    /// Records that `record` runs the attempt `key`, in a free slot that stays locked until `remove(_:)`.
    func add(_ record: AgentProcessRecord, for key: Key) throws {
        let bytes = try Self.slotBytes(key: key, record: record)
        try openTable(creating: true)
        while true {
            let slot: Int
            if let reused = free.popLast() {
                slot = reused
            } else {
                slot = end
                end += 1
            }
            // Locked by a live engine, or (since this table last looked) holding a dead one's record: not ours to take.
            guard lock(slot) else { continue }
            guard Self.parse(readSlot(slot)) == nil else {
                unlock(slot)
                continue
            }
            guard pwrite(fd, bytes, bytes.count, off_t(slot * Self.slotSize)) == bytes.count else {
                let code = errno
                unlock(slot)
                free.append(slot)
                throw StoreError.io("write", path, errno: code)
            }
            held[key] = slot
            return
        }
    }

    /// Clears the record of the attempt `key`: this table's own, else a dead engine's (once reaped).
    /// Nothing recorded is fine.
    func remove(_ key: Key) throws {
        if let slot = held.removeValue(forKey: key) {
            defer {
                unlock(slot)
                free.append(slot)
            }
            try clear(slot)
            return
        }
        guard try openTable(creating: false) else { return }
        for (slot, entry) in scan() where entry.key == key && lock(slot) {
            defer { unlock(slot) }
            // Read again under the lock: the slot may have changed hands since the scan.
            guard Self.parse(readSlot(slot))?.key == key else { continue }
            try clear(slot)
            free.append(slot)
        }
    }

    /// The records of the attempt `key` that no live engine holds: what a dead engine left.
    func entries(for key: Key) -> [AgentProcessRecord] {
        guard (try? openTable(creating: false)) == true else { return [] }
        return scan().filter { $0.entry.key == key && !isLockedElsewhere($0.slot) }.map(\.entry.record)
    }

    /// Closes the file, releasing every slot lock and leaving the records: what a dying engine leaves.
    func close() {
        guard fd >= 0 else { return }
        closeDescriptor(fd)
        fd = -1
        held = [:]
        free = []
        end = 0
    }

    // MARK: The file

    /// Opens the file (creating it, 0600, when asked); false if it does not exist and was not created.
    @discardableResult
    private func openTable(creating: Bool) throws -> Bool {
        if fd >= 0 { return true }
        var flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW
        if creating { flags |= O_CREAT }
        var opened = open(path, flags, 0o600)
        if opened < 0, creating, errno == ENOENT {
            // The workspace's `.drover/` is made when the engine opens it; an engine built on a bare folder (tests) makes it here.
            try PrivateFiles.makeDirectory((path as NSString).deletingLastPathComponent)
            opened = open(path, flags, 0o600)
        }
        guard opened >= 0 else {
            if errno == ENOENT, !creating { return false }
            throw StoreError.io("open", path, errno: errno)
        }
        guard fchmod(opened, 0o600) == 0 else {
            let code = errno
            closeDescriptor(opened)
            throw StoreError.io("restrict permissions of", path, errno: code)
        }
        fd = opened
        var info = stat()
        let size = fstat(fd, &info) == 0 ? Int(info.st_size) : 0
        end = (size + Self.slotSize - 1) / Self.slotSize
        for slot in 0..<end where Self.parse(readSlot(slot)) == nil { free.append(slot) }
        free.reverse()  // lowest slots first
        return true
    }

    /// The slots that hold a record, with their slot numbers.
    private func scan() -> [(slot: Int, entry: Entry)] {
        var info = stat()
        let size = fstat(fd, &info) == 0 ? Int(info.st_size) : 0
        end = max(end, (size + Self.slotSize - 1) / Self.slotSize)
        return (0..<end).compactMap { slot in Self.parse(readSlot(slot)).map { (slot, $0) } }
    }

    private func readSlot(_ slot: Int) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: Self.slotSize)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, Self.slotSize, off_t(slot * Self.slotSize)) }
        return count > 0 ? Array(buffer[..<count]) : []
    }

    private func clear(_ slot: Int) throws {
        let zeros = [UInt8](repeating: 0, count: Self.slotSize)
        guard pwrite(fd, zeros, zeros.count, off_t(slot * Self.slotSize)) == zeros.count else {
            throw StoreError.io("write", path, errno: errno)
        }
    }

    // MARK: Slot locks

    private func lock(_ slot: Int) -> Bool {
        var request = Self.lockRequest(slot, type: F_WRLCK)
        return fcntl(fd, Self.setLock, &request) == 0
    }

    private func unlock(_ slot: Int) {
        var request = Self.lockRequest(slot, type: F_UNLCK)
        _ = fcntl(fd, Self.setLock, &request)
    }

    /// Whether another open file (another engine, alive) holds the slot's lock.
    private func isLockedElsewhere(_ slot: Int) -> Bool {
        var request = Self.lockRequest(slot, type: F_WRLCK)
        guard fcntl(fd, Self.getLock, &request) == 0 else { return false }
        return request.l_type != Int16(F_UNLCK)
    }

    private static func lockRequest(_ slot: Int, type: Int32) -> flock {
        var request = flock()
        request.l_type = Int16(type)
        request.l_whence = Int16(SEEK_SET)
        request.l_start = off_t(slot * slotSize)
        request.l_len = off_t(slotSize)
        return request
    }

    #if os(Linux)
    // Open-file-description locks (Linux ≥ 3.15): held per open file, not per process, so two tables
    // in one process exclude each other too, and closing another descriptor of the file drops nothing.
    private static let setLock: Int32 = 37  // F_OFD_SETLK, behind _GNU_SOURCE
    private static let getLock: Int32 = 36  // F_OFD_GETLK
    #else
    private static let setLock = F_SETLK
    private static let getLock = F_GETLK
    #endif

    // MARK: Slot text

    /// One slot's record and the attempt it is for.
    struct Entry: Hashable {
        var key: Key
        var record: AgentProcessRecord
    }

    static func slotBytes(key: Key, record: AgentProcessRecord) throws -> [UInt8] {
        var bytes = Array("run=\(key.runId)\nstep=\(key.stepId)\nattempt=\(key.attempt)\n\(record.text)".utf8)
        guard bytes.count < slotSize else {
            throw StoreError(.io, "the agent record of run \(key.runId) step \(key.stepId) is \(bytes.count) bytes, more than a slot's \(slotSize)")
        }
        bytes.append(contentsOf: repeatElement(0, count: slotSize - bytes.count))
        return bytes
    }

    /// The record in a slot's bytes; nil for a free, torn or unreadable slot.
    static func parse(_ bytes: [UInt8]) -> Entry? {
        let text = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        guard !text.isEmpty, let fields = AgentProcessRecord.fields(of: text), let record = AgentProcessRecord(fields: fields),
              let runId = fields["run"], let stepId = fields["step"], let attempt = fields["attempt"].flatMap({ Int($0) }) else {
            return nil
        }
        return Entry(key: Key(runId: String(runId), stepId: String(stepId), attempt: attempt), record: record)
    }
}
