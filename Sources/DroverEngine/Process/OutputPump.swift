import DroverProtocol
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything the I/O thread needs, gathered so it can cross into the thread as one Sendable value.
struct PumpSetup: Sendable {
    var handle: SpawnedProcessHandle
    var stdin: Int32
    var stdout: Int32
    var stderr: Int32
    var leaderExit: LeaderExitSignal
    var prompt: [UInt8]
    var log: LogFile
    var makeReader: @Sendable () -> any AgentOutputReader
    /// Present when stdin stays open after the prompt for the driver's replies.
    var input: AgentInput?
    var onReport: @Sendable (AgentReport) -> Void
    var drainTimeout: Duration
}

/// What polls readable once the attempt's leader has exited.
enum LeaderExitSignal: Sendable {
    /// The leader's pidfd: readable when it exits (not reaped: `waitid(WNOWAIT)` then returns at once).
    case processFD(Int32)
    /// The read end of a pipe a waiting thread writes one byte to after the leader exited.
    case pipe(Int32)

    var fd: Int32 {
        switch self {
        case .processFD(let fd), .pipe(let fd): fd
        }
    }
}

/// Feeds the prompt (and any replies) in and reads stdout/stderr out on one thread with poll(2), so a
/// child that writes a lot before reading its stdin (or never reads it) cannot deadlock us, and lines
/// keep their order. Every line goes to the log file first, then to the driver's reader.
///
/// Runs on a thread with SIGPIPE blocked (`ProcessLauncher`'s I/O threads block it once each): a write
/// to an agent that closed its stdin then fails with EPIPE instead of ending the engine.
final class OutputPump {
    private let setup: PumpSetup
    private var stdinFD: Int32
    private var stdoutFD: Int32
    private var stderrFD: Int32
    /// Bytes still to write to stdin: the prompt, then whatever the driver sends.
    private var pendingInput: [UInt8]
    private var pendingInputOffset = 0
    private var closeStdinWhenWritten: Bool
    private var stdoutLines = OutputLineSplitter()
    private var stderrLines = OutputLineSplitter()
    private let reader: any AgentOutputReader
    private var drainDeadline: ContinuousClock.Instant?
    private var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)

    init(_ setup: PumpSetup) {
        self.setup = setup
        stdinFD = setup.stdin
        stdoutFD = setup.stdout
        stderrFD = setup.stderr
        pendingInput = setup.prompt
        closeStdinWhenWritten = setup.input == nil
        reader = setup.makeReader()
        if let input = setup.input { reader.attach(input: input) }
    }

    func run() {
        // The new pipe is empty: the prompt (or its first 64 KiB) goes in without asking poll first.
        if pendingInput.isEmpty {
            if closeStdinWhenWritten { closeStdin() }
        } else {
            writeStdin(revents: Int16(POLLOUT))
        }

        while true {
            if let deadline = drainDeadline {
                if stdoutFD < 0 && stderrFD < 0 { break }
                if ContinuousClock.now >= deadline { break }
            } else if stdoutFD < 0, stderrFD < 0, stdinFD < 0, case .processFD = setup.leaderExit {
                // Output ended and nothing goes in: the leader's exit is all there is left to hear, and
                // waitid(WNOWAIT) waits for it as the pidfd's poll would, one system call sooner.
                leaderExited()
                continue
            }
            var fds: [pollfd] = []
            if stdoutFD >= 0 { fds.append(pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)) }
            if stderrFD >= 0 { fds.append(pollfd(fd: stderrFD, events: Int16(POLLIN), revents: 0)) }
            if stdinFD >= 0 && pendingInputOffset < pendingInput.count {
                fds.append(pollfd(fd: stdinFD, events: Int16(POLLOUT), revents: 0))
            }
            if drainDeadline == nil { fds.append(pollfd(fd: setup.leaderExit.fd, events: Int16(POLLIN), revents: 0)) }
            if let input = setup.input, stdinFD >= 0 { fds.append(pollfd(fd: input.wake.read, events: Int16(POLLIN), revents: 0)) }
            var timeout: Int32 = -1
            if let deadline = drainDeadline {
                let remaining = ContinuousClock.now.duration(to: deadline)
                timeout = Int32(clamping: max(1, remaining.milliseconds))
            }
            let ready = poll(&fds, nfds_t(fds.count), timeout)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            for entry in fds where entry.revents != 0 {
                switch entry.fd {
                case stdoutFD: readStdout()
                case stderrFD: readStderr()
                case stdinFD: writeStdin(revents: entry.revents)
                case setup.leaderExit.fd: leaderExited()
                default: if entry.fd == setup.input?.wake.read { takeInput() }
                }
            }
        }
        finish()
    }

    private func leaderExited() {
        switch setup.leaderExit {
        case .processFD:
            setup.handle.waitForLeaderExit()  // returns at once: the leader has exited
        case .pipe(let fd):
            var byte: UInt8 = 0
            _ = read(fd, &byte, 1)
        }
        closeStdin()
        // The pipes keep what was written before the kill, so nothing already printed is lost.
        setup.handle.killGroupAfterLeaderExit()
        drainDeadline = ContinuousClock.now + setup.drainTimeout
    }

    /// Moves what the driver sent into the stdin queue.
    private func takeInput() {
        guard let input = setup.input else { return }
        var drain = [UInt8](repeating: 0, count: 64)
        _ = read(input.wake.read, &drain, drain.count)
        let (bytes, close) = input.take()
        if pendingInputOffset == pendingInput.count {
            pendingInput = bytes
            pendingInputOffset = 0
        } else {
            pendingInput += bytes
        }
        if close { closeStdinWhenWritten = true }
        if pendingInputOffset == pendingInput.count && closeStdinWhenWritten { closeStdin() }
    }

    private func writeStdin(revents: Int16) {
        if revents & Int16(POLLERR | POLLHUP) != 0 && revents & Int16(POLLOUT) == 0 {
            closeStdin()
            return
        }
        while pendingInputOffset < pendingInput.count {
            let written = pendingInput.withUnsafeBytes { bytes in
                write(stdinFD, bytes.baseAddress! + pendingInputOffset, bytes.count - pendingInputOffset)
            }
            if written > 0 {
                pendingInputOffset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                return
            } else {
                // EPIPE: the agent does not want (the rest of) its input; that is its business.
                consumePendingSIGPIPE()
                closeStdin()
                return
            }
        }
        if closeStdinWhenWritten { closeStdin() }
    }

    private func consumePendingSIGPIPE() {
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        var zero = timespec(tv_sec: 0, tv_nsec: 0)
        _ = sigtimedwait(&pipeSignal, nil, &zero)
    }

    private func closeStdin() {
        guard stdinFD >= 0 else { return }
        close(stdinFD)
        stdinFD = -1
    }

    private func readStdout() {
        guard let chunk = readChunk(stdoutFD) else {
            close(stdoutFD)
            stdoutFD = -1
            if let last = stdoutLines.finish() { handleStdout([last]) }
            return
        }
        handleStdout(stdoutLines.feed(chunk))
    }

    private func readStderr() {
        guard let chunk = readChunk(stderrFD) else {
            close(stderrFD)
            stderrFD = -1
            if let last = stderrLines.finish() { handleStderr([last]) }
            return
        }
        handleStderr(stderrLines.feed(chunk))
    }

    /// One read's worth of bytes; an empty array if there was nothing after all, nil at EOF or on error.
    private func readChunk(_ fd: Int32) -> ArraySlice<UInt8>? {
        while true {
            let count = readBuffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if count > 0 { return readBuffer[0..<count] }
            if count == 0 { return nil }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return [] }
            return nil
        }
    }

    private func handleStdout(_ lines: [String]) {
        guard !lines.isEmpty else { return }
        let offsets = setup.log.append(lines: lines)
        for (line, offset) in zip(lines, offsets) {
            for event in reader.readStdout(line) { setup.onReport(AgentReport(event, logOffset: offset)) }
        }
    }

    private func handleStderr(_ lines: [String]) {
        guard !lines.isEmpty else { return }
        let offsets = setup.log.append(lines: lines)
        for (line, offset) in zip(lines, offsets) {
            for event in reader.readStderr(line) { setup.onReport(AgentReport(event, logOffset: offset)) }
        }
    }

    private func finish() {
        // Reached after the drain deadline too: lines cut short by a stuck writer still count.
        if let last = stdoutLines.finish() { handleStdout([last]) }
        if let last = stderrLines.finish() { handleStderr([last]) }
        // Not the input's wake pipe: `AgentInput` closes it when the last holder lets go. Closed here, a
        // driver's later `send` would write into whatever reused the number, and the input close it again.
        for fd in [stdinFD, stdoutFD, stderrFD, setup.leaderExit.fd] where fd >= 0 { close(fd) }
        stdinFD = -1
        stdoutFD = -1
        stderrFD = -1
        setup.log.close()
        let reader = self.reader
        setup.handle.finish { status, reason in
            switch reason {
            case .timedOut: return .timedOut
            case .terminated: return .terminated
            case nil: return reader.outcome(exit: status)
            }
        }
    }
}

