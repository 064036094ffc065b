import DroverSupport
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The attempt's log file: every line of stdout and stderr, as decoded, appended as it arrives.
///
/// It knows its own size, so each appended line's byte offset is known without asking the file system:
/// live `run/log` notifications carry those offsets, and they are the offsets `step/log` pages by.
final class LogFile: Sendable {
    private struct State {
        var fd: Int32
        var size: Int
    }
    private let state: Mutex<State>

    init(url: URL) throws {
        let path = url.path
        var fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        if fd < 0, errno == ENOENT {
            // The folder is missing (a workspace whose `.drover/logs/` is not made yet): made once, here.
            do {
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            } catch {
                throw ProcessLaunchError.logFile(path: path, reason: error.localizedDescription)
            }
            fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        }
        guard fd >= 0 else {
            throw ProcessLaunchError.logFile(path: path, reason: String(cString: strerror(errno)))
        }
        var info = stat()
        let size = fstat(fd, &info) == 0 ? Int(info.st_size) : 0
        self.state = Mutex(State(fd: fd, size: size))
    }

    /// Appends `lines`, each ended by a newline, in one write; returns the offset each line starts at.
    @discardableResult
    func append(lines: [String]) -> [Int] {
        var bytes: [UInt8] = []
        var starts: [Int] = []
        starts.reserveCapacity(lines.count)
        state.withLock { state in
            for line in lines {
                starts.append(state.size + bytes.count)
                bytes.append(contentsOf: line.utf8)
                bytes.append(UInt8(ascii: "\n"))
            }
            state.size += bytes.count
            guard state.fd >= 0 else { return }
            // A failed write (a full disk) must not take the agent down with it: the line is lost.
            writeAll(state.fd, bytes)
        }
        return starts
    }

    func close() {
        state.withLock { state in
            if state.fd >= 0 { closeDescriptor(state.fd) }
            state.fd = -1
        }
    }
}
