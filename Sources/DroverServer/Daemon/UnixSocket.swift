import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A failure of a socket call, with the call's name and errno's text.
public struct SocketError: Error, CustomStringConvertible {
    public let description: String
    public let code: Int32

    init(_ call: String, _ code: Int32 = errno) {
        self.code = code
        self.description = "\(call): \(String(cString: strerror(code)))"
    }
}

/// The Unix-domain stream socket calls the engine and its clients use (blocking, close-on-exec).
public enum UnixSocket {
    /// The longest path `sockaddr_un.sun_path` holds, without its terminating NUL.
    public static let maxPathBytes = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    /// A listening socket at `path` (an old file there is replaced: call only while holding the
    /// workspace's lock), made mode 0600.
    public static func listen(at path: String, backlog: Int32 = 64) throws -> Int32 {
        let fd = try makeSocket()
        unlink(path)
        // The mode is set by umask at bind time, so nobody else can connect even for an instant.
        let previous = umask(0o177)
        let bound = withAddress(path) { bind(fd, $0, $1) }
        umask(previous)
        guard bound == 0 else {
            let error = SocketError("bind \(path)")
            close(fd)
            throw error
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let error = SocketError("listen")
            close(fd)
            throw error
        }
        return fd
    }

    /// A socket connected to `path`.
    public static func connect(to path: String) throws -> Int32 {
        let fd = try makeSocket()
        let result = withAddress(path) { Glibc.connect(fd, $0, $1) }
        guard result == 0 else {
            let error = SocketError("connect \(path)")
            close(fd)
            throw error
        }
        return fd
    }

    /// The next connection on listening socket `fd`, nil if `fd` was shut down or closed.
    public static func accept(_ fd: Int32) -> Int32? {
        while true {
            let client = Glibc.accept(fd, nil, nil)
            if client >= 0 {
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                return client
            }
            switch errno {
            case EINTR, ECONNABORTED, EMFILE, ENFILE, ENOBUFS, ENOMEM: continue
            default: return nil
            }
        }
    }

    /// The uid of the process at the other end of connected socket `fd` (SO_PEERCRED), nil if unknown.
    public static func peerUID(_ fd: Int32) -> uid_t? {
        var credentials = PeerCredentials()
        var size = socklen_t(MemoryLayout<PeerCredentials>.size)
        guard getsockopt(fd, SOL_SOCKET, soPeerCred, &credentials, &size) == 0 else { return nil }
        return credentials.uid
    }

    /// Linux's `struct ucred` (a GNU extension Swift's Glibc module does not import).
    private struct PeerCredentials {
        var pid: pid_t = 0
        var uid: uid_t = 0
        var gid: gid_t = 0
    }

    /// `SO_PEERCRED` on Linux.
    private static let soPeerCred: Int32 = 17

    /// Whether a peer with `peer` uid may use an engine run by `owner`: only the same user may.
    public static func admits(peer: uid_t?, owner: uid_t) -> Bool {
        peer == owner
    }

    private static func makeSocket() throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket") }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return fd
    }

    private static func withAddress<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8.prefix(maxPathBytes))
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                body($0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }
}
