import DroverProtocol
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Launches agents as real processes with `posix_spawn`, each in its own process group.
///
/// The child gets exactly three descriptors: stdin is a pipe carrying the prompt (closed once written),
/// stdout and stderr are pipes read line by line. Nothing else of the server is inherited, least of all
/// its stdin/stdout (the JSON-RPC channel). Signal dispositions and the signal mask are reset.
///
/// Problems that belong to the invocation (no such executable, missing working directory, exec refused)
/// do not throw: `launch` returns a handle with `pid == 0` whose `wait()` answers `.failed(message:,
/// exitCode: nil)` at once, and the message is also written to the log file and emitted as a `.stderr`
/// log event, so such a step fails like any other. `launch` throws only when the server itself cannot
/// set the attempt up (log file not writable, out of descriptors): ``ProcessLaunchError``.
///
/// `onEvent` is called on a thread owned by the attempt, in output order; keep it short and non-blocking.
///
/// Outcomes: a kill we asked for wins (`.timedOut` after `invocation.timeout`, `.terminated` after
/// `terminate`). Exit 0: the last `result` or `decision` line decides; with neither, `.completed` with the
/// printed text (non-protocol lines and `log` texts, newline-joined, trimmed); for plain `command` steps
/// (`parsesLineProtocol == false`) the output is all of stdout, trimmed. Non-zero exit: `.failed` with the
/// last `stderrTailLines` stderr lines, or "exited with status N" if stderr was empty; death by a signal
/// is `.failed` with `exitCode == nil`.
///
/// When the leader exits, whatever is left of its group is killed (SIGKILL) and the pipes are drained for
/// up to `drainTimeout`, so a stray grandchild holding stdout open cannot keep `wait()` from returning.
public struct ProcessLauncher: AgentLauncher {
    /// How long to let the group finish writing after the leader exited or was killed, before giving up
    /// on descriptors held by processes that escaped the group (e.g. `setsid` daemons).
    public var drainTimeout: Duration
    /// The SIGTERM → SIGKILL grace used when `timeout` expires.
    public var timeoutGrace: Duration
    /// How many trailing stderr lines a failure message keeps.
    public var stderrTailLines: Int

    /// Test seams: force the fallbacks used on systems whose libc lacks the `_np` spawn actions.
    var forceShellChdir = false
    var forceFDScan = false

    /// Creates a launcher; the defaults are what the engine should use.
    public init(drainTimeout: Duration = .seconds(2), timeoutGrace: Duration = .seconds(2), stderrTailLines: Int = 20) {
        self.drainTimeout = drainTimeout
        self.timeoutGrace = timeoutGrace
        self.stderrTailLines = stderrTailLines
    }

    /// Starts `invocation`; see the type's documentation for what throws and what fails.
    public func launch(_ invocation: AgentInvocation,
                       onEvent: @escaping @Sendable (AgentEvent) -> Void) throws -> any AgentHandle {
        let log = try LogFile(url: invocation.logFile)
        func refuse(_ message: String) -> any AgentHandle {
            log.append(lines: [message])
            log.close()
            onEvent(.log(.stderr, message))
            return FinishedAgentHandle(outcome: .failed(message: message, exitCode: nil))
        }

        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: invocation.workingDirectory, isDirectory: &isDirectory),
              isDirectory.boolValue else {
            return refuse("cannot start \(invocation.executable): working directory \(invocation.workingDirectory) does not exist")
        }
        let executable: String
        switch resolveExecutable(invocation.executable, environment: invocation.environment,
                                 workingDirectory: invocation.workingDirectory) {
        case .success(let path): executable = path
        case .failure(let reason): return refuse(reason.message)
        }

        let spawned: SpawnedProcess
        do {
            spawned = try spawn(executable: executable, invocation: invocation)
        } catch let error as SpawnRefused {
            return refuse("cannot start \(invocation.executable): \(error.message)")
        } catch {
            log.close()
            throw error
        }

