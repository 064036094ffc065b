#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One read(2) of `fd` into `buffer`, retried when a signal interrupts it: the bytes read (a slice of
/// `buffer`, valid until the next read into it), nil at end of input or on an error. `writeAll`'s
/// counterpart for loops that read until the input ends: `while let chunk = readSome(fd, into: &buffer)`.
public func readSome(_ fd: Int32, into buffer: inout [UInt8]) -> ArraySlice<UInt8>? {
    while true {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        return count > 0 ? buffer[0..<count] : nil
    }
}
