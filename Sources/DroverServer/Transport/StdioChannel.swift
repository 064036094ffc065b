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

    /// Reads `fd` until end of input on the calling thread — `first` before it, as if read from it —
    /// handing the framed inputs of each read to `onInputs` (with the framing in effect), then calls
    /// `onEnd`. Blocks the calling thread until then. With `endsWith`, input also ends as soon as that
    /// descriptor is readable (or hung up): `fd` may be shared with a process that has gone.
    public static func readUntilEnd(
        fd: Int32, first: [UInt8] = [], endsWith: Int32? = nil, parser initial: MessageParser,
        onInputs: @escaping @Sendable ([FramedInput], Framing) -> Void,
        onFramingDetected: @escaping @Sendable (Framing) -> Void,
        onEnd: @escaping @Sendable () -> Void
    ) {
        var parser = initial
        var announced = parser.framing != nil
        if let framing = parser.framing { onFramingDetected(framing) }
        // Emptied, not made anew, per read.
        var inputs: [FramedInput] = []
        func handle(_ bytes: ArraySlice<UInt8>) {
            inputs.removeAll(keepingCapacity: true)
            parser.push(bytes, into: &inputs)
            if !announced, let framing = parser.framing {
                announced = true
                onFramingDetected(framing)
            }
            if !inputs.isEmpty { onInputs(inputs, parser.framing ?? .ndjson) }
        }
        if !first.isEmpty { handle(first[...]) }
        // Woken by each request, the reader is run at once rather than after the client's slice. Asked for
        // after `first` (a handed-over client's `initialize`): its two system calls are no part of that answer.
        let sliced = ReaderSlice.begin()
        defer { if sliced { ReaderSlice.end() } }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        // Made once: this loop runs per request.
        var watched = endsWith.map { [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: $0, events: Int16(POLLIN), revents: 0)] } ?? []
        // With `endsWith` armed, reads block on `fd` alone (one system call per request, not two) and
        // end when `endsWith` becomes readable; otherwise both are polled before each read.
        let armed = endsWith.flatMap { ReadEndsWith.arm(reading: fd, endsWith: $0) }
        while true {
            if armed == nil, !watched.isEmpty, !waitForInput(&watched) { break }
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            // EAGAIN: a descriptor handed over may be non-blocking; poll waits for it (and for `endsWith`).
            if count < 0 && endsWith != nil && (errno == EAGAIN || errno == EWOULDBLOCK) {
                if armed != nil, !waitForInput(&watched) { break }
                continue
            }
            if count <= 0 { break }
            handle(buffer[0..<count])
        }
        armed?.disarm()
        onEnd()
    }

    /// Waits until `descriptors[0]` has input (or its end); false once `descriptors[1]` is readable or
    /// hung up first.
    private static func waitForInput(_ descriptors: inout [pollfd]) -> Bool {
        while true {
            let ready = poll(&descriptors, 2, -1)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { return false }
            return descriptors[1].revents == 0
        }
    }
}