        let handle = SpawnedProcessHandle(pid: spawned.pid)
        let wake = spawned.wake
        let pump = PumpSetup(
            handle: handle, stdin: spawned.stdin, stdout: spawned.stdout, stderr: spawned.stderr,
            wakeRead: wake.read, prompt: Array(invocation.prompt.utf8), log: log,
            parsesLineProtocol: invocation.parsesLineProtocol, onEvent: onEvent,
            drainTimeout: drainTimeout, stderrTailLines: stderrTailLines)
        startThread(name: "drover-agent-io-\(spawned.pid)") { OutputPump(pump).run() }
        startThread(name: "drover-agent-wait-\(spawned.pid)") {
            // This thread owns the write end: it is closed here and nowhere else, so the byte can never
            // land in a descriptor number that was closed and reused meanwhile.
            blockSIGPIPEOnThisThread()
            handle.waitForLeaderExit()
            var byte: UInt8 = 1
            _ = write(wake.write, &byte, 1)
            closeDescriptor(wake.write)
        }
        if let timeout = invocation.timeout {
            let grace = timeoutGrace
            // Weak: an attempt that ended long before a generous timeout should not be kept alive by it.
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout.dispatchInterval) { [weak handle] in
                handle?.kill(reason: .timedOut, grace: grace)
            }
        }
        return handle
    }

    // MARK: Spawning

    private struct SpawnedProcess {
        var pid: pid_t
        var stdin: Int32
        var stdout: Int32
        var stderr: Int32
        var wake: (read: Int32, write: Int32)
    }

    /// posix_spawn refused the program itself (errno from exec or a file action in the child).
    private struct SpawnRefused: Error {
        var message: String
    }

    private func spawn(executable: String, invocation: AgentInvocation) throws -> SpawnedProcess {
        // Our ends are created close-on-exec; the child's ends are moved to 0/1/2 by dup2, which clears
        // the flag on the copy only.
        let stdinPipe = try makePipe()
        let stdoutPipe: (read: Int32, write: Int32)
        let stderrPipe: (read: Int32, write: Int32)
        let wakePipe: (read: Int32, write: Int32)
        do { stdoutPipe = try makePipe() } catch { closeAll(stdinPipe.read, stdinPipe.write); throw error }
        do { stderrPipe = try makePipe() } catch {
            closeAll(stdinPipe.read, stdinPipe.write, stdoutPipe.read, stdoutPipe.write); throw error
        }
        do { wakePipe = try makePipe() } catch {
            closeAll(stdinPipe.read, stdinPipe.write, stdoutPipe.read, stdoutPipe.write,
                     stderrPipe.read, stderrPipe.write)
            throw error
        }
        let childEnds = [stdinPipe.read, stdoutPipe.write, stderrPipe.write]
        let parentEnds = [stdinPipe.write, stdoutPipe.read, stderrPipe.read, wakePipe.read, wakePipe.write]
        var spawnSucceeded = false
        defer {
            closeAll(childEnds)
            if !spawnSucceeded { closeAll(parentEnds) }
        }
        for fd in [stdinPipe.write, stdoutPipe.read, stderrPipe.read] {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }

        var actions = posix_spawn_file_actions_t()
        guard posix_spawn_file_actions_init(&actions) == 0 else { throw ProcessLaunchError.system("posix_spawn_file_actions_init", errno) }
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        guard posix_spawnattr_init(&attributes) == 0 else { throw ProcessLaunchError.system("posix_spawnattr_init", errno) }
        defer { posix_spawnattr_destroy(&attributes) }

        for (fd, target) in zip(childEnds, [Int32(0), 1, 2]) {
            let status = posix_spawn_file_actions_adddup2(&actions, fd, target)
            guard status == 0 else { throw ProcessLaunchError.system("posix_spawn_file_actions_adddup2", status) }
        }

        let baseFlags = Int32(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)
        #if canImport(Darwin)
        // Darwin closes every descriptor not named in a file action, which is exactly the clean slate we want.
        let flags = baseFlags | Int32(POSIX_SPAWN_CLOEXEC_DEFAULT)
        #else
        let flags = baseFlags
        try closeInheritedDescriptors(&actions)
        #endif

        var program = executable
        var arguments = [invocation.executable] + invocation.arguments
        if !forceShellChdir, let addchdir = SpawnFunctions.addchdir {
            let status = invocation.workingDirectory.withCString { addchdir(&actions, $0) }
            guard status == 0 else { throw ProcessLaunchError.system("posix_spawn_file_actions_addchdir_np", status) }
        } else {
            // No chdir action in this libc: let a shell change directory, then exec replaces it, so the
            // agent still is the group leader and sees the same descriptors.
            program = "/bin/sh"
            arguments = ["sh", "-c", "cd -- \"$1\" || exit 127; shift; exec \"$@\"", "drover-spawn",
                         invocation.workingDirectory, executable] + invocation.arguments
        }

        guard posix_spawnattr_setflags(&attributes, Int16(truncatingIfNeeded: flags)) == 0,
              posix_spawnattr_setpgroup(&attributes, 0) == 0 else {
            throw ProcessLaunchError.system("posix_spawnattr_setflags", errno)
        }
        // The server may ignore SIGPIPE or block signals; an agent must start with the defaults, or it would
        // e.g. never die of a closed stdout.
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)

        let argv = CStringArray(arguments)
        let envp = CStringArray(invocation.environment.map { "\($0.key)=\($0.value)" }.sorted())
        var pid: pid_t = 0
        let status = program.withCString { path in
            posix_spawn(&pid, path, &actions, &attributes, argv.pointers, envp.pointers)
        }
        guard status == 0 else {
            throw SpawnRefused(message: String(cString: strerror(status)))
        }
        spawnSucceeded = true
        return SpawnedProcess(pid: pid, stdin: stdinPipe.write, stdout: stdoutPipe.read, stderr: stderrPipe.read,
                              wake: wakePipe)
    }

    #if !canImport(Darwin)
    /// Makes the child close every descriptor above 2 that was not created close-on-exec.
    private func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) throws {
        if !forceFDScan, let closefrom = SpawnFunctions.addclosefrom {
            let status = closefrom(&actions, 3)
            guard status == 0 else { throw ProcessLaunchError.system("posix_spawn_file_actions_addclosefrom_np", status) }
            return
        }
        // Older glibc: close what is open now. glibc ignores a close action on a descriptor that is no
        // longer open, so a descriptor closed meanwhile by another thread does not fail the spawn.
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in open.compactMap({ Int32($0) }) where fd > 2 {
            let flags = fcntl(fd, F_GETFD)
            guard flags >= 0, flags & FD_CLOEXEC == 0 else { continue }
            _ = posix_spawn_file_actions_addclose(&actions, fd)
        }
    }
    #endif

    private func makePipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        #if canImport(Darwin)
        guard pipe(&fds) == 0 else { throw ProcessLaunchError.system("pipe", errno) }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        #else
        // pipe2 creates both ends close-on-exec atomically, so a process spawned meanwhile by another thread
        // (git through Foundation.Process, say) cannot inherit our ends and hold our pipes open.
        if let pipe2 = SpawnFunctions.pipe2 {
            guard pipe2(&fds, Int32(O_CLOEXEC)) == 0 else { throw ProcessLaunchError.system("pipe2", errno) }
        } else {
            guard pipe(&fds) == 0 else { throw ProcessLaunchError.system("pipe", errno) }
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        }
        #endif
        // If the server closed its own stdin/stdout/stderr a pipe could land on 0–2, and the dup2 onto
        // 0/1/2 would then clobber one end with another; keep every end at 3 or above.
        for index in fds.indices where fds[index] <= 2 {
            let moved = fcntl(fds[index], F_DUPFD_CLOEXEC, 3)
            guard moved >= 0 else { throw ProcessLaunchError.system("fcntl", errno) }
            close(fds[index])
            fds[index] = moved
        }
        return (fds[0], fds[1])
    }

    private struct ResolveFailure: Error {
        var message: String
    }

    /// A bare name is looked up on the child's PATH (as a shell would); a relative path is taken from the
    /// working directory, where the child will run.
    private func resolveExecutable(_ name: String, environment: [String: String],
                                   workingDirectory: String) -> Result<String, ResolveFailure> {
        if name.isEmpty { return .failure(ResolveFailure(message: "cannot start an agent: the executable is empty")) }
        if name.contains("/") {
            let path = name.hasPrefix("/") ? name : (workingDirectory as NSString).appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                return .failure(ResolveFailure(message: "cannot start \(name): no such file"))
            }
            guard !isDirectory.boolValue, access(path, X_OK) == 0 else {
                return .failure(ResolveFailure(message: "cannot start \(name): not an executable file"))
            }
            return .success(path)
        }
        let searchPath = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in searchPath.split(separator: ":", omittingEmptySubsequences: true) {
            let base = directory.hasPrefix("/") ? String(directory)
                : (workingDirectory as NSString).appendingPathComponent(String(directory))
            let candidate = (base as NSString).appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory),
               !isDirectory.boolValue, access(candidate, X_OK) == 0 {
                return .success(candidate)
            }
        }
        return .failure(ResolveFailure(message: "cannot start \(name): not found on PATH (\(searchPath))"))
    }

    // MARK: Outcome

    /// Decides how an attempt ended from how the leader exited and what it printed.
    ///
    /// - A kill we asked for wins: `.timedOut` / `.terminated`, whatever the exit status.
    /// - Exit 0: the last `result` or `decision` line decides (`.completed(output)` / `.decision`); with
    ///   neither, `.completed` with the printed text (plain lines and `log` texts, trimmed). For plain
    ///   `command` steps the output is all of stdout, trimmed.
    /// - Non-zero exit or death by signal: `.failed` with the last stderr lines, or a status sentence if
    ///   stderr was empty; `exitCode` is nil for a signal.
    static func outcome(status: AgentExitStatus, killReason: AgentKillReason?, collected: AgentCollectedOutput,
                        parsesLineProtocol: Bool) -> AgentOutcome {
        switch killReason {
        case .timedOut: return .timedOut
        case .terminated: return .terminated
        case nil: break
        }
        let tail = collected.stderrTail.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        switch status {
        case .exited(0):
            if parsesLineProtocol, let final = collected.final {
                return final
            }
            return .completed(output: collected.text.trimmingCharacters(in: .whitespacesAndNewlines))
        case .exited(let code):
            return .failed(message: tail.isEmpty ? "exited with status \(code)" : tail, exitCode: code)
        case .signaled(let signal):
            let name = signalName(signal)
            return .failed(message: tail.isEmpty ? "killed by signal \(signal) (\(name))" : tail, exitCode: nil)
        case .unknown(let reason):
            return .failed(message: tail.isEmpty ? reason : tail, exitCode: nil)
        }
    }

    private static func signalName(_ signal: Int32) -> String {
        guard let description = strsignal(signal) else { return "signal \(signal)" }
        return String(cString: description)
    }
}

