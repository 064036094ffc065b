import Glibc

/// Ends the blocking reads of one descriptor as soon as another one becomes readable or hangs up —
/// without a `poll` of both before every read, which cost a handed-over client a system call per
/// request (`drover serve`'s socket is the other descriptor: it only becomes readable when serve has gone).
///
/// The kernel signals the reading thread when the watched descriptor changes (`O_ASYNC`, `F_SETSIG`,
/// `F_SETOWN_EX` to the thread); the handler puts /dev/null in the read descriptor's place (`dup2`, which
/// is async-signal-safe). A read blocked at that moment is restarted (`SA_RESTART`) on /dev/null and
/// returns 0; a read not yet begun — the signal came between two reads — finds /dev/null too. Either
/// way the reader sees the end of input, with no flag to check and no window to lose the wake-up in.
struct ReadEndsWith {
    /// Linux's fcntl commands and owner kind, which Swift's Glibc module does not import (_GNU_SOURCE).
    private static let setOwnerEx: Int32 = 15  // F_SETOWN_EX
    private static let setSignal: Int32 = 10  // F_SETSIG
    private static let ownerThread: Int32 = 0  // F_OWNER_TID
    /// Watched descriptors are looked up by number in a table the handler reads; larger ones fall back to `poll`.
    private static let tableSize: Int32 = 4096

    /// Per watched descriptor, the descriptor whose reads it ends, plus one (0: none). Written only by
    /// the reading thread, which is also the thread the handler runs on.
    nonisolated(unsafe) private static let table: UnsafeMutablePointer<Int32> = {
        let table = UnsafeMutablePointer<Int32>.allocate(capacity: Int(tableSize))
        table.initialize(repeating: 0, count: Int(tableSize))
        return table
    }()

    /// /dev/null, opened once; -1 until then.
    nonisolated(unsafe) private static var devNull: Int32 = -1

    /// The signal the kernel sends, its handler installed once per process; nil if that failed.
    private static let signalNumber: Int32? = {
        _ = table
        devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard devNull >= 0 else { return nil }
        // A real-time signal nothing else here uses: queued per thread, and it carries the descriptor.
        let number = __libc_current_sigrtmin() + 6
        var action = sigaction()
        action.__sigaction_handler.sa_sigaction = { _, info, _ in
            // Only the kernel's reports of input or hang-up (POLL_IN, POLL_MSG, POLL_ERR, POLL_PRI, POLL_HUP:
            // what `poll` for POLLIN returns on), not of room to write (POLL_OUT) nor a signal someone sent.
            guard let info else { return }
            switch info.pointee.si_code {
            case 1, 3, 4, 5, 6: break
            default: return
            }
            let watched = info.pointee._sifields._sigpoll.si_fd
            guard watched >= 0, watched < ReadEndsWith.tableSize else { return }
            let input = ReadEndsWith.table[Int(watched)] - 1
            if input >= 0 { dup2(ReadEndsWith.devNull, input) }
        }
        action.sa_flags = SA_SIGINFO | SA_RESTART
        sigemptyset(&action.sa_mask)
        guard sigaction(number, &action, nil) == 0 else { return nil }
        // When the user's queue of real-time signals is full, the kernel sends SIGIO instead, whose default
        // action ends the process: catch it and do nothing (that session then ends at its end of input, not
        // at serve's going). Caught, not ignored, so that processes the engine spawns get the default back.
        var fallback = sigaction()
        fallback.__sigaction_handler.sa_handler = { _ in }
        fallback.sa_flags = SA_RESTART
        sigemptyset(&fallback.sa_mask)
        sigaction(SIGIO, &fallback, nil)
        return number
    }()

    private let watched: Int32
    /// The thread's signal mask before `arm` unblocked the signal (threads made by Dispatch's, and by
    /// their descendants, block every signal), put back by `disarm`.
    private let previousMask: sigset_t

    /// Makes `watched` becoming readable (or hung up) end the reads of `input` on the calling thread;
    /// nil if that could not be arranged (the caller polls both instead). Call `disarm()` on the same
    /// thread once it reads no more, before either descriptor is closed.
    static func arm(reading input: Int32, endsWith watched: Int32) -> ReadEndsWith? {
        guard let signalNumber, (0..<tableSize).contains(watched), input >= 0, let thread = currentThreadID() else { return nil }
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        sigaddset(&unblocked, signalNumber)
        var previousMask = sigset_t()
        guard pthread_sigmask(SIG_UNBLOCK, &unblocked, &previousMask) == 0 else { return nil }
        table[Int(watched)] = input + 1
        // struct f_owner_ex { int type; pid_t pid; }
        var owner: (Int32, pid_t) = (ownerThread, thread)
        let flags = fcntl(watched, F_GETFL)
        guard fcntl(watched, setOwnerEx, &owner) == 0, fcntl(watched, setSignal, signalNumber) == 0,
              flags >= 0, fcntl(watched, F_SETFL, flags | O_ASYNC) == 0 else {
            table[Int(watched)] = 0
            pthread_sigmask(SIG_SETMASK, &previousMask, nil)
            return nil
        }
        // Readable before it was armed: no change will be signalled, so end now.
        var probe = pollfd(fd: watched, events: Int16(POLLIN), revents: 0)
        if poll(&probe, 1, 0) > 0 { dup2(devNull, input) }
        return ReadEndsWith(watched: watched, previousMask: previousMask)
    }

    /// No more signals: the table entry goes first, so one the kernel queued meanwhile (delivered at the
    /// latest when `fcntl` returns) finds nothing to end.
    func disarm() {
        Self.table[Int(watched)] = 0
        let flags = fcntl(watched, F_GETFL)
        if flags >= 0 { _ = fcntl(watched, F_SETFL, flags & ~O_ASYNC) }
        var mask = previousMask
        pthread_sigmask(SIG_SETMASK, &mask, nil)
    }

    /// The calling thread's kernel id, from /proc/thread-self (`PID/task/TID`): Swift's Glibc has no `gettid`.
    private static func currentThreadID() -> pid_t? {
        var buffer = [CChar](repeating: 0, count: 64)
        let count = readlink("/proc/thread-self", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let last = text.split(separator: "/").last else { return nil }
        return pid_t(last)
    }
}
