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
    var wakeRead: Int32
    var prompt: [UInt8]
    var log: LogFile
    var parsesLineProtocol: Bool
    var onEvent: @Sendable (AgentEvent) -> Void
    var drainTimeout: Duration
    var stderrTailLines: Int
}

/// Feeds the prompt in and reads stdout/stderr out on one thread with poll(2), so a child that writes a
/// lot before reading its stdin (or never reads it) cannot deadlock us, and lines keep their order.
final class OutputPump {
    private let setup: PumpSetup
    private var stdinFD: Int32
    private var stdoutFD: Int32
    private var stderrFD: Int32
    private var promptOffset = 0
    private var stdoutLines = OutputLineSplitter()
    private var stderrLines = OutputLineSplitter()
    private var collected = AgentCollectedOutput()
    private var drainDeadline: ContinuousClock.Instant?
    private var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)

    init(_ setup: PumpSetup) {
        self.setup = setup
        stdinFD = setup.stdin
        stdoutFD = setup.stdout
        stderrFD = setup.stderr
    }

    func run() {
        blockSIGPIPEOnThisThread()
        if setup.prompt.isEmpty { closeStdin() }

        while true {
            if let deadline = drainDeadline {
                if stdoutFD < 0 && stderrFD < 0 { break }
                if ContinuousClock.now >= deadline { break }
            }
            var fds: [pollfd] = []
            if stdoutFD >= 0 { fds.append(pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)) }
            if stderrFD >= 0 { fds.append(pollfd(fd: stderrFD, events: Int16(POLLIN), revents: 0)) }
            if stdinFD >= 0 { fds.append(pollfd(fd: stdinFD, events: Int16(POLLOUT), revents: 0)) }
            if drainDeadline == nil { fds.append(pollfd(fd: setup.wakeRead, events: Int16(POLLIN), revents: 0)) }
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
                case setup.wakeRead: leaderExited()
                default: break
                }
            }
        }
        finish()
    }

    private func leaderExited() {
        var byte: UInt8 = 0
        _ = read(setup.wakeRead, &byte, 1)
        closeStdin()
        // The pipes keep what was written before the kill, so nothing already printed is lost.
        setup.handle.killGroupAfterLeaderExit()
        drainDeadline = ContinuousClock.now + setup.drainTimeout
    }

    private func writeStdin(revents: Int16) {
        if revents & Int16(POLLERR | POLLHUP) != 0 && revents & Int16(POLLOUT) == 0 {
            closeStdin()
            return
        }
        while promptOffset < setup.prompt.count {
            let written = setup.prompt.withUnsafeBytes { bytes in
                write(stdinFD, bytes.baseAddress! + promptOffset, bytes.count - promptOffset)
            }
            if written > 0 {
                promptOffset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                return
            } else {
                // EPIPE: the agent does not want (the rest of) its prompt; that is its business.
                consumePendingSIGPIPE()
                break
            }
        }
        closeStdin()
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
        setup.log.append(lines: lines)
        for line in lines {
            guard setup.parsesLineProtocol else {
                collected.appendText(line)
                setup.onEvent(.log(.agent, line))
                continue
            }
            switch AgentLine.parse(line) {
            case .log(let text):
                collected.appendText(text)
                setup.onEvent(.log(.agent, text))
            case .progress(let fraction, let message):
                setup.onEvent(.progress(fraction: fraction, message: message))
            case .usage(let model, let inputTokens, let outputTokens, let costUSD):
                setup.onEvent(.usage(model: model, inputTokens: inputTokens, outputTokens: outputTokens, costUSD: costUSD))
            case .decision(let question, let options):
                collected.final = .decision(question: question, options: options)
            case .result(let output):
                collected.final = .completed(output: output)
            }
        }
    }

    private func handleStderr(_ lines: [String]) {
        guard !lines.isEmpty else { return }
        setup.log.append(lines: lines)
        for line in lines {
            collected.appendStderr(line, keep: setup.stderrTailLines)
            setup.onEvent(.log(.stderr, line))
        }
    }

    private func finish() {
        // Reached after the drain deadline too: lines cut short by a stuck writer still count.
        if let last = stdoutLines.finish() { handleStdout([last]) }
        if let last = stderrLines.finish() { handleStderr([last]) }
        for fd in [stdinFD, stdoutFD, stderrFD, setup.wakeRead] where fd >= 0 { close(fd) }
        stdinFD = -1
        stdoutFD = -1
        stderrFD = -1
        setup.log.close()
        let collected = self.collected
        let parses = setup.parsesLineProtocol
        setup.handle.finish { status, reason in
            ProcessLauncher.outcome(status: status, killReason: reason, collected: collected, parsesLineProtocol: parses)
        }
    }
}

/// Splits a byte stream into lines: `\n` ends a line, a trailing `\r` is dropped, invalid UTF-8 is
/// replaced, and a line longer than `maxLineBytes` is cut there so one endless line cannot exhaust memory.
struct OutputLineSplitter {
    var maxLineBytes = 16 << 20
    private var pending: [UInt8] = []

    /// The complete lines in `pending + chunk`; the unterminated rest is kept for the next call.
    mutating func feed(_ chunk: ArraySlice<UInt8>) -> [String] {
        var lines: [String] = []
        var start = chunk.startIndex
        while let newline = chunk[start...].firstIndex(of: UInt8(ascii: "\n")) {
            if pending.isEmpty {
                lines.append(Self.decode(chunk[start..<newline]))
            } else {
                pending.append(contentsOf: chunk[start..<newline])
                lines.append(Self.decode(pending[...]))
                pending.removeAll(keepingCapacity: true)
            }
            start = chunk.index(after: newline)
        }
        pending.append(contentsOf: chunk[start...])
        if pending.count >= maxLineBytes {
            lines.append(Self.decode(pending[...]))
            pending.removeAll()
        }
        return lines
    }

    /// The unterminated last line, if any (call at EOF).
    mutating func finish() -> String? {
        guard !pending.isEmpty else { return nil }
        defer { pending.removeAll() }
        return Self.decode(pending[...])
    }

    private static func decode(_ bytes: ArraySlice<UInt8>) -> String {
        var bytes = bytes
        if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The attempt's log file: every line of stdout and stderr, as decoded, appended as it arrives.
final class LogFile: Sendable {
    private let fd: Locked<Int32>

    init(url: URL) throws {
        let path = url.path
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw ProcessLaunchError.logFile(path: path, reason: error.localizedDescription)
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw ProcessLaunchError.logFile(path: path, reason: String(cString: strerror(errno)))
        }
        self.fd = Locked(fd)
    }

    func append(lines: [String]) {
        var bytes: [UInt8] = []
        for line in lines {
            bytes.append(contentsOf: line.utf8)
            bytes.append(UInt8(ascii: "\n"))
        }
        fd.withLock { fd in
            guard fd >= 0 else { return }
            writeAll(fd, bytes)
        }
    }

    func close() {
        fd.withLock { fd in
            if fd >= 0 { closeDescriptor(fd) }
            fd = -1
        }
    }
}
