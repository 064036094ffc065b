import DroverProtocol
import DroverSupport
import Foundation
import Synchronization

/// One JSON-RPC connection: applies the lifecycle rules, dispatches requests concurrently,
/// answers batches and cancellations. Feed it framed input with `receive(_:)`.
public final class Connection: Sendable {
    /// Where the connection is in LSP's lifecycle.
    private enum Phase {
        case uninitialized
        case running(ready: SessionStart)
        case shuttingDown(ready: SessionStart)
    }

    /// The delegate's `start()` after `initialize`, as a task begun once the answer has been written (by
    /// `startSessionIfAnswered()`), or as soon as anything waits for it: begun before, its task woke a pool
    /// thread that in a VM took the reader's CPU for tens of µs before the answer left.
    private final class SessionStart: Sendable {
        private let begun = Mutex<Task<Void, Never>?>(nil)
        private let start: @Sendable () async -> Void

        init(_ start: @escaping @Sendable () async -> Void) {
            self.start = start
        }

        /// The task, begun now if it was not yet. Not inlined: where a task is made, the optimizer makes its
        /// metadata (`TaskPriority?`, from its mangled name) at the top of the function, called or not —
        /// `drover serve`'s `run` paid for it at every start.
        var task: Task<Void, Never> {
            @inline(never) get {
                begun.withLock { begun in
                    if let task = begun { return task }
                    let task = Task(operation: start)
                    begun = task
                    return task
                }
            }
        }
    }

    private struct State {
        var phase: Phase = .uninitialized
        /// Requests being handled, by id: how to cancel each one's task.
        var inFlight: [RequestID: @Sendable () -> Void] = [:]
        var cancelled: Set<RequestID> = []
        var exitRequested = false
        /// Tasks that will write a response; `exit` lets them finish first.
        var writers: [Int: Task<Void, Never>] = [:]
        var nextWriter = 0
        /// The reader blocked in `waitForRoom`, woken when `writers` drops below the limit.
        var roomWaiter: DispatchSemaphore?
    }

    /// How many answers may be pending before the reader stops reading: a client that writes
    /// requests faster than they are handled is held back here instead of queueing tasks (and the
    /// requests they hold) without bound.
    public static let maxPendingAnswers = 512

    /// How many bytes of requests may be worked on at once before the reader stops reading (one larger
    /// request still goes through alone): each holds its message and what is parsed from it — a 100 KiB
    /// request about twice that, a 1 MiB one three times — so 512 pipelined large requests once took the
    /// engine 100 MB and more above its floor (2,000 pipelined 100 KiB requests: +104 MB), all freed again.
    public static let maxPendingRequestBytes = 4 << 20

    /// A response that is ready now, or will be once its task finishes.
    private enum Reply {
        case none
        case now([UInt8], holdsEvents: Bool = false)
        case later(Task<[UInt8], Never>, holdsEvents: Bool)
        /// A request for a handler: the answer `work` makes, in a task that is registered as in flight.
        case handler(HandlerWork, holdsEvents: Bool)
    }

    /// What a request's task runs: its handler, to the answer's bytes.
    private struct HandlerWork: Sendable {
        let id: RequestID
        let run: @Sendable () async -> [UInt8]
    }

    public let outbox: Outbox
    private let delegate: any ConnectionDelegate
    private let decoder = MessageDecoder()
    private let state = Mutex(State())
    /// `state.writers.count`, readable without the lock: `waitForRoom()` runs after every read.
    private let pendingWriters = Atomic<Int>(0)
    /// The bytes of the requests those writers answer; changed under the lock, with `state.writers`.
    private let pendingBytes = Atomic<Int>(0)
    /// Whether `initialize` was answered in the read being handled and its `SessionStart` is still to begin:
    /// one load per read tells the reader there is nothing to do.
    private let sessionStartPending = Atomic<Bool>(false)
    private let onExit: @Sendable (Int32) -> Void
    private let log: Logger

    /// - Parameters:
    ///   - onExit: called once with the exit code after `exit` or end of input, when work has stopped.
    public init(outbox: Outbox, delegate: any ConnectionDelegate, log: Logger,
                onExit: @escaping @Sendable (Int32) -> Void) {
        self.outbox = outbox
        self.delegate = delegate
        self.log = log
        self.onExit = onExit
        outbox.onPeerGone { [weak self] in
            self?.stop(reason: "the client closed its end of the channel")
        }
    }

    /// Handles the inputs of one read, in arrival order; answers ready at once leave in one write.
    public func receive(_ inputs: [FramedInput], framing: Framing) {
        outbox.cork()
        for input in inputs { receive(input, framing: framing) }
        outbox.uncork()
        startSessionIfAnswered()
    }

