import DroverProtocol
@testable import DroverServer
import DroverSupport
import Foundation
import PostgresTestServer
import Synchronization
import Testing

// MARK: - Test methods

/// Echoes its params back.
private struct Echo: RequestType {
    typealias Response = Echo
    static let method = "test/echo"
    var text: String
}

/// Sleeps (cancellably) for `seconds`, then answers `{}`.
private struct Slow: RequestType {
    typealias Response = Empty
    static let method = "test/slow"
    var seconds: Double
}

/// Waits until the test opens `TestDelegate.gate`, then answers `{}`.
private struct Held: RequestType {
    typealias Response = Empty
    static let method = "test/held"
}

/// Changes "a run": emits `count` run/event notifications while it is handled, then answers (or fails).
private struct Mutate: RequestType {
    typealias Response = Echo
    static let method = "test/mutate"
    var count: Int
    var fail: Bool?
}

/// A delegate with handlers that echo, sleep cancellably and emit notifications through the outbox.
private final class TestDelegate: ConnectionDelegate {
    private let outbox = Mutex<Outbox?>(nil)
    let shutdownCount = Atomic<Int>(0)
    /// `test/held` requests answer once this opens; `heldStarted` counts those being handled.
    let gate = Gate()
    let heldStarted = Atomic<Int>(0)

    func initialize(_ params: InitializeRequest, framing: Framing, outbox: Outbox) throws -> InitializeResult {
        self.outbox.withLock { $0 = outbox }
        return InitializeResult(
            protocolVersion: ProtocolVersion.current,
            serverInfo: .init(name: "drover", version: "test"),
            workspace: params.workspace ?? "/tmp",
            capabilities: .init(framing: framing.rawValue, methods: [Echo.method, Slow.method, Mutate.method],
                                notifications: ["run/event"], eventTypes: [], drivers: []))
    }

    func start() async {}

    func handler(for method: String) -> MethodHandler? {
        switch method {
        case Echo.method:
            return .typed(Echo.self) { $0 }
        case Held.method:
            return .typed(Held.self) { [self] _ in
                heldStarted.add(1, ordering: .sequentiallyConsistent)
                await gate.pass()
                return Empty()
            }
        case Slow.method:
            return .typed(Slow.self) { params in
                try await Task.sleep(for: .seconds(params.seconds))
                return Empty()
            }
        case Mutate.method:
            return .typed(Mutate.self, changesRuns: true) { params in
                for seq in 1...max(params.count, 1) {
                    self.notify(seq: seq)
                }
                if params.fail == true { throw ResponseError.conflict("the run is done") }
                return Echo(text: "mutated")
            }
        default:
            return nil
        }
    }

    func shutdown() async {
        shutdownCount.add(1, ordering: .relaxed)
    }

    private func notify(seq: Int) {
        let outbox = self.outbox.withLock { $0 }
        outbox?.notify(method: "run/event", params: JSONValue.object(["runId": .string("r-1"), "seq": .int(seq)]))
    }
}

// MARK: - Harness

/// Holds whoever calls `pass()` until `open()` (suspended, not polling: hundreds wait at once).
private final class Gate: Sendable {
    private let state = Mutex<(isOpen: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    func pass() async {
        await withCheckedContinuation { continuation in
            let isOpen = state.withLock { state in
                if !state.isOpen { state.waiting.append(continuation) }
                return state.isOpen
            }
            if isOpen { continuation.resume() }
        }
    }

    func open() {
        let waiting = state.withLock { state in
            state.isOpen = true
            defer { state.waiting = [] }
            return state.waiting
        }
        waiting.forEach { $0.resume() }
    }
}

private struct TimedOut: Error, CustomStringConvertible {
    let description: String
}

/// Collects what the connection writes, parsed back into JSON values, and its exit code.
private final class Collector: Sendable {
    private struct State {
        var parser: MessageParser
        var messages: [JSONValue] = []
        var exitCode: Int32?
        var exitCalls = 0
    }

    private let state: Mutex<State>

    init(framing: Framing) {
        state = Mutex(State(parser: MessageParser(framing: framing)))
    }

