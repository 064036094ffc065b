import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes all of `bytes`, retrying short writes and EINTR; gives up silently on other errors (a full disk
/// must not take the agent down with it).
func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
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

/// A NULL-terminated `char *[]` that lives as long as this value.
final class CStringArray {
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
enum SpawnFunctions {
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
