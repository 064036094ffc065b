import CSched

/// A short time slice for a thread while it reads a client's requests.
///
/// The reader sleeps in `read` until a request comes, answers, and sleeps again. Under Linux's EEVDF
/// scheduler (6.6+) a thread woken with the default slice (0.7 ms × a factor for the CPU count) waits
/// for the running thread — often the client that just wrote the request — to use up its own; with a
/// short slice (Linux 6.12+: `sched_attr.sched_runtime`) it is run when it wakes, so the client's
/// wait for the answer is shorter (`Tests/Bench/figures.py`'s one-CPU rows show it). Where the kernel
/// has no per-thread slice the call changes nothing.
enum ReaderSlice {
    /// 0.1 ms, the shortest slice Linux grants: a request's answer takes microseconds.
    static let nanoseconds: UInt64 = 100_000

    /// Asks for the short slice on the calling thread; true if it was granted (then call `end()`).
    static func begin() -> Bool {
        drover_set_thread_slice(CUnsignedLongLong(nanoseconds)) == 0
    }

    /// Gives the calling thread the default slice again (reader threads are reused for other work).
    static func end() {
        _ = drover_set_thread_slice(0)
    }
}