    func sink(_ bytes: [UInt8]) {
        state.withLock { state in
            for input in state.parser.push(bytes) {
                guard case .message(let body) = input,
                      let value = try? JSONDecoder().decode(JSONValue.self, from: Data(body)) else {
                    state.messages.append(.string("UNPARSEABLE OUTPUT: \(input)"))
                    continue
                }
                state.messages.append(value)
            }
        }
    }

    func exited(_ code: Int32) {
        state.withLock {
            $0.exitCode = code
            $0.exitCalls += 1
        }
    }

    var messages: [JSONValue] { state.withLock { $0.messages } }
    var exitCalls: Int { state.withLock { $0.exitCalls } }

    /// Waits until `condition` holds for the messages so far, or fails after `timeout` (`hangBound`: a
    /// bound, not a pause; on a loaded 2-core machine, 10 s and then 30 s failed passing tests).
    @discardableResult
    func wait(_ what: String, timeout: Duration = hangBound, until condition: ([JSONValue]) -> Bool) async throws -> [JSONValue] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let messages = self.messages
            if condition(messages) { return messages }
            guard ContinuousClock.now < deadline else {
                throw TimedOut(description: "timed out waiting for \(what); got \(messages)")
            }
            try await Task.sleep(for: .milliseconds(2))  // polling interval, not synchronisation
        }
    }

    /// Waits for the response with `id`.
    func response(_ id: JSONValue, timeout: Duration = hangBound) async throws -> JSONValue {
        let messages = try await wait("response \(id)", timeout: timeout) { $0.contains { $0["id"] == id } }
        return messages.first { $0["id"] == id }!
    }

    /// Waits for the exit code.
    func exitCode(timeout: Duration = hangBound) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let code = state.withLock({ $0.exitCode }) { return code }
            try await Task.sleep(for: .milliseconds(2))
        }
        throw TimedOut(description: "timed out waiting for onExit")
    }
}

/// A connection driven in memory: `send` feeds it framed input, `collector` sees what it writes.
private struct Harness {
    let framing: Framing
    let delegate = TestDelegate()
    let collector: Collector
    let connection: Connection

    init(framing: Framing = .ndjson) {
        self.framing = framing
        let collector = Collector(framing: framing)
        self.collector = collector
        let outbox = Outbox(framing: framing) { collector.sink($0); return true }
        connection = Connection(outbox: outbox, delegate: delegate, log: Logger(level: .error)) { collector.exited($0) }
    }

    func send(_ json: String) {
        connection.receive(.message(Array(json.utf8)), framing: framing)
    }

