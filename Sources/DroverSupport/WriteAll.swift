#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes every byte of `bytes` to `fd`: short writes and EINTR are retried, and EAGAIN (a
/// non-blocking descriptor that is full) waits until `fd` is writable. Returns nil once all is
/// written, else the errno that stopped it (EPIPE when the reader has gone); callers decide
/// whether that matters.
@discardableResult
public func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32? {
    var offset = 0
    while offset < bytes.count {
        let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if written >= 0 {
            offset += written
            continue
        }
        switch errno {
        case EINTR:
            continue
        case EAGAIN, EWOULDBLOCK:
            var writable = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            _ = poll(&writable, 1, -1)
        case let code:
            return code
        }
    }
    return nil
}

/// `writeAll` of an array of bytes.
@discardableResult
public func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32? {
    bytes.withUnsafeBytes { writeAll(fd, $0) }
}

/// `writeAll` of a slice of bytes.
@discardableResult
public func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>) -> Int32? {
    bytes.withUnsafeBytes { writeAll(fd, $0) }
}

/// `writeAll` of a string's UTF-8.
@discardableResult
public func writeAll(_ fd: Int32, _ text: String) -> Int32? {
    var text = text
    return text.withUTF8 { writeAll(fd, UnsafeRawBufferPointer($0)) }
}
