import DroverEngine
import DroverSupport
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
            // Close-on-exec from the start: an agent spawned by another thread meanwhile must not inherit it.
            let client = acceptCloseOnExec(fd)
            if client >= 0 { return client }
            switch errno {
            case EINTR, ECONNABORTED, EMFILE, ENFILE, ENOBUFS, ENOMEM: continue
            default: return nil
            }
        }
    }

    /// Sends all of `bytes` on connected socket `fd` with `descriptors` attached to them (SCM_RIGHTS: the
    /// peer gets its own copies); false if the peer has gone.
    public static func send(_ fd: Int32, _ bytes: [UInt8], passing descriptors: [Int32]) -> Bool {
        guard !descriptors.isEmpty else { return writeAll(fd, bytes) == nil }
        var control = [UInt8](repeating: 0, count: controlSpace(descriptors: descriptors.count))
        control.withUnsafeMutableBytes { raw in
            var header = cmsghdr()
            header.cmsg_len = controlHeaderSize + descriptors.count * MemoryLayout<Int32>.size
            header.cmsg_level = SOL_SOCKET
            header.cmsg_type = scmRights
            raw.storeBytes(of: header, as: cmsghdr.self)
            for (index, descriptor) in descriptors.enumerated() {
                raw.storeBytes(of: descriptor, toByteOffset: controlHeaderSize + index * MemoryLayout<Int32>.size, as: Int32.self)
            }
        }
        var bytes = bytes
        let sent = bytes.withUnsafeMutableBytes { data in
            control.withUnsafeMutableBytes { control in
                withMessage(data: data, control: control) { message in
                    while true {
                        let sent = sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
                        if sent < 0 && errno == EINTR { continue }
                        return sent
                    }
                }
            }
        }
        guard sent >= 0 else { return false }
        // The descriptors went with the first byte; whatever did not fit goes as plain bytes.
        return sent == bytes.count || writeAll(fd, bytes[sent...]) == nil
    }

    /// Reads up to `buffer.count` bytes from connected socket `fd` into `buffer`, adding any descriptors
    /// that came with them to `descriptors` (close-on-exec); like `read`, 0 at end of input, -1 on error.
    public static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, descriptors: inout [Int32]) -> Int {
        var control = [UInt8](repeating: 0, count: controlSpace(descriptors: maxPassedDescriptors))
        return control.withUnsafeMutableBytes { control in
            withMessage(data: buffer, control: control) { message in
                let count = recvmsg(fd, &message, msgCmsgCloexec)
                guard count >= 0 else { return count }
                var offset = 0
                while offset + controlHeaderSize <= message.msg_controllen {
                    let header = control.load(fromByteOffset: offset, as: cmsghdr.self)
                    guard header.cmsg_len >= controlHeaderSize, offset + header.cmsg_len <= message.msg_controllen else { break }
                    if header.cmsg_level == SOL_SOCKET && header.cmsg_type == scmRights {
                        let passed = (header.cmsg_len - controlHeaderSize) / MemoryLayout<Int32>.size
                        for index in 0..<passed {
                            descriptors.append(control.load(fromByteOffset: offset + controlHeaderSize + index * MemoryLayout<Int32>.size, as: Int32.self))
                        }
                    }
                    offset += aligned(header.cmsg_len)
                }
                return count
            }
        }
    }

    /// Calls `body` with a message of one data buffer and a control buffer (for `sendmsg`/`recvmsg`).
    private static func withMessage<Result>(data: UnsafeMutableRawBufferPointer, control: UnsafeMutableRawBufferPointer,
                                            _ body: (inout msghdr) -> Result) -> Result {
        var vector = iovec(iov_base: data.baseAddress, iov_len: data.count)
        return withUnsafeMutablePointer(to: &vector) { vector in
            var message = msghdr()
            message.msg_iov = vector
            message.msg_iovlen = 1
            message.msg_control = control.baseAddress
            message.msg_controllen = control.count
            return body(&message)
        }
    }

    /// The most descriptors one `receive` takes; a peer that sends more loses the rest (the kernel closes them).
    static let maxPassedDescriptors = 4

    /// `SCM_RIGHTS` and `MSG_CMSG_CLOEXEC` (glibc enum constants Swift's Glibc module does not import).
    private static let scmRights: Int32 = 1
    private static let msgCmsgCloexec: Int32 = 0x4000_0000

    /// `CMSG_ALIGN(sizeof(struct cmsghdr))`: where a control message's data starts.
    private static let controlHeaderSize = aligned(MemoryLayout<cmsghdr>.size)

    /// `CMSG_SPACE` of `count` descriptors.
    private static func controlSpace(descriptors count: Int) -> Int {
        controlHeaderSize + aligned(count * MemoryLayout<Int32>.size)
    }

    /// `CMSG_ALIGN`: rounded up to a multiple of `size_t`.
    private static func aligned(_ length: Int) -> Int {
        (length + MemoryLayout<Int>.size - 1) & ~(MemoryLayout<Int>.size - 1)
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
        // Close-on-exec from the start (not by a later fcntl): an agent spawned by another thread in
        // between would inherit the socket.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket") }
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
