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
/// `onReport` is called on a thread owned by the attempt, in output order. It may block (the engine does while
/// it is behind): reading stops meanwhile, so the agent waits on its pipe instead of memory growing.
///
/// Outcomes: a kill we asked for wins (`.timedOut` after `invocation.timeout`, `.terminated` after
/// `terminate`); otherwise the invocation's reader (chosen by the driver) decides from what it read and
/// how the process exited.
///
/// When the leader exits, whatever is left of its group is killed (SIGKILL) and the pipes are drained for
/// up to `drainTimeout`, so a stray grandchild holding stdout open cannot keep `wait()` from returning.
public struct ProcessLauncher: AgentLauncher {
    /// How long to let the group finish writing after the leader exited or was killed, before giving up
    /// on descriptors held by processes that escaped the group (e.g. `setsid` daemons).
    public var drainTimeout: Duration
    /// The SIGTERM → SIGKILL grace used when `timeout` expires.
    public var timeoutGrace: Duration

    /// Test seams: force the fallbacks used on systems whose libc lacks the `_np` spawn actions.
    var forceShellChdir = false
    var forceFDScan = false
    /// Test seam: hear the leader's exit through a waiting thread and a pipe, as where there is no pidfd.
    var forceWaitThread = false

    /// The attempts' I/O threads, kept for the next attempt when one ends: with many short attempts,
    /// creating and ending a thread for each was a measurable part of the engine's CPU. Small stacks:
    /// they only shuffle bytes, and a busy engine runs many at once. SIGPIPE is blocked on each once,
    /// as `OutputPump` needs.
    private static let ioThreads = ReusedThreads(name: "drover-agent-io", stackSize: 256 * 1024, prepare: blockSIGPIPEOnThisThread)

    /// Creates a launcher; the defaults are what the engine should use.
    public init(drainTimeout: Duration = .seconds(2), timeoutGrace: Duration = .seconds(2)) {
        self.drainTimeout = drainTimeout
        self.timeoutGrace = timeoutGrace
    }

    /// Starts `invocation`; see the type's documentation for what throws and what fails.
    public func launch(_ invocation: AgentInvocation,
                       onReport: @escaping @Sendable (AgentReport) -> Void) throws -> any AgentHandle {
        let log = try LogFile(url: invocation.logFile)
        func refuse(_ message: String) -> any AgentHandle {
            let offset = log.append(lines: [message])[0]
            log.close()
            onReport(AgentReport(.log(.stderr, message), logOffset: offset))
            return FinishedAgentHandle(outcome: .failed(message: message, exitCode: nil))
        }

        // With a chdir action the spawn itself fails on a missing working directory or a path that is
        // no program, and that is looked into only then (`whyNotStarted`): an attempt that starts costs
        // no `stat` of either. A shell that changes directory would start anyway, so it is checked first.
        let spawnChangesDirectory = !forceShellChdir && SpawnFunctions.addchdir != nil
        if !spawnChangesDirectory, let missing = missingWorkingDirectory(invocation) { return refuse(missing) }
        let executable: String
        switch resolveExecutable(invocation.executable, environment: invocation.environment,
                                 workingDirectory: invocation.workingDirectory, checkingPath: !spawnChangesDirectory) {
        case .success(let path): executable = path
        case .failure(let reason): return refuse(reason.message)
        }

        let input: AgentInput?
        do {
            input = invocation.keepsStdinOpen ? try AgentInput() : nil
        } catch {
            log.close()
            throw error
        }
        let spawned: SpawnedProcess
        do {
            spawned = try spawn(executable: executable, invocation: invocation)
        } catch let error as SpawnRefused {
            return refuse(whyNotStarted(invocation, executable: executable) ?? "cannot start \(invocation.executable): \(error.message)")
        } catch {
            log.close()
            throw error
        }

        let handle = SpawnedProcessHandle(pid: spawned.pid)
        // How the I/O thread hears that the leader exited: its pidfd polls readable then, so one thread
        // serves the attempt. Where there is no pidfd, a thread of its own waits and writes to a pipe.
        let leaderExit: LeaderExitSignal
        let processFD = forceWaitThread ? -1 : openProcessDescriptor(spawned.pid)
        if processFD >= 0 {
            leaderExit = .processFD(processFD)
        } else {
            let wake: (read: Int32, write: Int32)
            do {
                wake = try makeCloseOnExecPipe()
            } catch {
                handle.kill(reason: .terminated, grace: .zero)
                handle.finish { _, _ in .terminated }
                closeAll(spawned.stdin, spawned.stdout, spawned.stderr)  // the input's wake pipe closes with it
                log.close()
                throw error
            }
            leaderExit = .pipe(wake.read)
            startThread(name: "drover-agent-wait-\(spawned.pid)") {
                // This thread owns the write end: it is closed here and nowhere else, so the byte can never
                // land in a descriptor number that was closed and reused meanwhile.
                blockSIGPIPEOnThisThread()
                handle.waitForLeaderExit()
                var byte: UInt8 = 1
                _ = write(wake.write, &byte, 1)
                closeDescriptor(wake.write)
            }
        }
        let pump = PumpSetup(
            handle: handle, stdin: spawned.stdin, stdout: spawned.stdout, stderr: spawned.stderr,
            leaderExit: leaderExit, prompt: Array(invocation.prompt.utf8), log: log,
            makeReader: invocation.makeReader, input: input, onReport: onReport,
            drainTimeout: drainTimeout)
        Self.ioThreads.run { OutputPump(pump).run() }
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
    }