    /// Begins the session's `start()` if `initialize` was answered in the read just handled: call after its
    /// answers were written (uncorked).
    func startSessionIfAnswered() {
        guard sessionStartPending.load(ordering: .relaxed) else { return }
        sessionStartPending.store(false, ordering: .relaxed)
        if case .running(let ready) = state.withLock({ $0.phase }) { _ = ready.task }
    }

    /// Handles one unit of framed input, in arrival order (call from a single reader).
    public func receive(_ input: FramedInput, framing: Framing) {
        switch input {
        case .tooLarge(let size):
            outbox.respond(id: nil, error: .invalidRequest(
                "message of \(size) bytes exceeds the limit; start the server with a larger --max-message-bytes"))
        case .badHeader(let reason):
            outbox.respond(id: nil, error: .parseError("bad header: \(reason)"))
        case .message(let bytes):
            // Counted once handled, before the answer leaves: what a large message made is freed by then,
            // and a client that has the answer knows the memory is back (`LargeMessageRelease`).
            let size = bytes.count
            switch decoder.decode(bytes) {
            case .single(let entry):
                switch reply(to: entry, framing: framing) {
                case .none:
                    LargeMessageRelease.handled(size: size)
                case .now(let body, let holds):
                    LargeMessageRelease.handled(size: size)
                    outbox.writeBody(body)
                    if holds { outbox.release() }
                case .later(let task, let holds):
                    track(size: size) {
                        let body = await task.value
                        LargeMessageRelease.handled(size: size)
                        self.outbox.writeBody(body)
                        if holds { self.outbox.release() }
                    }
                case .handler(let work, let holds):
                    // One task both handles the request and writes its answer (not one awaiting the other).
                    track(size: size, inFlight: work.id) {
                        let body = await work.run()
                        LargeMessageRelease.handled(size: size)
                        self.outbox.writeBody(body)
                        if holds { self.outbox.release() }
                    }
                }
            case .batch(let entries):
                answerBatch(entries, framing: framing, size: size)
            }
        }
    }

    /// Blocks the calling (reader) thread while `maxPendingAnswers` answers, or `maxPendingRequestBytes`
    /// of requests, are still being worked on; returns at once otherwise, or once the connection is stopping.
    public func waitForRoom() {
        // Only the reader adds writers, so figures below the limits cannot be stale on the high side.
        guard !hasRoom(writers: pendingWriters.load(ordering: .acquiring), bytes: pendingBytes.load(ordering: .acquiring)) else { return }
        let waiter: DispatchSemaphore? = state.withLock { state in
            guard !hasRoom(writers: state.writers.count, bytes: pendingBytes.load(ordering: .relaxed)), !state.exitRequested else { return nil }
            let waiter = DispatchSemaphore(value: 0)
            state.roomWaiter = waiter
            return waiter
        }
        waiter?.wait()
    }

    private func hasRoom(writers: Int, bytes: Int) -> Bool {
        writers < Self.maxPendingAnswers && bytes <= Self.maxPendingRequestBytes
    }

    /// Ends the connection as `exit` would (stdin closed).
    public func endOfInput() {
        stop(reason: "end of input")
    }

    /// Ends the connection as `exit` would, because the process got `signal` (SIGTERM, SIGHUP):
    /// agents are interrupted and recorded so, rather than left running behind a dead server.
    public func stop(signal: Int32) {
        stop(reason: "signal \(signal)")
    }

    /// Stops as `exit` does: exit code 0 if `shutdown` came first, else 1.
    private func stop(reason: String) {
        requestExit(code: shutdownWasRequested ? 0 : 1, reason: reason)
    }

    private var shutdownWasRequested: Bool {
        state.withLock { if case .shuttingDown = $0.phase { return true } else { return false } }
    }

    private func answerBatch(_ entries: [IncomingEntry], framing: Framing, size: Int) {
        // Each request of the batch is handled in a task of its own, started now.
        let replies = entries.map { entry -> BatchReply in
            switch reply(to: entry, framing: framing) {
            case .none: return .none
            case .now(let body, let holds): return .now(body, holdsEvents: holds)
            case .later(let task, let holds): return .later(task, holdsEvents: holds)
            case .handler(let work, let holds): return .later(start(work), holdsEvents: holds)
            }
        }
        track(size: size) {
            var bodies: [[UInt8]] = []
            var holds = 0
            for reply in replies {
                switch reply {
                case .none: continue
                case .now(let body, let holdsEvents):
                    bodies.append(body)
                    if holdsEvents { holds += 1 }
                case .later(let task, let holdsEvents):
                    bodies.append(await task.value)
                    if holdsEvents { holds += 1 }
                }
            }
            LargeMessageRelease.handled(size: size)
            if !bodies.isEmpty {
                var batch: [UInt8] = [UInt8(ascii: "[")]
                for (index, body) in bodies.enumerated() {
                    if index > 0 { batch.append(UInt8(ascii: ",")) }
                    batch += body
                }
                batch.append(UInt8(ascii: "]"))
                self.outbox.writeBody(batch)
            }
            for _ in 0..<holds { self.outbox.release() }
        }
    }

