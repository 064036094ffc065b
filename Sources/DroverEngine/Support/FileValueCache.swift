import Foundation
import Synchronization

/// One version of a file, told apart without reading it: device, inode, size and the modification
/// and change times (nanoseconds). An edit in place changes the size or the times; an editor's
/// write-and-rename changes the inode.
struct FileIdentity: Hashable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: timespec
    var changed: timespec

    /// The identity of the file at `path` now, or nil when there is none (or it cannot be inspected).
    static func of(_ path: String) -> FileIdentity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileIdentity(info)
    }

    /// The identity `info` (a `stat` of the file, or an `lstat` of one that is no symlink) describes.
    init(_ info: stat) {
        self.init(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
                  modified: info.st_mtim, changed: info.st_ctim)
    }

    init(device: UInt64, inode: UInt64, size: Int64, modified: timespec, changed: timespec) {
        self.device = device
        self.inode = inode
        self.size = size
        self.modified = modified
        self.changed = changed
    }

    /// Whether the file last changed more than `seconds` ago.
    func isSettled(after seconds: Int) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return max(modified.tv_sec, changed.tv_sec) + seconds < now.tv_sec
    }

    static func == (a: FileIdentity, b: FileIdentity) -> Bool {
        a.device == b.device && a.inode == b.inode && a.size == b.size
            && a.modified.tv_sec == b.modified.tv_sec && a.modified.tv_nsec == b.modified.tv_nsec
            && a.changed.tv_sec == b.changed.tv_sec && a.changed.tv_nsec == b.changed.tv_nsec
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(inode)
        hasher.combine(size)
        hasher.combine(modified.tv_nsec)
    }
}

/// What was made of files (parsed config, trust, pipelines), kept per path and made again only when
/// a file's `FileIdentity` changed, so reading them before every attempt costs one `stat` per file
/// and an edit still counts from the next read on. Safe from any thread.
final class FileValueCache<Value: Sendable>: Sendable {
    private struct Kept: Sendable {
        var identities: [FileIdentity?]
        var value: Value
    }

    private let kept = Mutex<[[String]: Kept]>([:])
    private let settleSeconds: Int

    /// - Parameter settleSeconds: how long after its last change a file counts as settled (see `value`).
    init(settleSeconds: Int = 2) {
        self.settleSeconds = settleSeconds
    }

    /// The value of the file at `path` (absent files included: `make` sees that), made by `make` when
    /// the file is new to this cache or changed since.
    func value(at path: String, make: (String) -> Value) -> Value {
        value(at: [path]) { make(path) }
    }

    /// `value(at:make:)` for a caller that has just `stat`ed the file: `identity` is what it found.
    func value(at path: String, identity: FileIdentity, make: (String) -> Value) -> Value {
        value(at: [path], identities: [identity]) { make(path) }
    }

    /// The value made of the files at `paths` together, made again when any of them changed.
    ///
    /// A file changed within the last `settleSeconds` is read every time: file-system timestamps are
    /// coarse (a few milliseconds), so two same-size writes in place within one tick would otherwise
    /// look like one version (git's "racily clean" files, handled the same way).
    func value(at paths: [String], make: () -> Value) -> Value {
        value(at: paths, identities: paths.map(FileIdentity.of), make: make)
    }

    private func value(at paths: [String], identities: [FileIdentity?], make: () -> Value) -> Value {
        if let found = kept.withLock({ $0[paths] }), found.identities == identities,
           identities.allSatisfy({ $0?.isSettled(after: settleSeconds) ?? true }) {
            return found.value
        }
        let value = make()
        kept.withLock { $0[paths] = Kept(identities: identities, value: value) }
        return value
    }
}
