@testable import DroverEngine
import Foundation
import Synchronization
import Testing

@Suite("ReusedThreads")
struct ReusedThreadsTests {
    @Test("work that comes after the last is done runs on the thread that did it, not on a new one")
    func reuses() async throws {
        let threads = ReusedThreads(name: "test-reused")
        var seen: Set<pthread_t> = []
        for _ in 0..<3 {
            let thread: pthread_t = await withCheckedContinuation { continuation in
                threads.run { continuation.resume(returning: pthread_self()) }
            }
            seen.insert(thread)
            try await waitUntilIdle(threads, count: 1)
            #expect(threads.idleThreads == 1)
        }
        #expect(seen.count == 1)
    }

    @Test("an idle thread keeps nothing of the work it did (an attempt's pump, its log, its channel)")
    func idleThreadsReleaseTheirWork() async throws {
        final class Captured: Sendable {}
        let threads = ReusedThreads(name: "test-release", stackSize: 256 * 1024)
        weak var captured: Captured?
        do {
            let work = Captured()
            captured = work
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                threads.run { withExtendedLifetime(work) { continuation.resume() } }
            }
        }
        try await waitUntilIdle(threads, count: 1)
        #expect(captured == nil)
    }

    @Test("work handed over while every thread is busy gets a thread of its own, and each piece runs once")
    func busyThreadsDoNotQueueWork() async throws {
        let threads = ReusedThreads(name: "test-busy")
        let release = DispatchSemaphore(value: 0)
        let ran = Counter()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        threads.run {
                            ran.add()
                            continuation.resume()
                            release.wait()  // all four are held at once: none may wait behind another
                        }
                    }
                }
            }
        }
        #expect(ran.value == 4)
        for _ in 0..<4 { release.signal() }
        try await waitUntilIdle(threads, count: 4)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            threads.run { ran.add(); continuation.resume() }
        }
        #expect(ran.value == 5)
    }

    @Test("prepare runs once on each new thread, before its first work, and what it set holds for later work")
    func preparesEachThreadOnce() async throws {
        let prepared = Counter()
        let threads = ReusedThreads(name: "test-prepare") {
            prepared.add()
            blockSIGPIPEOnThisThread()
        }
        for _ in 0..<3 {
            let blocked: Bool = await withCheckedContinuation { continuation in
                threads.run {
                    var mask = sigset_t()
                    pthread_sigmask(SIG_BLOCK, nil, &mask)
                    continuation.resume(returning: sigismember(&mask, SIGPIPE) == 1)
                }
            }
            #expect(blocked)
            try await waitUntilIdle(threads, count: 1)
        }
        #expect(prepared.value == 1)
    }

    /// Waits (polling, at most 5 s) until `count` threads wait for work: they mark themselves idle just
    /// after their work returns.
    private func waitUntilIdle(_ threads: ReusedThreads, count: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while threads.idleThreads < count && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(1))  // polling interval
        }
    }
}

private final class Counter: Sendable {
    private let count = Mutex(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