    func request(_ id: Int, _ method: String, _ params: String = "{}") {
        send(#"{"jsonrpc":"2.0","id":\#(id),"method":"\#(method)","params":\#(params)}"#)
    }

    func notify(_ method: String, _ params: String = "{}") {
        send(#"{"jsonrpc":"2.0","method":"\#(method)","params":\#(params)}"#)
    }

    /// Sends `initialize` (+ `initialized`) and waits for its response.
    func initialize(id: Int = 0) async throws {
        request(id, "initialize", #"{"protocolVersion":1}"#)
        let response = try await collector.response(.int(id))
        #expect(response["result"]?["protocolVersion"] == .int(1))
        notify("initialized")
    }

    /// Sends the batch `text` (then runs `after`: a cancel, say) and waits for its answer, which must be
    /// the one message written next, an array.
    func batch(_ text: String, after: () -> Void = {}) async throws -> [JSONValue] {
        let before = collector.messages.count
        send(text)
        after()
        let messages = try await collector.wait("batch answer") { $0.count > before }
        #expect(messages.count == before + 1)
        guard case .array(let answers)? = messages.last else {
            Issue.record("batch not answered with an array: \(String(describing: messages.last))")
            return []
        }
        return answers
    }

    /// A request that is answered synchronously (-32601), to know earlier input has been processed.
    func sync(id: Int = 999_999) async throws {
        request(id, "test/no-such-method")
        _ = try await collector.response(.int(id))
    }
}

private func code(_ message: JSONValue?) -> Int? {
    if case .int(let code)? = message?["error"]?["code"] { return code }
    return nil
}

// MARK: - Lifecycle

/// Records when its `start()` and `shutdown()` run, and whether the `initialize` answer was out by `start()`.
private final class StartRecordingDelegate: ConnectionDelegate {
    private let written: @Sendable () -> Int
    let events = Mutex<[String]>([])

    /// - Parameter written: how many messages the connection has written so far.
    init(written: @escaping @Sendable () -> Int) {
        self.written = written
    }

    func initialize(_ params: InitializeRequest, framing: Framing, outbox: Outbox) throws -> InitializeResult {
        InitializeResult(protocolVersion: ProtocolVersion.current, serverInfo: .init(name: "drover", version: "test"),
                         workspace: "/tmp", capabilities: .init(framing: framing.rawValue, methods: [], notifications: [], eventTypes: [], drivers: []))
    }

    func start() async {
        let written = self.written()
        events.withLock { $0.append(written > 0 ? "start after the answer" : "start before the answer") }
    }

    func handler(for method: String) -> MethodHandler? { nil }

    func shutdown() async {
        events.withLock { $0.append("shutdown") }
    }
}

@Suite("Connection: lifecycle")
struct ConnectionLifecycleTests {
    @Test("a session's start() begins once the initialize answer is written; with exit in the same read it still runs, before shutdown")
    func startAfterTheAnswer() async throws {
        for exitsAtOnce in [false, true] {
            let collector = Collector(framing: .ndjson)
            let delegate = StartRecordingDelegate { collector.messages.count }
            let outbox = Outbox(framing: .ndjson) { collector.sink($0); return true }
            let connection = Connection(outbox: outbox, delegate: delegate, log: Logger(level: .error)) { collector.exited($0) }
            // Fed from a pipe, as an engine client's handed-over stdin is: one read holds it all.
            var ends: [Int32] = [0, 0]
            #expect(pipe(&ends) == 0)
            let readEnd = ends[0]
            let read = #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}"# + "\n"
                + (exitsAtOnce ? #"{"jsonrpc":"2.0","method":"exit"}"# + "\n" : "")
            #expect(writeAll(ends[1], read) == nil)
            Thread { connection.readUntilEnd(fd: readEnd, parser: MessageParser(framing: .ndjson)) }.start()
            let count = exitsAtOnce ? 2 : 1
            let deadline = ContinuousClock.now + hangBound
            while delegate.events.withLock({ $0.count }) < count, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(2))  // polling interval, not synchronisation
            }
            let events = delegate.events.withLock { $0 }
            if exitsAtOnce {
                // Ending in the read that started it, the session starts as it stops (the answer may not be out yet).
                #expect(events.count == 2 && events[0].hasPrefix("start") && events[1] == "shutdown", "\(events)")
            } else {
                #expect(events == ["start after the answer"])
            }
            #expect(collector.messages.first?["id"] == .int(0))
            close(ends[1])
            _ = try await collector.exitCode()
            close(readEnd)
        }
    }

    @Test("requests before initialize get -32002", arguments: ["test/echo", "shutdown", "no/such", "run/get"])
    func notInitialized(method: String) async throws {
        let harness = Harness()
        harness.request(1, method, #"{"text":"x"}"#)
        let response = try await harness.collector.response(.int(1))
        #expect(code(response) == -32002)
        #expect(response["error"]?["message"]?.stringValue?.contains("initialize") == true)
    }

    @Test("notifications before initialize are dropped")
    func notificationsDropped() async throws {
        let harness = Harness()
        harness.notify("initialized")
        harness.notify("$/cancelRequest", #"{"id":1}"#)
        harness.notify("some/notification", #"{"a":1}"#)
        try await harness.initialize()
        try await harness.sync()
        let messages = harness.collector.messages
        #expect(messages.count == 2, "\(messages)")
        #expect(messages.first?["id"] == .int(0))
        #expect(harness.collector.exitCalls == 0)
    }

    @Test("a second initialize is -32600 and the session stays up")
    func secondInitialize() async throws {
        let harness = Harness()
        try await harness.initialize()
        harness.request(1, "initialize", "{}")
        let response = try await harness.collector.response(.int(1))
        #expect(code(response) == -32600)
        #expect(response["error"]?["message"]?.stringValue?.contains("already") == true)
        harness.request(2, Echo.method, #"{"text":"still here"}"#)
        #expect(try await harness.collector.response(.int(2))["result"]?["text"] == .string("still here"))
    }

    @Test("an unsupported protocolVersion is -32602 with data.supported; a later initialize works")
    func unsupportedProtocolVersion() async throws {
        let harness = Harness()
        harness.request(1, "initialize", #"{"protocolVersion":99}"#)
        let response = try await harness.collector.response(.int(1))
        #expect(code(response) == -32602)
        #expect(response["error"]?["data"]?["supported"] == .array([.int(1)]))
        #expect(response["error"]?["data"]?["requested"] == .int(99))
        // Still uninitialized.
        harness.request(2, Echo.method, #"{"text":"x"}"#)
        #expect(code(try await harness.collector.response(.int(2))) == -32002)
        try await harness.initialize(id: 3)
    }

    @Test("initialize with a non-object params or wrong field types is -32602")
    func initializeBadParams() async throws {
        let harness = Harness()
        harness.request(1, "initialize", #"{"protocolVersion":"one"}"#)
        #expect(code(try await harness.collector.response(.int(1))) == -32602)
        harness.request(2, "initialize", #"[1]"#)
        #expect(code(try await harness.collector.response(.int(2))) == -32602)
        try await harness.initialize(id: 3)
    }

    @Test("a plain LSP client's initialize (rootUri, no protocolVersion) is accepted")
    func lspClientInitialize() async throws {
        let harness = Harness()
        harness.request(1, "initialize", #"{"processId":null,"rootUri":null,"capabilities":{},"clientInfo":{"name":"lsp_bench"},"trace":"off"}"#)
        let response = try await harness.collector.response(.int(1))
        #expect(response["result"]?["protocolVersion"] == .int(1))
        #expect(response["result"]?["capabilities"]?["framing"] == .string("ndjson"))
    }

    @Test("shutdown answers null, then every request is -32600")
    func shutdownThenRequests() async throws {
        let harness = Harness()
        try await harness.initialize()
        harness.request(1, "shutdown")
        let response = try await harness.collector.response(.int(1))
        #expect(response["result"] == .null)
        #expect(response["error"] == nil)
        #expect(harness.delegate.shutdownCount.load(ordering: .relaxed) >= 1)
        for (id, method) in [(2, Echo.method), (3, "shutdown"), (4, "initialize"), (5, "no/such")] {
            harness.request(id, method, #"{"text":"x"}"#)
            #expect(code(try await harness.collector.response(.int(id))) == -32600, "\(method)")
        }
        #expect(harness.collector.exitCalls == 0)
    }

    struct ExitCase: Sendable, CustomTestStringConvertible {
        let initialize: Bool
        let shutdown: Bool
        let ending: String  // "exit" or "eof"
        let code: Int32
        var testDescription: String { "initialize=\(initialize) shutdown=\(shutdown) \(ending) → \(code)" }
    }

    @Test("exit code: 0 after shutdown, else 1", arguments: [
        ExitCase(initialize: true, shutdown: true, ending: "exit", code: 0),
        ExitCase(initialize: true, shutdown: false, ending: "exit", code: 1),
        ExitCase(initialize: false, shutdown: false, ending: "exit", code: 1),
        ExitCase(initialize: true, shutdown: true, ending: "eof", code: 0),
        ExitCase(initialize: true, shutdown: false, ending: "eof", code: 1),
        ExitCase(initialize: false, shutdown: false, ending: "eof", code: 1),
    ])
    func exitCode(_ testCase: ExitCase) async throws {
        let harness = Harness()
        if testCase.initialize { try await harness.initialize() }
        if testCase.shutdown {
            harness.request(1, "shutdown")
            _ = try await harness.collector.response(.int(1))
        }
        if testCase.ending == "exit" {
            harness.notify("exit")
        } else {
            harness.connection.endOfInput()
        }
        #expect(try await harness.collector.exitCode() == testCase.code)
        // A second ending does not call onExit again.
        harness.connection.endOfInput()
        harness.notify("exit")
        #expect(harness.collector.exitCalls == 1)
        #expect(harness.delegate.shutdownCount.load(ordering: .relaxed) >= 1)
    }

    @Test("exit waits for a response that is already due")
    func exitFlushesPendingResponse() async throws {
        let harness = Harness()
        try await harness.initialize()
        harness.request(1, "shutdown")
        harness.notify("exit")  // right behind shutdown, before its response is written
        #expect(try await harness.collector.exitCode() == 0)
        #expect(harness.collector.messages.contains { $0["id"] == .int(1) && $0["result"] == .null })
    }
}

// MARK: - Dispatch

@Suite("Connection: dispatch")
struct ConnectionDispatchTests {
    @Test("typed handlers: result, -32602 for bad params, -32601 for unknown methods, application errors")
    func typedHandlers() async throws {
        let harness = Harness()
        try await harness.initialize()
        harness.request(1, Echo.method, #"{"text":"héllo"}"#)
        harness.request(2, Echo.method, #"{"text":3}"#)
        harness.request(3, Echo.method, "{}")
        harness.request(4, "no/such")
        harness.request(5, Mutate.method, #"{"count":1,"fail":true}"#)
        harness.send(#"{"jsonrpc":"2.0","id":"s/1","method":"test/echo","params":{"text":"string id"}}"#)
        let collector = harness.collector
        #expect(try await collector.response(.int(1))["result"]?["text"] == .string("héllo"))
        let wrongType = try await collector.response(.int(2))
        #expect(code(wrongType) == -32602)
        #expect(wrongType["error"]?["message"]?.stringValue == "Invalid params: 'text' must be a string")
        let missing = try await collector.response(.int(3))
        #expect(missing["error"]?["message"]?.stringValue == "Invalid params: missing required field 'text'")
        let unknown = try await collector.response(.int(4))
        #expect(code(unknown) == -32601)
        #expect(unknown["error"]?["message"]?.stringValue?.contains("no/such") == true)
        let conflict = try await collector.response(.int(5))
        #expect(code(conflict) == -33002)
        #expect(conflict["error"]?["data"]?["kind"] == .string("conflict"))
        #expect(try await collector.response(.string("s/1"))["result"]?["text"] == .string("string id"))
    }

    @Test("a method name written with escapes is the method it spells: dispatched, refused or quoted alike")
    func escapedMethodNames() async throws {
        let harness = Harness()
        harness.send(#"{"jsonrpc":"2.0","id":1,"method":"\u0069nitialize","params":{"protocolVersion":1}}"#)
        let collector = harness.collector
        #expect(try await collector.response(.int(1))["result"]?["protocolVersion"] == .int(1))
        harness.send(#"{"jsonrpc":"2.0","id":2,"method":"test\/echo","params":{"text":"escaped"}}"#)
        harness.send(#"{"jsonrpc":"2.0","id":3,"method":"initi\u0061lize","params":{}}"#)
        harness.send(#"{"jsonrpc":"2.0","id":4,"method":"no\nsuch\"","params":{}}"#)
        harness.send(#"{"jsonrpc":"2.0","id":5,"method":"né/such🚀"}"#)
        #expect(try await collector.response(.int(2))["result"]?["text"] == .string("escaped"))
        #expect(try await collector.response(.int(3))["error"]?["message"]?.stringValue == "Invalid request: 'initialize' was already received; send it once per connection")
        #expect(try await collector.response(.int(4))["error"]?["message"]?.stringValue == "Method not found: 'no\nsuch\"'")
        #expect(try await collector.response(.int(5))["error"]?["message"]?.stringValue == "Method not found: 'né/such🚀'")
    }

    @Test("$/cancelRequest of an in-flight request answers -32800 promptly")
    func cancelInFlight() async throws {
        let harness = Harness()
        try await harness.initialize()
        harness.request(1, Slow.method, #"{"seconds":120}"#)
        harness.send(#"{"jsonrpc":"2.0","id":"two","method":"test/slow","params":{"seconds":120}}"#)
        harness.notify("$/cancelRequest", #"{"id":1}"#)
        harness.notify("$/cancelRequest", #"{"id":"two"}"#)
        // 30 s tells "answered at the cancel" from "answered when the 120 s request ends"; a loaded machine's
        // test runner has stalled for 10 s and more.
        let first = try await harness.collector.response(.int(1), timeout: .seconds(30))
        #expect(code(first) == -32800)
        #expect(first["result"] == nil)
        #expect(code(try await harness.collector.response(.string("two"), timeout: .seconds(30))) == -32800)
    }

    @Test("$/cancelRequest reaches a request inside a batch: the batch's answer carries its -32800 beside the others' results")
    func cancelInsideBatch() async throws {
        let harness = Harness()
        try await harness.initialize()
        // As in cancelInFlight, the wait (30 s) tells "answered at the cancel" from "when the 120 s request ends".
        let answers = try await harness.batch("""
        [{"jsonrpc":"2.0","id":1,"method":"test/slow","params":{"seconds":120}},
         {"jsonrpc":"2.0","id":2,"method":"test/echo","params":{"text":"b"}}]
        """) { harness.notify("$/cancelRequest", #"{"id":1}"#) }
        #expect(answers.map { $0["id"] } == [.int(1), .int(2)])
        #expect(code(answers[0]) == -32800)
        #expect(answers[1]["result"]?["text"] == .string("b"))
    }

    @Test("the reader waits while maxPendingAnswers answers are pending and reads on when one is done (a request flood has bounded memory)")
    func pendingAnswersHoldTheReader() async throws {
        let harness = Harness()
        try await harness.initialize()
        let limit = Connection.maxPendingAnswers
        for id in 1...limit { harness.request(id, Slow.method, #"{"seconds":120}"#) }
        let connection = harness.connection
        let returned = DispatchSemaphore(value: 0)
        Thread { connection.waitForRoom(); returned.signal() }.start()
        // A bounded wait: a reader that was not held back would return within it. Both waits on a thread of
        // their own (`onOwnThread`): a semaphore wait on the cooperative pool would hold one of its two threads.
        let heldBack = try await onOwnThread { returned.wait(timeout: .now() + 0.2) == .timedOut }
        #expect(heldBack, "the reader is held while \(limit) answers are pending")
        harness.notify("$/cancelRequest", #"{"id":1}"#)
        // 30 s, as in `cancelInFlight`: it still tells "answered at the cancel" from "after the 120 s request",
        // and a full uncapped `swift test` has stalled this task's hop for more than 5 s.
        #expect(code(try await harness.collector.response(.int(1), timeout: .seconds(30))) == -32800)
        let wentOn = try await onOwnThread { returned.wait(timeout: .now() + 30) == .success }
        #expect(wentOn, "one answer written: the reader goes on")
        for id in 2...limit { harness.notify("$/cancelRequest", #"{"id":\#(id)}"#) }
        try await harness.collector.wait("every answer") { $0.count >= limit + 1 }
        connection.waitForRoom()  // returns at once
    }

    @Test("reading a descriptor (stdin, an engine client's socket), the reader stops while maxPendingAnswers answers are pending")
    func descriptorReaderHeldByPendingAnswers() async throws {
        // The engine's client loop once left this out: a client flooding requests grew the engine's memory without bound.
        let limit = Connection.maxPendingAnswers
        try await expectReaderHeld(by: (1...limit).map { #"{"jsonrpc":"2.0","id":\#($0),"method":"test/held"}"# },
                                   what: "\(limit) pending requests")
    }

    @Test("reading a descriptor, the reader stops while maxPendingRequestBytes of requests are being worked on (pipelined large requests have bounded memory)")
    func descriptorReaderHeldByPendingBytes() async throws {
        // Before, only the count bounded them: 512 pipelined requests of 100 KiB-1 MiB held the engine 100 MB and more.
        // Three held requests, each a third of the bound and a little more: two fit, the third goes past it.
        let padding = String(repeating: "p", count: Connection.maxPendingRequestBytes / 3 + 1)
        try await expectReaderHeld(by: (1...3).map { #"{"jsonrpc":"2.0","id":\#($0),"method":"test/held","params":{"pad":"\#(padding)"}}"# },
                                   what: "\(Connection.maxPendingRequestBytes) bytes of pending requests")
    }

    /// Writes `initialize` and the `held` requests (each `test/held`, numbered from 1) to a reader on a pipe,
    /// as an engine client's is fed; once they are all being handled, one more request must not be read
    /// (`what` says what holds it back) until they are let go, and is then answered.
    private func expectReaderHeld(by held: [String], what: String) async throws {
        let harness = Harness()
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer { close(ends[1]) }
        let connection = harness.connection
        let readEnd = ends[0]
        Thread { connection.readUntilEnd(fd: readEnd, parser: MessageParser(framing: .ndjson)) }.start()
        func write(_ lines: [String]) { writeAll(ends[1], lines.joined(separator: "\n") + "\n") }
        write([#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":1}}"#] + held)
        _ = try await harness.collector.response(.int(0))
        let delegate = harness.delegate
        defer { delegate.gate.open() }  // whatever happens, no handler is left waiting
        try await harness.collector.wait("\(held.count) held requests being handled") { _ in
            delegate.heldStarted.load(ordering: .sequentiallyConsistent) == held.count
        }
        write([#"{"jsonrpc":"2.0","id":"after","method":"test/echo","params":{"text":"read"}}"#])
        // A bounded wait: a reader that was not held back would answer this within it.
        await #expect(throws: TimedOut.self, "the request after \(what) is not read yet") {
            try await harness.collector.response(.string("after"), timeout: .milliseconds(300))
        }
        delegate.gate.open()
        #expect(try await harness.collector.response(.string("after"))["result"]?["text"] == .string("read"))
        try await harness.collector.wait("every answer") { $0.count == held.count + 2 }
    }

    @Test("cancelling an unknown or finished request does nothing; the id can be reused")
    func cancelFinished() async throws {
        let harness = Harness()
        try await harness.initialize()
        harness.request(1, Echo.method, #"{"text":"a"}"#)
        _ = try await harness.collector.response(.int(1))
        harness.notify("$/cancelRequest", #"{"id":1}"#)
        harness.notify("$/cancelRequest", #"{"id":12345}"#)
        harness.notify("$/cancelRequest", #"{"nope":true}"#)
        harness.request(1, Echo.method, #"{"text":"again"}"#)
        let messages = try await harness.collector.wait("second answer to id 1") { $0.filter { $0["id"] == .int(1) }.count == 2 }
        let answers = messages.filter { $0["id"] == .int(1) }
        #expect(answers.last?["result"]?["text"] == .string("again"))
    }

    @Test("a slow request does not block a fast one")
    func slowDoesNotBlockFast() async throws {
        let harness = Harness()
        try await harness.initialize()
        harness.request(1, Slow.method, #"{"seconds":120}"#)
        harness.request(2, Echo.method, #"{"text":"fast"}"#)
        #expect(try await harness.collector.response(.int(2))["result"]?["text"] == .string("fast"))
        #expect(!harness.collector.messages.contains { $0["id"] == .int(1) })
        harness.notify("$/cancelRequest", #"{"id":1}"#)
        #expect(code(try await harness.collector.response(.int(1), timeout: .seconds(30))) == -32800)
    }

    @Test("the response of a run-changing request is written before the notifications it caused",
          arguments: [false, true])
    func responseBeforeEvents(failing: Bool) async throws {
        let harness = Harness()
        try await harness.initialize()
        let before = harness.collector.messages.count
        harness.request(1, Mutate.method, #"{"count":5,"fail":\#(failing)}"#)
        let messages = try await harness.collector.wait("response and 5 events") {
            $0.count >= before + 6
        }
        let tail = Array(messages[before...])
        #expect(tail.first?["id"] == .int(1), "\(tail)")
        #expect((failing ? code(tail.first) != nil : tail.first?["result"] != nil))
        #expect(tail.dropFirst().map { $0["params"]?["seq"] } == (1...5).map { .int($0) })
        #expect(tail.dropFirst().allSatisfy { $0["method"] == .string("run/event") && $0["id"] == nil })
    }
}

// MARK: - Batches and framing

@Suite("Connection: batches and transport errors")
struct ConnectionBatchTests {
    @Test("a batch is answered with one array, without entries for notifications")
    func batch() async throws {
        let harness = Harness()
        try await harness.initialize()
        let answers = try await harness.batch("""
        [{"jsonrpc":"2.0","id":1,"method":"test/echo","params":{"text":"a"}},
         {"jsonrpc":"2.0","method":"some/notification"},
         {"jsonrpc":"2.0","id":2,"method":"no/such"},
         7,
         {"jsonrpc":"2.0","id":3,"method":"test/echo","params":{"text":5}},
         {"jsonrpc":"2.0","id":4,"result":null}]
        """)
        #expect(answers.count == 4)
        #expect(answers.map { $0["id"] } == [.int(1), .int(2), .null, .int(3)])
        #expect(answers[0]["result"]?["text"] == .string("a"))
        #expect(answers.dropFirst().map(code) == [-32601, -32600, -32602])
    }

    @Test("a batch of only notifications (or responses) writes nothing")
    func notificationBatch() async throws {
        let harness = Harness()
        try await harness.initialize()
        let before = harness.collector.messages.count
        harness.send(#"[{"jsonrpc":"2.0","method":"a"},{"jsonrpc":"2.0","method":"initialized"},{"jsonrpc":"2.0","id":9,"result":1}]"#)
        try await harness.sync()
        #expect(harness.collector.messages.count == before + 1)
    }

    @Test("an empty batch is one -32600 with id null")
    func emptyBatch() async throws {
        let harness = Harness()
        harness.send("[]")
        let messages = try await harness.collector.wait("an answer") { !$0.isEmpty }
        #expect(messages.first?["id"] == .null)
        #expect(code(messages.first) == -32600)
    }

    @Test("initialize inside a batch initializes the rest of the batch")
    func initializeInBatch() async throws {
        let harness = Harness()
        harness.send(#"[{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}},{"jsonrpc":"2.0","id":2,"method":"test/echo","params":{"text":"b"}}]"#)
        let messages = try await harness.collector.wait("batch answer") { !$0.isEmpty }
        guard case .array(let answers)? = messages.first else {
            Issue.record("not an array: \(messages)")
            return
        }
        #expect(answers.map { $0["id"] } == [.int(1), .int(2)])
        #expect(answers[1]["result"]?["text"] == .string("b"))
    }

    @Test("parse errors, oversized messages and bad headers are answered with id null and the connection goes on")
    func transportErrors() async throws {
        let harness = Harness()
        harness.send("{nope")
        harness.connection.receive(.tooLarge(size: 99_999), framing: .ndjson)
        harness.connection.receive(.badHeader("missing Content-Length header"), framing: .ndjson)
        let messages = try await harness.collector.wait("three errors") { $0.count == 3 }
        #expect(messages.map(code) == [-32700, -32600, -32700])
        #expect(messages.allSatisfy { $0["id"] == .null })
        #expect(messages[1]["error"]?["message"]?.stringValue?.contains("--max-message-bytes") == true)
        try await harness.initialize()
    }

    @Test("answers are framed in the connection's framing", arguments: Framing.allCases)
    func framedAnswers(framing: Framing) async throws {
        let harness = Harness(framing: framing)
        try await harness.initialize()
        harness.request(1, Echo.method, #"{"text":"x"}"#)
        #expect(try await harness.collector.response(.int(1))["result"]?["text"] == .string("x"))
        #expect(!harness.collector.messages.contains { $0.stringValue?.hasPrefix("UNPARSEABLE") == true })
    }
}
