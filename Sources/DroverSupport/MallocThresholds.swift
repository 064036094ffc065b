#if canImport(Glibc)
import Glibc

@_silgen_name("mallopt")
private func mallopt(_ parameter: Int32, _ value: Int32) -> Int32

@_silgen_name("malloc_trim")
private func malloc_trim(_ pad: Int) -> Int32
#endif

/// glibc's malloc, told to give freed memory back.
///
/// By default glibc raises its mmap threshold (up to 32 MiB) each time a block it mmapped is freed,
/// and its trim threshold with it: after one large message (a 2 MiB request, say) every later buffer
/// under that size comes from the heaps, and what is freed there stays in the process. A server fed
/// such messages among small ones grew by megabytes per thousand messages that way (the fuzz suite:
/// 45 → 110 MB in 30,000 messages, all of it freed memory `malloc_trim` gave back). Fixed thresholds
/// keep big buffers in their own mappings, returned on free.
public enum MallocThresholds {
    /// Buffers this large or larger are mapped on their own (glibc's initial default).
    public static let mmapBytes: Int32 = 128 * 1024

    /// At most this many malloc arenas (glibc's default is eight per core): each thread that meets a
    /// busy arena gets another, and every arena keeps its own high-water mark of freed memory, so an
    /// engine whose clients, agents and dispatch threads come and go kept growing for its first hundred
    /// thousand messages before it levelled off (the fuzz suite's first session).
    public static let arenas: Int32 = 2

    /// Fixes the thresholds for this process; call once, first thing (does nothing off glibc).
    public static func fix() {
        #if canImport(Glibc)
        let mmapThreshold: Int32 = -3  // M_MMAP_THRESHOLD (malloc.h, not imported)
        let trimThreshold: Int32 = -1  // M_TRIM_THRESHOLD
        let arenaMax: Int32 = -8  // M_ARENA_MAX
        _ = mallopt(mmapThreshold, mmapBytes)
        _ = mallopt(trimThreshold, mmapBytes)
        _ = mallopt(arenaMax, arenas)
        #endif
    }

    /// Gives the system back the pages freed inside the heaps, not only at their tops (`malloc_trim`).
    /// It walks every arena (about 0.1-0.2 ms on the engine's heaps, more when they are fragmented):
    /// see `LargeMessageRelease` for when it is worth it.
    public static func releaseFreedMemory() {
        #if canImport(Glibc)
        _ = malloc_trim(0)
        #endif
    }
}
