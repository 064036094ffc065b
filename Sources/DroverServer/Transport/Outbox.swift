import DroverProtocol
import Foundation

/// The protocol channel's way out: callers queue framed messages, one writer thread writes them
/// (or the stdin reader, for what is ready when it has handled a read: `handleInput(_:)`).
///
/// Nothing that queues output ever waits for the client: engine listeners and handlers only
/// encode and append (as rust-analyzer's lsp-server and sourcekit-lsp do). The queue keeps the
/// protocol's ordering rules (see `OutputQueue`): while a run-changing request is handled
/// (`hold()`), notifications wait until its response is queued (`release()`), so a client always
/// sees a method's response before the `run/event`s it caused; answers to one read of pipelined
/// requests leave in one write (`cork()`/`uncork()`).
///
/// A client that reads slower than the server talks is shed, never waited for (`OutboxLimits`):
/// `run/log` lines first, then `run/event`s, each gap announced once the client has caught up; the
/// stdin reader waits (`waitForRoom()`) instead of queueing answers without bound.
public final class Outbox: Sendable {
    /// What one write may carry at most when several messages are ready (a single larger message still goes whole).
    static let maxWriteBytes = 1 << 20

    private let shared: OutboxState

    /// The writer thread starts when output is first queued by anyone but the stdin reader (which
    /// writes what is ready after each read itself); it ends when the outbox goes away or the client has gone.
    /// - Parameter write: writes all of the bytes to the channel, returning false if the peer has gone;
    ///   called on the writer thread only, in order, and may block.
    public init(framing: Framing, limits: OutboxLimits = OutboxLimits(),
                write: @escaping @Sendable ([UInt8]) -> Bool) {
        shared = OutboxState(queue: OutputQueue(framing: framing, limits: limits), write: write)
    }

    deinit {
        shared.stopWriter()
    }

    /// Switches framing (once the parser has detected the client's).
    public func setFraming(_ framing: Framing) {
        shared.update { $0.queue.framing = framing }
    }

    /// Calls `handler` once, on the writer thread, if the client closes its end of the channel.
    public func onPeerGone(_ handler: @escaping @Sendable () -> Void) {
        shared.onPeerGone(handler)
    }

    /// Queues a success response.
    public func respond<R: Encodable>(id: RequestID, result: R) {
        writeBody(Self.response(id: id, resultJSON: encode(result)))
    }

    /// Queues an error response (`id` nil is written as `null`).
    public func respond(id: RequestID?, error: ResponseError) {
        writeBody(Self.response(id: id, error: error))
    }

    /// Queues a pre-built response body (used for batches).
    public func writeBody(_ body: [UInt8]) {
        shared.update { $0.queue.admit(body, as: .answer) }
    }

    /// Queues a notification that is never shed, now or after the current holders release.
    public func notify<P: Encodable>(method: String, params: P) {
        let body = Self.notificationBody(method: method, params: params)
        shared.update { $0.queue.admit(body, as: .notification) }
    }

    /// Queues a `run/event`; if the client is far behind it is dropped and, once the client catches
    /// up, `run/eventsDropped` tells it to read the run's events from there with `run/events`.
    public func notifyEvent(_ event: Event) {
        let body = Self.notificationBody(method: RunEventNotification.method, params: event)
        shared.update { $0.queue.admit(body, as: .event(runId: event.runId, seq: event.seq)) }
    }

    /// Queues a `run/log` line; if the client is behind it is dropped (it stays in the log file) and
    /// counted in a later `run/logsDropped`, which also says from which offset to read them back.
    public func notifyLog(_ log: RunLogNotification) {
        let key = OutputQueue.LogKey(runId: log.runId, stepId: log.stepId, attempt: log.attempt)
        // Decided before encoding too, so a flood costs little while the client is behind.
        if shared.update({ $0.queue.sheds(log: key, offset: log.offset, size: 0) }) { return }
        let body = Self.notificationBody(method: RunLogNotification.method, params: log)
        shared.update { $0.queue.admit(body, as: .log(key, offset: log.offset)) }
    }

    /// Collects output until the matching `uncork()`, so answers to one read of pipelined
    /// requests leave in one write instead of one system call each.
    public func cork() {
        shared.update { $0.queue.cork() }
    }