/// A failure of the server to set up an attempt (as opposed to a problem with the agent's program).
public enum ProcessLaunchError: Error, CustomStringConvertible, Sendable {
    /// A system call failed; carries the call and errno.
    case system(String, Int32)
    /// The log file could not be created or opened.
    case logFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .system(let call, let code):
            return "\(call) failed: \(String(cString: strerror(code)))"
        case .logFile(let path, let reason):
            return "cannot open the log file \(path): \(reason)"
        }
    }
}

/// Why we killed a process group (the first reason wins).
enum AgentKillReason: Sendable {
    case timedOut, terminated
}

/// How the group leader ended.
enum AgentExitStatus: Sendable, Hashable {
    case exited(Int32)
    case signaled(Int32)
    /// The status was lost (someone else reaped the child); carries an explanation.
    case unknown(String)

    init(waitStatus status: Int32) {
        // The W* macros are not imported into Swift; these are their glibc/Darwin definitions.
        let low = status & 0x7f
        if low == 0 {
            self = .exited((status >> 8) & 0xff)
        } else if low != 0x7f {
            self = .signaled(low)
        } else {
            self = .unknown("stopped with wait status \(status)")
        }
    }
}

/// What the pump gathered from stdout/stderr for deciding the outcome.
struct AgentCollectedOutput: Sendable {
    /// Non-protocol stdout text (plain lines and `log` texts), newline-joined; all of stdout for `command` steps.
    var text = ""
    var textBytes = 0
    var textTruncated = false
    /// The last `result` or `decision` line.
    var final: AgentOutcome?
    var stderrTail: [String] = []