    /// A batch's reply to one of its entries: a request's handler already started.
    private enum BatchReply {
        case none
        case now([UInt8], holdsEvents: Bool)
        case later(Task<[UInt8], Never>, holdsEvents: Bool)
    }

    /// Starts `work` in a task registered as in flight (for a batch, whose task awaits it).
    private func start(_ work: HandlerWork) -> Task<[UInt8], Never> {
        // Registered under the lock that the task's completion takes, so a fast handler cannot finish
        // before it is registered (which would leave a stale entry that a later cancel would hit).
        state.withLock { state in
            let task = Task { await work.run() }
            state.inFlight[work.id] = { task.cancel() }
            return task
        }
    }

    /// Runs `write` in a task that `exit` waits for, so answers already due are not lost; the request it
    /// answers (`size` bytes) counts against `maxPendingRequestBytes` until then. With `inFlight`, the
    /// task is that request's handler too (`$/cancelRequest` cancels it), registered under the lock its
    /// completion takes, so a fast handler cannot finish before it is registered.
    private func track(size: Int, inFlight id: RequestID? = nil, _ write: @escaping @Sendable () async -> Void) {
        state.withLock { state in
            let key = state.nextWriter
            state.nextWriter += 1
            pendingWriters.add(1, ordering: .releasing)
            pendingBytes.add(size, ordering: .releasing)
            let task = Task {
                await write()
                let waiter = self.state.withLock { state -> DispatchSemaphore? in
                    state.writers.removeValue(forKey: key)
                    self.pendingWriters.subtract(1, ordering: .releasing)
                    let bytes = self.pendingBytes.subtract(size, ordering: .releasing).newValue
                    guard self.hasRoom(writers: state.writers.count, bytes: bytes) else { return nil }
                    defer { state.roomWaiter = nil }
                    return state.roomWaiter
                }
                waiter?.signal()
            }
            state.writers[key] = task
            if let id { state.inFlight[id] = { task.cancel() } }
        }
    }

