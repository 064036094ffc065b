import CSched
import DroverProtocol
@testable import DroverServer
import DroverSupport
import Foundation
import PostgresTestServer
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The protocol reader asks the kernel for a short time slice while it reads (`ReaderSlice`), so it runs
/// as soon as a request wakes it, and gives it back when the client's input ends.
@Suite("StdioChannel: the reader's time slice")
struct ReaderSliceTests {
    @Test("while reading, the reader's slice is 0.1 ms where the kernel has per-thread slices; afterwards the default again")
    func shortSliceWhileReading() async throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        ends.forEach { _ = fcntl($0, F_SETFD, FD_CLOEXEC) }
        let (input, feed) = (ends[0], ends[1])
        defer { close(input) }
        // (before, while reading, after) on the reader's thread.
        let slices = Mutex<(UInt64, UInt64, UInt64)?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread {
            let before = UInt64(drover_thread_slice())
            let during = Mutex<UInt64>(0)
            StdioChannel.readUntilEnd(
                fd: input, parser: MessageParser(framing: .ndjson),
                onInputs: { _, _ in during.withLock { $0 = UInt64(drover_thread_slice()) } },
                onFramingDetected: { _ in }, onEnd: {})
            slices.withLock { $0 = (before, during.withLock { $0 }, UInt64(drover_thread_slice())) }
            done.signal()
        }.start()
        writeAll(feed, #"{"jsonrpc":"2.0","method":"m"}"# + "\n")
        close(feed)
        #expect(try await onOwnThread { done.wait(timeout: .now() + 30) == .success })
        let (before, during, after) = try #require(slices.withLock { $0 })
        // A kernel without per-thread slices (before 6.12) reports none; reading works the same.
        guard before != 0 else { return }
        #expect(during == ReaderSlice.nanoseconds)
        #expect(after == before)
    }
}