    /// Ends a `cork()`; the last one queues what was collected.
    public func uncork() {
        shared.update { $0.queue.uncork() }
    }

    /// Delays notifications until the matching `release()`.
    public func hold() {
        shared.update { $0.queue.hold() }
    }

    /// Ends a hold; the last one queues the delayed notifications.
    public func release() {
        shared.update { $0.queue.release() }
    }

    /// Runs `handle` (the stdin reader's handling of one read of input) corked, so its answers leave in
    /// one write, then writes what is ready on the calling thread if the writer thread is not writing,
    /// so answers leave without a hand-off between threads. The write blocks while the client does not
    /// read: call it only from a thread that may wait for the client (the stdin reader, which then reads
    /// no more requests), never from the engine. Returns false when the client is far behind reading:
    /// then call `waitForRoom()` before reading on.
    @discardableResult
    public func handleInput(_ handle: () -> Void) -> Bool {
        shared.handleInput(handle)
    }

    /// Blocks the calling thread (the stdin reader) while the client is far behind reading, so a
    /// client that writes requests and never reads the answers cannot grow the queue without bound.
    public func waitForRoom() {
        shared.waitForRoom()
    }

    /// Accepts no more output and waits until what is queued is written, or `timeout` passes
    /// (a client that stopped reading must not keep the server from exiting).
    public func finish(timeout: Duration) async {
        await shared.finish(timeout: timeout)
    }

    // MARK: Encoding

    func encode<T: Encodable>(_ value: T) -> [UInt8] {
        Self.encode(value)
    }

    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        do {
            // The same bytes as JSONCoding.makeEncoder(), without JSONEncoder's cold start and casts.
            return try JSONValueEncoder.encodeBytes(value)
        } catch {
            return Array(#"null"#.utf8)
        }
    }

    /// `{"jsonrpc":"2.0","method":…,"params":…}`.
    static func notificationBody<P: Encodable>(method: String, params: P) -> [UInt8] {
        var body = Array(#"{"jsonrpc":"2.0","method":""#.utf8)
        body += Array(method.utf8)
        body += Array(#"","params":"#.utf8)
        body += encode(params)
        body.append(UInt8(ascii: "}"))
        return body
    }

    /// `{"jsonrpc":"2.0","id":…,"result":…}` assembled from pre-encoded parts.
    static func response(id: RequestID?, resultJSON: [UInt8]) -> [UInt8] {
        var bytes = envelope(id: id, room: 12 + resultJSON.count)
        JSONWriter.appendLiteral(#","result":"#, to: &bytes)
        bytes.append(contentsOf: resultJSON)
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// `{"jsonrpc":"2.0","id":…,"error":…}`, written without `JSONEncoder` (errors are a hot path).
    static func response(id: RequestID?, error: ResponseError) -> [UInt8] {
        var bytes = envelope(id: id, room: 48 + error.message.utf8.count)
        JSONWriter.appendLiteral(#","error":"#, to: &bytes)
        error.appendJSON(to: &bytes)
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// The -32601 answer for `method`: the bytes `response(id:error: .methodNotFound(method))` writes,
    /// without making the message's String (an unknown method is a hot path: clients probe, benchmarks
    /// measure it). A name long enough to be cut (`Excerpt`) goes that way.
    static func methodNotFound(id: RequestID, method: String) -> [UInt8] {
        guard method.utf8.count <= Excerpt.maxCharacters else { return response(id: id, error: .methodNotFound(method)) }
        var bytes = envelope(id: id, room: 64 + method.utf8.count)
        JSONWriter.appendLiteral(#","error":{"code":-32601,"message":"Method not found: '"#, to: &bytes)
        JSONWriter.appendEscaped(method, to: &bytes)
        JSONWriter.appendLiteral(#"'"}}"#, to: &bytes)
        return bytes
    }

    /// `{"jsonrpc":"2.0","id":…` in an array with room for `room` bytes more: one allocation per answer.
    private static func envelope(id: RequestID?, room: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(48 + room)
        JSONWriter.appendLiteral(#"{"jsonrpc":"2.0","id":"#, to: &bytes)
        switch id {
        case nil: JSONWriter.appendLiteral("null", to: &bytes)
        case .int(let value): JSONWriter.appendInteger(value, to: &bytes)
        case .string(let value): JSONWriter.appendString(value, to: &bytes)
        }
        return bytes
    }
}
