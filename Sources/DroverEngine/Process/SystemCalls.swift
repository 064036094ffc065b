import CSpawn
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A NULL-terminated `char *[]` that lives as long as this value.
package final class CStringArray {
    package let pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    private let count: Int

    package init(_ strings: [String]) {
        count = strings.count
        pointers = .allocate(capacity: strings.count + 1)
        for (index, string) in strings.enumerated() { pointers[index] = strdup(string) }
        pointers[strings.count] = nil
    }

    /// `environment` as `KEY=value` strings for `execve`, in no particular order (a process's environment
    /// has none): each made in one allocation straight from the UTF-8 of key and value, with no `String`
    /// in between, since an agent inherits the engine's whole environment at every launch.
    package init(environment: [String: String]) {
        count = environment.count
        pointers = .allocate(capacity: count + 1)
        for (index, (key, value)) in environment.enumerated() {
            let keyBytes = key.utf8.count
            let valueBytes = value.utf8.count
            // malloc, as strdup's strings are: `deinit` frees them all alike.
            let entry = UnsafeMutableRawBufferPointer(start: malloc(keyBytes + valueBytes + 2), count: keyBytes + valueBytes + 2)
            _ = entry.initializeMemory(as: UInt8.self, from: key.utf8)
            entry[keyBytes] = UInt8(ascii: "=")
            _ = UnsafeMutableRawBufferPointer(rebasing: entry[(keyBytes + 1)...]).initializeMemory(as: UInt8.self, from: value.utf8)
            entry[keyBytes + valueBytes + 1] = 0
            pointers[index] = entry.baseAddress!.assumingMemoryBound(to: CChar.self)
        }
        pointers[count] = nil
    }

    deinit {
        for index in 0..<count { free(pointers[index]) }
        pointers.deallocate()
    }
}

/// The GNU spawn actions (`_np`), which Swift's Glibc module does not import (they sit behind
/// `_GNU_SOURCE`), called through the CSpawn shim: a fully static binary cannot find them with dlsym.
/// nil where the libc lacks one.
public enum SpawnFunctions {
    typealias AddChdir = (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32
    public typealias AddClosefrom = (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32

    static var addchdir: AddChdir? {
        drover_spawn_can_addchdir() != 0 ? { drover_spawn_addchdir($0, $1) } : nil
    }

    public static var addclosefrom: AddClosefrom? {
        drover_spawn_can_addclosefrom() != 0 ? { drover_spawn_addclosefrom($0, $1) } : nil
    }
}

func startThread(name: String, _ body: @escaping @Sendable () -> Void) {
    let thread = Thread(block: body)
    thread.name = name
    // Small stacks: these threads only shuffle bytes, and a busy server runs many of them.
    thread.stackSize = 256 * 1024
    thread.start()
}

/// A write to a pipe whose reader is gone raises SIGPIPE, which would kill the whole server. Blocked on
/// the writing thread only, it stays pending there and vanishes with the thread; write returns EPIPE.
func blockSIGPIPEOnThisThread() {
    var pipeSignal = sigset_t()
    sigemptyset(&pipeSignal)
    sigaddset(&pipeSignal, SIGPIPE)
    pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
}

/// Free functions, because methods named `kill`/`close` shadow the system calls inside the types.
func sendSignal(_ target: pid_t, _ signal: Int32) -> Int32 {
    kill(target, signal)
}

func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}

func closeAll(_ fds: Int32...) {
    closeAll(fds)
}

func closeAll(_ fds: [Int32]) {
    for fd in fds where fd >= 0 { close(fd) }
}

extension Duration {
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

/// The process's pidfd (close-on-exec, polls readable once it exited), or -1 where the kernel has none.
func openProcessDescriptor(_ pid: pid_t) -> Int32 {
    drover_pidfd_open(pid)
}

/// `accept` on a listening socket whose new socket is close-on-exec from the start (accept4): the engine
/// spawns agents from other threads, which must not inherit a client's socket. -1 and errno on failure.
public func acceptCloseOnExec(_ fd: Int32) -> Int32 {
    drover_accept_cloexec(fd)
}

/// A pipe whose ends are close-on-exec and numbered 3 or above.
public func makeCloseOnExecPipe() throws -> (read: Int32, write: Int32) {
    var fds: [Int32] = [-1, -1]
    // pipe2 creates both ends close-on-exec atomically, so a process spawned meanwhile by another thread
    // (git through Foundation.Process, say) cannot inherit our ends and hold our pipes open.
    guard drover_pipe_cloexec(&fds) == 0 else { throw ProcessLaunchError.system("pipe2", errno) }
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

/// Makes a spawned child start with every signal at its default disposition and none blocked,
/// whatever this process ignores or blocks (a child that inherits an ignored SIGPIPE would, e.g.,
/// never die of a closed stdout). The caller still sets POSIX_SPAWN_SETSIGDEF | SETSIGMASK.
public func resetSignalsOnSpawn(_ attributes: inout posix_spawnattr_t) {
    var allSignals = sigset_t()
    sigfillset(&allSignals)
    var noSignals = sigset_t()
    sigemptyset(&noSignals)
    posix_spawnattr_setsigdefault(&attributes, &allSignals)
    posix_spawnattr_setsigmask(&attributes, &noSignals)
}
