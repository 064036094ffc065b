import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Another process (or another `StoreLock` in this one) already drives the store.
public struct StoreLockError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Who the holder wrote into the lock file; nil if it had not written it yet.
    public var holder: OwnerIdentity?
    /// The `.drover` folder that is locked.
    public var storeDirectory: String

    /// The holder's pid (on its host, see `holder`).
    public var holderPID: Int32? { holder?.pid }

    public var description: String {
        "another drover engine (\(holder?.description ?? "pid unknown")) is driving \(storeDirectory); stop it or use read-only commands"
    }
}

extension StoreLockError: LocalizedError {
    public var errorDescription: String? { description }
}

/// The exclusive right to drive a store: an OS advisory lock (`flock`) on `.drover/engine.lock`.
///
/// Held until `release()` or until the process exits, when the OS drops it, so a crashed engine
/// never leaves a stale lock behind. The holder (pid and host, `OwnerIdentity`) is written into the
/// file for the error message of the next would-be holder. The descriptor is close-on-exec, so agent subprocesses never
/// inherit (and never prolong) the lock.
public final class StoreLock: Sendable {
    /// The lock file.
    public let path: String
    /// The lock file's descriptor; -1 once released.
    private let fd: Mutex<Int32>

    /// Acquires the lock on `path` (created with mode 0600 if missing) without waiting.
    /// - Throws: `StoreLockError` naming the holder's pid if it is taken; `StoreError` (kind `.io`)
    ///   if the file cannot be opened, e.g. because a symlink stands in its place.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StoreError.io("open lock file", path, errno: errno) }

        var rc: Int32
        var holder: OwnerIdentity?
        // A lock released a moment ago can still be held for a few milliseconds by a child this process is
        // spawning (its copy of the descriptor lives until the child execs, where close-on-exec drops it);
        // such a lock names no holder: try again briefly before calling it taken.
        let patience = Date().addingTimeInterval(0.5)
        while true {
            repeat { rc = flock(fd, LOCK_EX | LOCK_NB) } while rc != 0 && errno == EINTR
            guard rc != 0, errno == EWOULDBLOCK else { break }
            holder = Self.readOwner(fd)
            guard holder == nil, Date() < patience else { errno = EWOULDBLOCK; break }
            usleep(5_000)
        }
        if rc != 0 {
            let code = errno
            close(fd)
            if code == EWOULDBLOCK {
                let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
                throw StoreLockError(holder: holder, storeDirectory: directory)
            }
            throw StoreError.io("lock", path, errno: code)
        }
        self.fd = Mutex(fd)
        // A pre-existing file may have a looser mode; the lock file is ours, so make it user-only.
        _ = fchmod(fd, 0o600)
        Self.writeOwner(fd)
    }

    /// Acquires the lock of the store laid out by `layout`.
    public convenience init(layout: StoreLayout) throws {
        try self.init(path: layout.lockPath)
    }

    deinit { release() }

    /// Whether this object still holds the lock.
    public var isHeld: Bool {
        fd.withLock { $0 >= 0 }
    }

    /// The descriptor, for tests that check it is close-on-exec; -1 once released.
    var fileDescriptor: Int32 { fd.withLock { $0 } }

    /// Gives the lock up. Safe to call more than once.
    public func release() {
        fd.withLock { fd in
            guard fd >= 0 else { return }
            // Clear the owner first so nobody reads a stale one; closing drops the lock.
            _ = ftruncate(fd, 0)
            close(fd)
            fd = -1
        }
    }

    private static func writeOwner(_ fd: Int32) {
        let bytes = Array(OwnerIdentity.current.recordLines.utf8)
        _ = ftruncate(fd, 0)
        // Best effort: the lock itself is what excludes; the owner only improves the message.
        _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    private static func readOwner(_ fd: Int32) -> OwnerIdentity? {
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        return OwnerIdentity(recordText: String(decoding: buffer[..<count], as: UTF8.self))
    }
}