    /// Beyond this, printed text is dropped: a runaway agent must not grow the server without bound.
    static let textLimit = 16 << 20

    mutating func appendText(_ line: String) {
        guard !textTruncated else { return }
        let size = line.utf8.count + 1
        if textBytes + size > Self.textLimit {
            textTruncated = true
            text += "\n[output truncated after \(Self.textLimit >> 20) MiB]"
            return
        }
        if textBytes > 0 { text += "\n" }
        text += line
        textBytes += size
    }

    mutating func appendStderr(_ line: String, keep: Int) {
        // A single enormous line must not make the failure message enormous.
        stderrTail.append(line.count > 2000 ? String(line.suffix(2000)) : line)
        if stderrTail.count > keep { stderrTail.removeFirst(stderrTail.count - keep) }
    }
}

// MARK: - Handles

/// The handle of an attempt that never started; its outcome is already known.
private struct FinishedAgentHandle: AgentHandle {
    let outcome: AgentOutcome
    var pid: Int32 { 0 }
    func wait() async -> AgentOutcome { outcome }
    func terminate(grace: Duration) {}
}

/// The handle of a spawned process: owns the right to signal its group and to reap it.
private final class SpawnedProcessHandle: AgentHandle {
    let pid: Int32

    private struct State: Sendable {
        var leaderExited = false
        /// Once reaped, the pid (and so the group id) may belong to someone else: never signal again.
        var reaped = false
        var killReason: AgentKillReason?
        var outcome: AgentOutcome?
        var waiters: [CheckedContinuation<AgentOutcome, Never>] = []
    }