    /// Waits for pending responses, but not for longer than `limit` (a stuck handler must not block exit).
    private func drainWriters(limit: Duration) async {
        let writers = state.withLock { Array($0.writers.values) }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for writer in writers { await writer.value }
            }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            group.cancelAll()
        }
    }

    private func reply(to entry: IncomingEntry, framing: Framing) -> Reply {
        switch entry {
        case .response:
            return .none
        case .invalid(let id, let error):
            return .now(Outbox.response(id: id, error: error))
        case .message(let message):
            guard let id = message.id else {
                handleNotification(message)
                return .none
            }
            return reply(toRequest: message, id: id, framing: framing)
        }
    }

    // MARK: Lifecycle rules

    private func handleNotification(_ message: IncomingMessage) {
        if message.hasMethod("exit") {
            stop(reason: "exit notification")
        } else if message.hasMethod("$/cancelRequest") {
            guard isInitialized, let params = try? decoder.params(CancelParams.self, from: message) else { return }
            cancel(params.id)
        }
        // `initialized` and unknown notifications need no action; before `initialize` all are dropped.
    }

    private var isInitialized: Bool {
        state.withLock { if case .uninitialized = $0.phase { return false } else { return true } }
    }

    private func reply(toRequest message: IncomingMessage, id: RequestID, framing: Framing) -> Reply {
        let phase = state.withLock { $0.phase }
        // The method compared as bytes: a request's method is made a String only for an error that quotes it.
        let method: LifecycleMethod = message.hasMethod("initialize") ? .initialize : message.hasMethod("shutdown") ? .shutdown : .other
        switch (method, phase) {
        case (.initialize, .uninitialized):
            return initialize(message, id: id, framing: framing)
        case (.initialize, _):
            return error(id, .invalidRequest("'initialize' was already received; send it once per connection"))
        case (_, .uninitialized):
            return error(id, ResponseError(
                code: .serverNotInitialized, message: "Server not initialized: send 'initialize' before '\(message.method)'"))
        case (_, .shuttingDown):
            return error(id, .invalidRequest("The server is shutting down: after 'shutdown' only the 'exit' notification is accepted"))
        case (.shutdown, .running(let ready)):
            state.withLock { $0.phase = .shuttingDown(ready: ready) }
            let started = ready.task
            return .later(Task {
                await started.value
                await self.delegate.shutdown()
                return Outbox.response(id: id, resultJSON: Array("null".utf8))
            }, holdsEvents: false)
        case (.other, .running(let ready)):
            return message.withMethodUTF8 { name in
                guard let handler = delegate.handler(named: name) else {
                    return .now(Outbox.methodNotFound(id: id, name: name))
                }
                return dispatch(message, id: id, handler: handler, after: ready.task)
            }
        }
    }

    /// The methods the lifecycle rules name.
    private enum LifecycleMethod {
        case initialize, shutdown, other
    }

    private func initialize(_ message: IncomingMessage, id: RequestID, framing: Framing) -> Reply {
        let result: InitializeResult
        do {
            // Read from the params' text when it has the usual shape; anything else, in full.
            let params = try InitializeWorkspace.request(message) ?? decoder.params(InitializeRequest.self, from: message)
            if let requested = params.protocolVersion, !ProtocolVersion.supported.contains(requested) {
                throw ResponseError.invalidParams(
                    "protocolVersion \(requested) is not supported; this server speaks \(ProtocolVersion.supported.map(String.init).joined(separator: ", "))",
                    data: .object(["supported": .array(ProtocolVersion.supported.map { .int($0) }), "requested": .int(requested)]))
            }
            result = try delegate.initialize(params, framing: framing, outbox: outbox)
        } catch let error as ResponseError {
            return self.error(id, error)
        } catch {
            return self.error(id, .internalError("\(error)"))
        }
        // The answer goes out now; requests wait for `start()`, and whatever it notifies is held
        // until the answer is written.
        outbox.hold()
        let ready = SessionStart { await self.delegate.start() }
        state.withLock { $0.phase = .running(ready: ready) }
        sessionStartPending.store(true, ordering: .relaxed)
        return .now(Outbox.response(id: id, resultJSON: Self.encoded(result)), holdsEvents: true)
    }

    /// The last `initialize` result and its JSON: an engine answers every client the same (its method
    /// lists are the same arrays, so the comparison is quick), and each attach waits on this answer.
    private static let lastInitializeResult = Mutex<(result: InitializeResult, json: [UInt8])?>(nil)

    private static func encoded(_ result: InitializeResult) -> [UInt8] {
        if let last = lastInitializeResult.withLock({ $0 }), last.result == result { return last.json }
        let json = Outbox.encode(result)
        lastInitializeResult.withLock { $0 = (result, json) }
        return json
    }

    private func dispatch(_ message: IncomingMessage, id: RequestID, handler: MethodHandler, after ready: Task<Void, Never>) -> Reply {
        if handler.changesRuns { outbox.hold() }
        let decoder = self.decoder
        // The task that runs this is the one registered in flight (`track`, `start`): cancelling a
        // task that merely awaited it would not reach the handler.
        return .handler(HandlerWork(id: id) {
            await ready.value
            let body: [UInt8]
            do {
                try Task.checkCancellation()
                body = Outbox.response(id: id, resultJSON: try await handler.handle(message, decoder))
            } catch let error as ResponseError {
                body = Outbox.response(id: id, error: error)
            } catch is CancellationError {
                body = Outbox.response(id: id, error: Self.cancelled(id))
            } catch {
                self.log.error("\(message.method) failed: \(error)")
                body = Outbox.response(id: id, error: ResponseError.internalError("\(error)"))
            }
            let wasCancelled = self.state.withLock { state in
                state.inFlight[id] = nil
                return state.cancelled.remove(id) != nil
            }
            return wasCancelled ? Outbox.response(id: id, error: Self.cancelled(id)) : body
        }, holdsEvents: handler.changesRuns)
    }

    private static func cancelled(_ id: RequestID) -> ResponseError {
        ResponseError(code: .requestCancelled, message: "Request \(id) was cancelled by the client")
    }

    private func cancel(_ id: RequestID) {
        state.withLock { state in
            guard let cancel = state.inFlight[id] else { return }
            state.cancelled.insert(id)
            cancel()
        }
    }

    private func error(_ id: RequestID, _ error: ResponseError) -> Reply {
        .now(Outbox.response(id: id, error: error))
    }

    private func requestExit(code: Int32, reason: String) {
        let (first, waiter) = state.withLock { state in
            defer {
                state.exitRequested = true
                state.roomWaiter = nil
            }
            return (!state.exitRequested, state.roomWaiter)
        }
        waiter?.signal()
        guard first else { return }
        log.info("stopping (\(reason)), exit code \(code)")
        // A session whose `start()` has not begun (an `exit` in the read that had `initialize`) starts
        // before it stops, as it always did: shutting down before starting could leave its listener behind.
        let started: Task<Void, Never>? = switch state.withLock({ $0.phase }) {
        case .running(let ready), .shuttingDown(let ready): ready.task
        case .uninitialized: nil
        }
        Task {
            await started?.value
            await self.drainWriters(limit: .seconds(5))
            await self.delegate.shutdown()
            await self.outbox.finish(timeout: .seconds(2))
            self.onExit(code)
        }
    }
}

/// Params of `$/cancelRequest`.
private struct CancelParams: Decodable {
    var id: RequestID
}
