import Synchronization

/// Returns the memory that large messages leave in the heaps, once enough of them have been handled.
///
/// The fixed `MallocThresholds` hand big buffers (128 KiB and up) back on free, but a large message
/// also makes smaller blocks — its copies, parsed values and answer, and many such messages in flight
/// at once — and freed between long-lived small blocks they leave holes in the middle of a heap, which
/// stay in the process. The fuzz suite's engine kept 10-14 MB that way after its NDJSON sessions, all
/// of it returned by `malloc_trim`. Each handled message of `largeMessageBytes` or more is counted;
/// once they add up to `budgetBytes`, `MallocThresholds.releaseFreedMemory()` runs. Smaller messages
/// (nearly every request) pay nothing, and the release's cost is spread over at least `budgetBytes`
/// of input: what is left unreleased in between is bounded by that budget.
public enum LargeMessageRelease {
    /// Messages this large or larger are counted.
    public static let largeMessageBytes = 32 << 10
    /// The release runs once the counted messages add up to this many bytes.
    public static let budgetBytes = 256 << 10

    private static let pending = Atomic<Int>(0)

    /// Call once a message of `size` bytes has been handled and answered (from any thread).
    public static func handled(size: Int) {
        guard size >= largeMessageBytes else { return }
        guard pending.wrappingAdd(size, ordering: .relaxed).newValue >= budgetBytes,
              pending.exchange(0, ordering: .relaxed) >= budgetBytes else { return }
        MallocThresholds.releaseFreedMemory()
    }
}
