import DroverProtocol
@testable import DroverServer
import Foundation
import Testing

/// Drives an `OutputQueue` as the outbox and its writer would, and reads back what would be written.
private struct QueueDriver {
    var queue: OutputQueue
    /// Messages written so far, parsed.
    var written: [JSONValue] = []
    /// Sizes of the writes so far.
    var writes: [Int] = []
    private var parser = MessageParser(framing: .ndjson)

    init(limits: OutboxLimits) {
        queue = OutputQueue(framing: .ndjson, limits: limits)
    }

    static let key = OutputQueue.LogKey(runId: "r-1", stepId: "work", attempt: 1)

    /// Where each attempt's next line starts in its (pretend) log file.
    var logSizes: [OutputQueue.LogKey: Int] = [:]

    /// Queues a `run/log` line, as the outbox does; returns whether it was taken.
    @discardableResult
    mutating func log(_ text: String, key: OutputQueue.LogKey = key) -> Bool {
        let offset = logSizes[key, default: 0]
        logSizes[key] = offset + text.utf8.count + 1
        let log = RunLogNotification(runId: key.runId, stepId: key.stepId, attempt: key.attempt, stream: .agent,
                                     text: text, offset: offset)
        if queue.sheds(log: key, offset: offset, size: 0) { return false }
        return queue.admit(Outbox.notificationBody(method: RunLogNotification.method, params: log), as: .log(key, offset: offset))
    }

    /// Queues `run.started` with `seq` of `runId`; returns whether it was taken.
    @discardableResult
    mutating func event(_ runId: String, seq: Int) -> Bool {
        let event = Event(runId: runId, seq: seq, at: "2026-01-01T00:00:00.000Z", body: .runStarted)
        return queue.admit(Outbox.notificationBody(method: RunEventNotification.method, params: event),
                           as: .event(runId: runId, seq: seq))
    }

    /// Writes everything ready, as the writer thread would (each take one write).
    mutating func drain() {
        while let batch = queue.take(maxBytes: Outbox.maxWriteBytes) {
            writes.append(batch.count)
            for input in parser.push(batch) {
                guard case .message(let body) = input else { continue }
                written.append(try! JSONDecoder().decode(JSONValue.self, from: Data(body)))
            }
            queue.written(batch.count)
        }
    }

    var methods: [String] { written.map { $0["method"]?.stringValue ?? "response" } }
}

/// The params of a `run/logsDropped`.
private func dropped(_ runId: String, _ stepId: String, _ attempt: Int, lines: Int, from offset: Int) -> JSONValue {
    .object(["runId": .string(runId), "stepId": .string(stepId), "attempt": .int(attempt), "lines": .int(lines),
             "fromOffset": .int(offset)])
}

@Suite("Outbox queue: ordering and shedding")
struct OutputQueueTests {
    @Test("a written batch's buffer, reused for the next corked answers, carries only those answers, framed")
    func recycledBuffer() {
        var queue = OutputQueue(framing: .lsp, limits: OutboxLimits())
        for (index, body) in ["{\"id\":1,\"long\":\"\(String(repeating: "x", count: 300))\"}", "{\"id\":2}", "{\"id\":3}"].enumerated() {
            queue.cork()
            queue.admit(Array(body.utf8), as: .answer)
            if index == 2 { queue.admit(Array("{\"id\":4}".utf8), as: .answer) }
            queue.uncork()
            let batch = queue.take(maxBytes: 1 << 20) ?? []
            var expected = Framing.lsp.frame(Array(body.utf8))
            if index == 2 { expected += Framing.lsp.frame(Array("{\"id\":4}".utf8)) }
            #expect(batch == expected, "batch \(index)")
            queue.written(batch.count)
            queue.recycle(batch)
        }
        #expect(queue.backlog == 0)
    }

    @Test("run/log lines past the log bound are dropped, then announced once between the lines before and after the gap")
    func logGap() {
        var driver = QueueDriver(limits: OutboxLimits(logs: 2_000, events: 8_000, resume: 500))
        var taken = 0
        var firstDroppedAt: Int?
        for index in 1...100 {
            let offset = driver.logSizes[QueueDriver.key, default: 0]
            if driver.log("line \(index) " + String(repeating: "x", count: 60)) { taken += 1 } else if firstDroppedAt == nil { firstDroppedAt = offset }
        }
        #expect(taken > 0 && taken < 100, "some lines fit, the rest are shed: \(taken)")
        #expect(driver.queue.backlog <= 2_000)
        driver.drain()
        let afterGap = driver.log("after the gap")
        #expect(afterGap)
        driver.drain()

        #expect(driver.methods == Array(repeating: "run/log", count: taken) + ["run/logsDropped", "run/log"])
        let notice = driver.written[taken]["params"]
        #expect(notice == dropped("r-1", "work", 1, lines: 100 - taken, from: firstDroppedAt ?? -1))
        #expect(driver.written.last?["params"]?["text"]?.stringValue == "after the gap")
    }

