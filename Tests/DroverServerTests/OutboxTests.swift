import DroverProtocol
@testable import DroverServer
import Foundation
import PostgresTestServer
import Synchronization
import Testing

/// A client end that can stall: writes wait while it is stalled, and what gets through is parsed.
private final class StallableClient: Sendable {
    private struct State {
        var parser = MessageParser(framing: .ndjson)
        var messages: [JSONValue] = []
        var stalled: Bool
        var gone = false
        var writesWaiting = 0
    }

    private let state: Mutex<State>
    private let unstalled = DispatchSemaphore(value: 0)

    init(stalled: Bool = false) {
        state = Mutex(State(stalled: stalled))
    }

    /// The outbox's `write`: blocks while stalled, fails once the client has gone.
    func write(_ bytes: [UInt8]) -> Bool {
        let mustWait = state.withLock { state in
            if state.stalled { state.writesWaiting += 1 }
            return state.stalled
        }
        if mustWait { unstalled.wait() }
        return state.withLock { state in
            guard !state.gone else { return false }
            for input in state.parser.push(bytes) {
                guard case .message(let body) = input else { continue }
                state.messages.append((try? JSONDecoder().decode(JSONValue.self, from: Data(body))) ?? .null)
            }
            return true
        }
    }

    func resume() {
        let waiting = state.withLock { state in
            state.stalled = false
            defer { state.writesWaiting = 0 }
            return state.writesWaiting
        }
        for _ in 0..<waiting { unstalled.signal() }
    }

    func closeItsEnd() {
        state.withLock { $0.gone = true }
        resume()
    }

    var messages: [JSONValue] { state.withLock { $0.messages } }
    var isBlockedInWrite: Bool { state.withLock { $0.writesWaiting > 0 } }

    /// Waits until `condition` holds for the messages so far.
    func wait(_ what: String, timeout: Duration = hangBound, until condition: @escaping ([JSONValue]) -> Bool) async throws {
        try await waitUntil(what, timeout: timeout) { condition(self.messages) }
    }
}

private struct TimedOut: Error, CustomStringConvertible {
    let description: String
}

