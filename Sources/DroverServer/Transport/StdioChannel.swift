import DroverProtocol
import DroverSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The process's stdin/stdout as a protocol channel.
public enum StdioChannel {
    /// Moves the real stdout aside for the protocol and points fd 1 at stderr, so a stray
    /// `print` can never corrupt the stream. Returns the protocol's file descriptor.
    public static func takeOverStdout() -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        let protocolFD = dup(STDOUT_FILENO)
        _ = fcntl(protocolFD, F_SETFD, FD_CLOEXEC)
        dup2(STDERR_FILENO, STDOUT_FILENO)
        return protocolFD
    }

    /// Reads `fd` until end of input on the calling thread, handing the framed inputs of each read
    /// to `onInputs` (with the framing in effect), then calls `onEnd`. Blocks the calling thread until then.
    public static func readUntilEnd(
        fd: Int32, parser initial: MessageParser,
        onInputs: @escaping @Sendable ([FramedInput], Framing) -> Void,
        onFramingDetected: @escaping @Sendable (Framing) -> Void,
        onEnd: @escaping @Sendable () -> Void
    ) {
        var parser = initial
        var announced = parser.framing != nil
        if let framing = parser.framing { onFramingDetected(framing) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            let inputs = parser.push(buffer[0..<count])
            if !announced, let framing = parser.framing {
                announced = true
                onFramingDetected(framing)
            }
            if !inputs.isEmpty { onInputs(inputs, parser.framing ?? .ndjson) }
        }
        onEnd()
    }
}