    @Test("every attempt with a gap gets its own count")
    func gapsPerAttempt() {
        var driver = QueueDriver(limits: OutboxLimits(logs: 300, events: 8_000, resume: 100))
        let other = OutputQueue.LogKey(runId: "r-2", stepId: "build", attempt: 3)
        driver.log(String(repeating: "x", count: 400))  // one big line: the client is not behind, it goes
        for _ in 1...3 { driver.log("a") }
        for _ in 1...5 { driver.log("b", key: other) }
        driver.drain()
        let notices = driver.written.filter { $0["method"]?.stringValue == "run/logsDropped" }.map { $0["params"] }
        #expect(notices == [dropped("r-1", "work", 1, lines: 3, from: 401), dropped("r-2", "build", 3, lines: 5, from: 0)])
    }

    @Test("run/events are kept past the log bound; past the event bound the run's later events are dropped and announced with the last seq sent")
    func eventGap() {
        var driver = QueueDriver(limits: OutboxLimits(logs: 1_000, events: 3_000, resume: 500))
        var sent = 0
        for seq in 1...100 where driver.event("r-1", seq: seq) { sent = seq }
        #expect(sent > 1_000 / 150, "events still go past the log bound")
        #expect(driver.queue.backlog <= 3_000)
        let lineTaken = driver.log("a line while events are shed")
        #expect(!lineTaken)
        let otherRunTaken = driver.event("r-2", seq: 7)
        #expect(!otherRunTaken, "another run's events are shed too")
        driver.drain()
        let afterGap = driver.event("r-1", seq: 101)
        #expect(afterGap)
        driver.drain()

        let events = driver.written.filter { $0["method"]?.stringValue == "run/event" }
        #expect(events.map { $0["params"]?["seq"] } == (1...sent).map { .int($0) } + [.int(101)])
        let notices = driver.written.filter { $0["method"]?.stringValue == "run/eventsDropped" }.map { $0["params"] }
        #expect(notices == [
            .object(["runId": .string("r-1"), "afterSeq": .int(sent)]), .object(["runId": .string("r-2"), "afterSeq": .int(6)]),
        ])
        #expect(driver.methods.last == "run/event", "the notices come before the events after the gap")
    }

    @Test("answers are never shed")
    func answersKept() {
        var driver = QueueDriver(limits: OutboxLimits(logs: 100, events: 200, resume: 50))
        for id in 1...50 {
            let taken = driver.queue.admit(Outbox.response(id: .int(id), resultJSON: Array("null".utf8)), as: .answer)
            #expect(taken)
        }
        #expect(!driver.queue.hasRoom, "the reader is told to wait")
        driver.drain()
        #expect(driver.written.count == 50)
        #expect(driver.queue.hasRoom)
    }

    @Test("held notifications wait for the last release; answers pass them")
    func holds() {
        var driver = QueueDriver(limits: OutboxLimits())
        driver.queue.hold()
        driver.queue.hold()
        driver.event("r-1", seq: 1)
        driver.queue.release()
        driver.drain()
        #expect(driver.written.isEmpty)
        driver.queue.admit(Outbox.response(id: .int(1), resultJSON: Array("{}".utf8)), as: .answer)
        driver.queue.release()
        driver.drain()
        #expect(driver.methods == ["response", "run/event"])
    }

    @Test("corked output leaves in one write")
    func cork() {
        var driver = QueueDriver(limits: OutboxLimits())
        driver.queue.cork()
        for id in 1...20 { driver.queue.admit(Outbox.response(id: .int(id), resultJSON: Array("null".utf8)), as: .answer) }
        driver.drain()
        #expect(driver.writes.isEmpty)
        driver.queue.uncork()
        driver.drain()
        #expect(driver.writes.count == 1)
        #expect(driver.written.count == 20)
    }

    @Test("framing applies from the message queued after the switch")
    func framingSwitch() {
        var queue = OutputQueue(framing: .ndjson, limits: OutboxLimits())
        queue.admit(Array("{}".utf8), as: .answer)
        queue.framing = .lsp
        queue.admit(Array("[]".utf8), as: .answer)
        let bytes = queue.take(maxBytes: 1 << 20) ?? []
        #expect(String(decoding: bytes, as: UTF8.self) == "{}\nContent-Length: 2\r\n\r\n[]")
    }
}