/// Polls `condition` until it holds, failing after `timeout` (`hangBound`: a bound, not a pause — the test runner of a
/// loaded 2-core machine has stalled for 30 s and more, as in ConnectionTests).
private func waitUntil(_ what: String, timeout: Duration = hangBound, _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { throw TimedOut(description: "timed out waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(2))  // polling interval, not synchronisation
    }
}

private func log(_ index: Int) -> RunLogNotification {
    RunLogNotification(runId: "r-1", stepId: "work", attempt: 1, stream: .agent, text: "line \(index)", offset: index * 16)
}

private func event(_ seq: Int) -> Event {
    Event(runId: "r-1", seq: seq, at: "2026-01-01T00:00:00.000Z", body: .runStarted)
}

@Suite("Outbox: one writer thread")
struct OutboxTests {
    @Test("notifying never waits for a client that has stopped reading; what it missed is announced when it reads again")
    func stalledClient() async throws {
        let client = StallableClient(stalled: true)
        let outbox = Outbox(framing: .ndjson, limits: OutboxLimits(logs: 64 << 10, events: 256 << 10, resume: 16 << 10),
                            write: client.write)
        outbox.notifyEvent(event(1))
        try await waitUntil("the writer to block on the stalled client") { client.isBlockedInWrite }
        let started = ContinuousClock.now
        for index in 1...100_000 { outbox.notifyLog(log(index)) }
        outbox.notifyEvent(event(2))
        #expect(ContinuousClock.now - started < .seconds(5), "queueing does not wait for the client")

        client.resume()
        try await client.wait("the gap notice and the last event") { messages in
            messages.contains { $0["method"]?.stringValue == "run/logsDropped" }
                && messages.contains { $0["params"]?["seq"] == .int(2) }
        }
        let messages = client.messages
        let lines = messages.filter { $0["method"]?.stringValue == "run/log" }.count
        let dropped = messages.compactMap { $0["method"]?.stringValue == "run/logsDropped" ? $0["params"]?["lines"] : nil }
        #expect(dropped.count == 1)
        #expect(lines + (dropped.first.flatMap { if case .int(let n) = $0 { n } else { nil } } ?? 0) == 100_000)
        #expect(messages.filter { $0["method"]?.stringValue == "run/event" }.count == 2, "events are kept")
    }

    @Test("a failed write (the client closed its end) is reported once; nothing more is written and finish returns at once")
    func peerGone() async throws {
        let client = StallableClient()
        let outbox = Outbox(framing: .ndjson, write: client.write)
        let reports = Atomic<Int>(0)
        outbox.onPeerGone { reports.add(1, ordering: .relaxed) }
        client.closeItsEnd()
        outbox.respond(id: .int(1), result: Empty())
        try await waitUntil("the report") { reports.load(ordering: .relaxed) == 1 }
        outbox.respond(id: .int(2), result: Empty())
        outbox.waitForRoom()
        await outbox.finish(timeout: .seconds(30))
        let reportCount = reports.load(ordering: .relaxed)
        #expect(reportCount == 1)
        #expect(client.messages.isEmpty)
    }

    @Test("finish writes what is queued first, and gives up on a client that does not read")
    func finish() async throws {
        let reading = StallableClient()
        let outbox = Outbox(framing: .ndjson, write: reading.write)
        for id in 1...100 { outbox.respond(id: .int(id), result: Empty()) }
        await outbox.finish(timeout: .seconds(30))
        #expect(reading.messages.count == 100)
        outbox.respond(id: .int(101), result: Empty())
        #expect(reading.messages.count == 100, "nothing is queued after finish")

        let stalled = StallableClient(stalled: true)
        let stuck = Outbox(framing: .ndjson, write: stalled.write)
        stuck.respond(id: .int(1), result: Empty())
        let started = ContinuousClock.now
        await stuck.finish(timeout: .milliseconds(200))
        // A bound that tells "gave up" from "waits for the client forever", not a speed: a loaded machine took 14 s.
        #expect(ContinuousClock.now - started < .seconds(60))
        stalled.closeItsEnd()
    }

    @Test("answers the reader writes itself and notifications the writer thread writes keep the order they were queued in")
    func readerWritesInOrder() async throws {
        let client = StallableClient()
        let outbox = Outbox(framing: .ndjson, write: client.write)
        let reader = Thread {
            for seq in stride(from: 1, through: 2_000, by: 4) {
                outbox.handleInput {
                    for seq in seq..<(seq + 3) {
                        outbox.respond(id: .int(seq), result: Empty())
                        outbox.notifyEvent(event(seq))
                    }
                }
                outbox.respond(id: .int(seq + 3), result: Empty())
                outbox.notifyEvent(event(seq + 3))
            }
        }
        reader.start()
        try await client.wait("every message") { $0.count == 4_000 }
        let order = client.messages.map { $0["id"] ?? $0["params"]?["seq"] ?? .null }
        #expect(order == (1...2_000).flatMap { [JSONValue.int($0), .int($0)] })
    }

    @Test("the -32601 answer written directly is the bytes of the general error answer, escapes and cut names included")
    func methodNotFoundBytes() {
        let methods = ["bench/nonexistent", "", "x/\"y\"", "a\\b", "tab\there", "line\nbreak", "\u{1}ctl", "é/ü", "🚀/fly",
                       String(repeating: "m", count: Excerpt.maxCharacters),
                       String(repeating: "m", count: Excerpt.maxCharacters + 1),
                       String(repeating: "é", count: Excerpt.maxCharacters)]
        for id in [RequestID.int(7), .int(-1), .string("a\"b")] {
            for method in methods {
                var name = method
                #expect(name.withUTF8 { Outbox.methodNotFound(id: id, name: $0) } == Outbox.response(id: id, error: .methodNotFound(method)),
                        "method \(method.debugDescription), id \(id)")
            }
        }
    }

    @Test("the reader waits for room while answers pile up, and goes on once the client reads")
    func readerBackpressure() async throws {
        let client = StallableClient(stalled: true)
        let outbox = Outbox(framing: .ndjson, limits: OutboxLimits(logs: 1_000, events: 4_000, resume: 500), write: client.write)
        for id in 1...200 { outbox.respond(id: .int(id), result: Empty()) }
        let waited = Atomic<Bool>(false)
        let reader = Thread {
            outbox.waitForRoom()
            waited.store(true, ordering: .relaxed)
        }
        reader.start()
        try await Task.sleep(for: .milliseconds(50))  // give a wrongly non-blocking wait the chance to return
        let returnedEarly = waited.load(ordering: .relaxed)
        #expect(!returnedEarly, "the reader waits while the client does not read")
        client.resume()
        try await waitUntil("the reader to go on") { waited.load(ordering: .relaxed) }
        try await client.wait("every answer") { $0.count == 200 }
    }
}