    private let state = Locked(State())

    init(pid: Int32) {
        self.pid = pid
    }

    func wait() async -> AgentOutcome {
        await withCheckedContinuation { continuation in
            let known: AgentOutcome? = state.withLock { state in
                if let outcome = state.outcome { return outcome }
                state.waiters.append(continuation)
                return nil
            }
            if let known { continuation.resume(returning: known) }
        }
    }

    func terminate(grace: Duration) {
        kill(reason: .terminated, grace: grace)
    }

    /// SIGTERM to the group now, SIGKILL after `grace` if the leader has not been reaped by then.
    func kill(reason: AgentKillReason, grace: Duration) {
        let signalled: Bool = state.withLock { state in
            guard !state.reaped else { return false }
            // A leader that already exited decided its own outcome; we only clean up its group.
            if !state.leaderExited, state.killReason == nil { state.killReason = reason }
            signalGroup(SIGTERM, state)
            return true
        }
        guard signalled else { return }
        DispatchQueue.global().asyncAfter(deadline: .now() + grace.dispatchInterval) { [self] in
            state.withLock { state in signalGroup(SIGKILL, state) }
        }
    }

    /// Blocks until the leader exits, without reaping it: an unreaped zombie keeps its pid, and so the
    /// group id, from being reused while we may still signal the group.
    func waitForLeaderExit() {
        var info = siginfo_t()
        var lost = false
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 {
            if errno == EINTR { continue }
            lost = true
            break
        }
        state.withLock { state in
            state.leaderExited = true
            if lost { state.reaped = true }
        }
    }

    /// Called by the pump once the leader exited: whatever is left of the group has no business running.
    func killGroupAfterLeaderExit() {
        state.withLock { state in signalGroup(SIGKILL, state) }
    }

    /// Reaps the leader and publishes the outcome to every waiter.
    func finish(_ decide: (AgentExitStatus, AgentKillReason?) -> AgentOutcome) {
        let (outcome, waiters): (AgentOutcome, [CheckedContinuation<AgentOutcome, Never>]) = state.withLock { state in
            var status: AgentExitStatus = .unknown("the agent's exit status was lost (reaped elsewhere)")
            if !state.reaped && !state.leaderExited {
                // Only after an internal error (poll failed): make sure the blocking waitpid below returns.
                signalGroup(SIGKILL, state)
            }
            if !state.reaped {
                var raw: Int32 = 0
                var result: pid_t
                repeat { result = waitpid(pid, &raw, 0) } while result < 0 && errno == EINTR
                if result == pid { status = AgentExitStatus(waitStatus: raw) }
                state.reaped = true
            }
            let outcome = decide(status, state.killReason)
            state.outcome = outcome
            let waiters = state.waiters
            state.waiters = []
            return (outcome, waiters)
        }
        for waiter in waiters { waiter.resume(returning: outcome) }
    }