/// Splits a byte stream into lines: `\n` ends a line, a trailing `\r` is dropped, invalid UTF-8 is
/// replaced, and a line longer than `maxLineBytes` is cut there, marked as cut, and the rest of it
/// dropped, so one endless line cannot exhaust memory (or flood the log with pieces of itself).
struct OutputLineSplitter {
    var maxLineBytes = 16 << 20
    private var pending: [UInt8] = []
    /// Inside the dropped rest of a cut line, until its newline.
    private var skipping = false

    /// What ends a cut line in the log.
    var cutMarker: String { " … [drover: line cut at \(maxLineBytes) bytes]" }

    /// The complete lines in `pending + chunk`; the unterminated rest is kept for the next call.
    mutating func feed(_ chunk: ArraySlice<UInt8>) -> [String] {
        var lines: [String] = []
        var start = chunk.startIndex
        while let newline = chunk[start...].firstIndex(of: UInt8(ascii: "\n")) {
            if skipping {
                skipping = false
            } else if pending.isEmpty {
                lines.append(decodeCutting(chunk[start..<newline]))
            } else {
                pending.append(contentsOf: chunk[start..<newline])
                lines.append(decodeCutting(pending[...]))
                pending.removeAll(keepingCapacity: pending.count <= 1 << 20)
            }
            start = chunk.index(after: newline)
        }
        if !skipping { pending.append(contentsOf: chunk[start...]) }
        if pending.count > maxLineBytes {
            lines.append(decodeCutting(pending[...]))
            pending.removeAll()
            skipping = true
        }
        return lines
    }

    /// The unterminated last line, if any (call at EOF).
    mutating func finish() -> String? {
        skipping = false
        guard !pending.isEmpty else { return nil }
        defer { pending.removeAll() }
        return decodeCutting(pending[...])
    }

    private func decodeCutting(_ bytes: ArraySlice<UInt8>) -> String {
        guard bytes.count > maxLineBytes else { return Self.decode(bytes) }
        return Self.decode(bytes.prefix(maxLineBytes)) + cutMarker
    }

    private static func decode(_ bytes: ArraySlice<UInt8>) -> String {
        var bytes = bytes
        if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
        return String(decoding: bytes, as: UTF8.self)
    }
}
