import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// File-system steps that keep drover's state readable by the user only.
///
/// Run logs and outputs can hold secrets from the code base, and `.drover/` sits inside a workspace
/// that may be untrusted, so these refuse symlinks rather than follow them somewhere else.
package enum PrivateFiles {
    /// Makes `path` a directory with mode 0700: created if missing, tightened if it exists.
    /// Throws if something other than a real directory (e.g. a symlink) is there.
    package static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o700) == 0 { return }
        let code = errno
        guard code == EEXIST else { throw StoreError.io("create directory", path, errno: code) }
        var info = stat()
        guard lstat(path, &info) == 0 else { throw StoreError.io("inspect", path, errno: errno) }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw StoreError(.io, "\(path) exists but is not a directory (symlinks are refused); move it away")
        }
        if info.st_mode & 0o777 != 0o700, chmod(path, 0o700) != 0 {
            throw StoreError.io("restrict permissions of", path, errno: errno)
        }
    }

    /// Throws a clear error if `path` is a symlink, before a lower layer fails with a vague one.
    package static func refuseSymlink(_ path: String) throws {
        var info = stat()
        if lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFLNK {
            throw StoreError(.io, "\(path) is a symlink; drover does not follow links for its own files, move it away")
        }
    }

    /// Creates `path` with `mode` if it does not exist (never truncates, never follows a symlink).
    /// Returns true if it created the file.
    @discardableResult
    package static func createFile(_ path: String, mode: mode_t, contents: String = "") throws -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        if fd < 0 {
            let code = errno
            if code == EEXIST { return false }
            throw StoreError.io("create", path, errno: code)
        }
        defer { close(fd) }
        // umask may have cleared bits of `mode`; the caller asked for exactly this mode.
        guard fchmod(fd, mode) == 0 else { throw StoreError.io("set permissions of", path, errno: errno) }
        var bytes = Array(contents.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw StoreError.io("write", path, errno: errno)
            }
            bytes = bytes.dropFirst(written)
        }
        return true
    }

    /// Replaces the file at `path` with `contents` (mode 0600) in one step: readers see the old file or
    /// the new one, never a mix. Creates the parent folder (0700) if it is missing.
    ///
    /// Not flushed to disk (no fsync): for files drover can always write again from the store, such as a
    /// run's report, where a power loss may at worst leave the file empty. `Data.write(options: .atomic)`
    /// fsyncs, which cost an ended run more than the rest of writing its report.
    package static func replaceFile(_ path: String, contents: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        let temporary = "\(folder)/.\((path as NSString).lastPathComponent).\(getpid()).\(temporaryCounter.add(1, ordering: .relaxed).newValue).tmp"
        do {
            try createFile(temporary, mode: 0o600, contents: contents)
        } catch {
            guard access(folder, F_OK) != 0 else { throw error }
            try makeDirectory(folder)
            try createFile(temporary, mode: 0o600, contents: contents)
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw StoreError.io("replace", path, errno: code)
        }
    }

    private static let temporaryCounter = Atomic<Int>(0)

    /// Sets `path` to `mode` if it exists; missing files are fine; a symlink is refused, never followed.
    ///
    /// Never opens the file: closing any descriptor of a file drops every POSIX lock this process holds
    /// on it, so an open and close of SQLite's `-shm` would silently release its connection's locks and
    /// let another process take the shared memory for its own (SQLite's "how to corrupt" §2.2).
    package static func restrict(_ path: String, mode: mode_t) throws {
        try refuseSymlink(path)
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw StoreError.io("inspect", path, errno: errno)
        }
        guard info.st_mode & 0o7777 != mode else { return }
        // AT_SYMLINK_NOFOLLOW: a link swapped in since lstat is refused (EOPNOTSUPP), not followed.
        guard fchmodat(AT_FDCWD, path, mode, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw StoreError.io("restrict permissions of", path, errno: errno)
        }
    }
}