    private func signalGroup(_ signal: Int32, _ state: State) {
        guard !state.reaped, pid > 0 else { return }
        _ = sendSignal(-pid, signal)
    }
}

// MARK: - Output pump

/// Everything the I/O thread needs, gathered so it can cross into the thread as one Sendable value.
private struct PumpSetup: Sendable {
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
private final class OutputPump {
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

// MARK: - Small system helpers

/// The attempt's log file: every line of stdout and stderr, as decoded, appended as it arrives.
private final class LogFile: Sendable {
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

/// Writes all of `bytes`, retrying short writes and EINTR; gives up silently on other errors (a full disk
/// must not take the agent down with it).
private func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if written > 0 {
            offset += written
        } else if written < 0 && errno == EINTR {
            continue
        } else {
            return
        }
    }
}

/// A value behind a lock.
// @unchecked Sendable: `value` is only ever read or written inside `withLock`, under `lock`.
private final class Locked<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) {
        self.value = value
    }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

/// A NULL-terminated `char *[]` that lives as long as this value.
private final class CStringArray {
    let pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    private let count: Int

    init(_ strings: [String]) {
        count = strings.count
        pointers = .allocate(capacity: strings.count + 1)
        for (index, string) in strings.enumerated() { pointers[index] = strdup(string) }
        pointers[strings.count] = nil
    }

    deinit {
        for index in 0..<count { free(pointers[index]) }
        pointers.deallocate()
    }
}

/// `pipe2` and the `_np` spawn actions are GNU extensions that Swift's Glibc module does not import (they
/// sit behind `_GNU_SOURCE`), so they are looked up at run time; nil on a libc that lacks them.
private enum SpawnFunctions {
    typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32
    typealias AddClosefrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32

    typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32

    static var pipe2: Pipe2? {
        symbol("pipe2").map { unsafeBitCast($0, to: Pipe2.self) }
    }

    static var addchdir: AddChdir? {
        symbol("posix_spawn_file_actions_addchdir_np").map { unsafeBitCast($0, to: AddChdir.self) }
    }

    static var addclosefrom: AddClosefrom? {
        symbol("posix_spawn_file_actions_addclosefrom_np").map { unsafeBitCast($0, to: AddClosefrom.self) }
    }

    private static func symbol(_ name: String) -> UnsafeMutableRawPointer? {
        #if canImport(Darwin)
        return dlsym(UnsafeMutableRawPointer(bitPattern: -2), name)  // RTLD_DEFAULT
        #else
        return dlsym(nil, name)  // RTLD_DEFAULT is NULL on glibc
        #endif
    }
}

private func startThread(name: String, _ body: @escaping @Sendable () -> Void) {
    let thread = Thread(block: body)
    thread.name = name
    // Small stacks: these threads only shuffle bytes, and a busy server runs many of them.
    thread.stackSize = 256 * 1024
    thread.start()
}

/// A write to a pipe whose reader is gone raises SIGPIPE, which would kill the whole server. Blocked on
/// the writing thread only, it stays pending there and vanishes with the thread; write returns EPIPE.
private func blockSIGPIPEOnThisThread() {
    var pipeSignal = sigset_t()
    sigemptyset(&pipeSignal)
    sigaddset(&pipeSignal, SIGPIPE)
    pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
}

/// Free functions, because methods named `kill`/`close` shadow the system calls inside the types.
private func sendSignal(_ target: pid_t, _ signal: Int32) -> Int32 {
    kill(target, signal)
}

private func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}

private func closeAll(_ fds: Int32...) {
    closeAll(fds)
}

private func closeAll(_ fds: [Int32]) {
    for fd in fds where fd >= 0 { close(fd) }
}

fileprivate extension Duration {
    var dispatchInterval: DispatchTimeInterval {
        let (seconds, attoseconds) = components
        let nanos = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !nanos.overflow else { return .never }
        return .nanoseconds(Int(clamping: nanos.partialValue + attoseconds / 1_000_000_000))
    }

    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