    /// posix_spawn refused the program itself (errno from exec or a file action in the child).
    private struct SpawnRefused: Error {
        var message: String
    }

    private func spawn(executable: String, invocation: AgentInvocation) throws -> SpawnedProcess {
        // Our ends are created close-on-exec; the child's ends are moved to 0/1/2 by dup2, which clears
        // the flag on the copy only.
        let stdinPipe = try makeCloseOnExecPipe()
        let stdoutPipe: (read: Int32, write: Int32)
        let stderrPipe: (read: Int32, write: Int32)
        do { stdoutPipe = try makeCloseOnExecPipe() } catch { closeAll(stdinPipe.read, stdinPipe.write); throw error }
        do { stderrPipe = try makeCloseOnExecPipe() } catch {
            closeAll(stdinPipe.read, stdinPipe.write, stdoutPipe.read, stdoutPipe.write); throw error
        }
        let childEnds = [stdinPipe.read, stdoutPipe.write, stderrPipe.write]
        let parentEnds = [stdinPipe.write, stdoutPipe.read, stderrPipe.read]
        var spawnSucceeded = false
        defer {
            closeAll(childEnds)
            if !spawnSucceeded { closeAll(parentEnds) }
        }
        // A new pipe end has no status flag but its access mode, which F_SETFL leaves alone: no F_GETFL first.
        for fd in [stdinPipe.write, stdoutPipe.read, stderrPipe.read] {
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
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
        resetSignalsOnSpawn(&attributes)

        let argv = CStringArray(arguments)
        let envp = CStringArray(environment: invocation.environment)
        var pid: pid_t = 0
        let status = program.withCString { path in
            posix_spawn(&pid, path, &actions, &attributes, argv.pointers, envp.pointers)
        }
        guard status == 0 else {
            throw SpawnRefused(message: String(cString: strerror(status)))
        }
        spawnSucceeded = true
        return SpawnedProcess(pid: pid, stdin: stdinPipe.write, stdout: stdoutPipe.read, stderr: stderrPipe.read)
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

    private struct ResolveFailure: Error {
        var message: String
    }

    /// Why `invocation` cannot start in its working directory, if that is missing.
    private func missingWorkingDirectory(_ invocation: AgentInvocation) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: invocation.workingDirectory, isDirectory: &isDirectory),
              isDirectory.boolValue else {
            return "cannot start \(invocation.executable): working directory \(invocation.workingDirectory) does not exist"
        }
        return nil
    }

    /// Why a spawn of `executable` (as resolved) failed, when it is the working directory or the program
    /// file; nil when both look right (the spawn's own error then says why).
    private func whyNotStarted(_ invocation: AgentInvocation, executable: String) -> String? {
        if let missing = missingWorkingDirectory(invocation) { return missing }
        guard invocation.executable.utf8.contains(UInt8(ascii: "/")) else { return nil }
        if case .failure(let reason) = checkProgram(executable, named: invocation.executable) { return reason.message }
        return nil
    }

    /// Whether `path` (given as `name`) is a file that may be run.
    private func checkProgram(_ path: String, named name: String) -> Result<String, ResolveFailure> {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return .failure(ResolveFailure(message: "cannot start \(name): no such file"))
        }
        guard !isDirectory.boolValue, access(path, X_OK) == 0 else {
            return .failure(ResolveFailure(message: "cannot start \(name): not an executable file"))
        }
        return .success(path)
    }

    /// A bare name is looked up on the child's PATH (as a shell would); a relative path is taken from the
    /// working directory, where the child will run. A path is checked to name a program only when
    /// `checkingPath` (otherwise a spawn that fails says so: `whyNotStarted`).
    private func resolveExecutable(_ name: String, environment: [String: String],
                                   workingDirectory: String, checkingPath: Bool) -> Result<String, ResolveFailure> {
        if name.isEmpty { return .failure(ResolveFailure(message: "cannot start an agent: the executable is empty")) }
        // On bytes: String.contains(String) goes through Foundation's NSString search, at every launch.
        if name.utf8.contains(UInt8(ascii: "/")) {
            let path = name.hasPrefix("/") ? name : (workingDirectory as NSString).appendingPathComponent(name)
            return checkingPath ? checkProgram(path, named: name) : .success(path)
        }
        let searchPath = environment["PATH"] ?? ExecutableSearch.defaultPath
        if let found = ExecutableSearch.find(name, searchPath: searchPath, workingDirectory: workingDirectory) {
            return .success(found)
        }
        return .failure(ResolveFailure(message: "cannot start \(name): not found on PATH (\(searchPath))"))
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
