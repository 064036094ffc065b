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

/// A handed-over client's reader blocks on its input alone and ends when serve's socket (`endsWith`)
/// becomes readable or hangs up (`ReadEndsWith`): these hold it to what polling both before each read did.
@Suite("StdioChannel: a reader that ends with another descriptor")
struct ReadEndsWithTests {
    /// One reader's input pipe and watched socket, the messages it read and whether it has ended.
    final class Session: Sendable {
        let input: Int32, feed: Int32, watched: Int32, serveEnd: Int32
        let lines = Mutex<[String]>([])
        let ended = DispatchSemaphore(value: 0)
        /// Descriptors closed already: closing one twice could close another test's (tests run in parallel).
        private let closed = Mutex<Set<Int32>>([])

        init(nonBlocking: Bool = false) {
            var ends: [Int32] = [0, 0]
            // Close-on-exec: processes other tests spawn meanwhile must not hold these ends open.
            precondition(pipe(&ends) == 0)
            ends.forEach { _ = fcntl($0, F_SETFD, FD_CLOEXEC) }
            (input, feed) = (ends[0], ends[1])
            if nonBlocking { _ = fcntl(input, F_SETFL, fcntl(input, F_GETFL) | O_NONBLOCK) }
            var pair: [Int32] = [0, 0]
            precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0)
            (watched, serveEnd) = (pair[0], pair[1])
        }

        /// Reads until the end on the calling thread.
        func read() {
            StdioChannel.readUntilEnd(
                fd: input, endsWith: watched, parser: MessageParser(framing: .ndjson),
                onInputs: { inputs, _ in
                    for case .message(let bytes) in inputs { self.lines.withLock { $0.append(String(decoding: bytes, as: UTF8.self)) } }
                },
                onFramingDetected: { _ in },
                onEnd: { self.ended.signal() })
        }

        func start() { Thread { self.read() }.start() }

        func send(_ line: String) { writeAll(feed, line + "\n") }

        func hasEnded(within seconds: Double) async throws -> Bool {
            try await onOwnThread { self.ended.wait(timeout: .now() + seconds) == .success }
        }

        func waitForLines(_ count: Int) async throws {
            let deadline = ContinuousClock.now + .seconds(30)
            while lines.withLock({ $0.count }) < count {
                guard ContinuousClock.now < deadline else { throw TimedOut() }
                try await Task.sleep(for: .milliseconds(5))
            }
        }

        func close(_ descriptors: Int32...) {
            for fd in descriptors.isEmpty ? [input, feed, watched, serveEnd] : descriptors where closed.withLock({ $0.insert(fd).inserted }) {
                _ = Glibc.close(fd)
            }
        }
    }

    struct TimedOut: Error {}

    @Test("a reader blocked on its input ends when its socket hangs up; a reader beside it reads on")
    func endsOnlyItsOwnReader() async throws {
        let (first, second) = (Session(), Session())
        defer { first.close(); second.close() }
        first.start()
        second.start()
        first.send("1")
        second.send("2")
        try await first.waitForLines(1)
        try await second.waitForLines(1)
        first.close(first.serveEnd)  // serve has gone
        #expect(try await first.hasEnded(within: 10))
        second.send("3")
        try await second.waitForLines(2)
        #expect(second.lines.withLock { $0 } == ["2", "3"])
        #expect(try await !second.hasEnded(within: 0.05))
        writeAll(second.serveEnd, "x")  // readable is enough, as with poll
        #expect(try await second.hasEnded(within: 10))
    }

    @Test("a socket readable before the reader starts ends it at its first read")
    func readableBeforeStart() async throws {
        let session = Session()
        defer { session.close() }
        session.close(session.serveEnd)
        session.start()
        #expect(try await session.hasEnded(within: 10))
        #expect(session.lines.withLock { $0 }.isEmpty)
    }

    @Test("a non-blocking input is read as it comes and still ends with its socket")
    func nonBlockingInput() async throws {
        let session = Session(nonBlocking: true)
        defer { session.close() }
        session.start()
        for index in 1...3 {
            session.send("\(index)")
            try await session.waitForLines(index)
        }
        session.close(session.serveEnd)
        #expect(try await session.hasEnded(within: 10))
        #expect(session.lines.withLock { $0 } == ["1", "2", "3"])
    }

    @Test("after a reader ends by end of input, its socket no longer ends anything: not the next reader on that thread, whose input may have the same number")
    func disarmedAtTheEnd() async throws {
        let first = Session()
        defer { first.close() }
        let next = Mutex<Session?>(nil)
        let nextStarted = DispatchSemaphore(value: 0)
        // Both sessions on one thread, as the engine's reused client threads do.
        Thread {
            first.read()
            first.close(first.input)
            let session = Session()
            next.withLock { $0 = session }
            nextStarted.signal()
            session.read()
        }.start()
        first.send("a")
        try await first.waitForLines(1)
        first.close(first.feed)  // end of input, the socket still open
        #expect(try await first.hasEnded(within: 10))
        #expect(try await onOwnThread { nextStarted.wait(timeout: .now() + 10) == .success })
        let second = try #require(next.withLock { $0 })
        defer { second.close() }
        writeAll(first.serveEnd, "x")
        second.send("b")
        try await second.waitForLines(1)
        #expect(try await !second.hasEnded(within: 0.1))
        second.close(second.feed)
        #expect(try await second.hasEnded(within: 10))
    }
}
