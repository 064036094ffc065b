import DroverProtocol
import Foundation
import Synchronization

/// The single writer of the protocol channel: frames messages and keeps notifications behind held responses.
///
/// While any run-changing request is being handled (`hold()`), notifications queue up; they are
/// written once the last holder has written its response (`release()`), so a client always sees
/// a method's response before the `run/event`s it caused.
public final class Outbox: Sendable {
    private struct State {
        var framing: Framing
        var holds = 0
        var queued: [[UInt8]] = []
        var closed = false
        /// While positive, output collects in `corked` and goes out in one write at `uncork()`.
        var corks = 0
        var corked: [UInt8] = []

        /// Sends framed bytes now, or appends them to the corked buffer.
        mutating func emit(_ body: [UInt8], to sink: ([UInt8]) -> Void) {
            let framed = framing.frame(body)
            if corks > 0 {
                corked += framed
            } else {
                sink(framed)
            }
        }
    }

    private let state: Mutex<State>
    private let sink: @Sendable ([UInt8]) -> Void

    /// - Parameter sink: writes bytes to the channel; called under the outbox's lock, in order.
    public init(framing: Framing, sink: @escaping @Sendable ([UInt8]) -> Void) {
        self.state = Mutex(State(framing: framing))
        self.sink = sink
    }

    /// Switches framing (once the parser has detected the client's).
    public func setFraming(_ framing: Framing) {
        state.withLock { $0.framing = framing }
    }

    /// Writes a success response.
    public func respond<R: Encodable>(id: RequestID, result: R) {
        write(Self.response(id: id, resultJSON: encode(result)))
    }

    /// Writes an error response (`id` nil is written as `null`).
    public func respond(id: RequestID?, error: ResponseError) {
        write(Self.response(id: id, error: error))
    }

    /// Writes a pre-built response body (used for batches).
    public func writeBody(_ body: [UInt8]) {
        write(body)
    }

    /// Sends a notification now, or after the current holders release.
    public func notify<P: Encodable>(method: String, params: P) {
        var body = Array(#"{"jsonrpc":"2.0","method":""#.utf8)
        body += Array(method.utf8)
        body += Array(#"","params":"#.utf8)
        body += encode(params)
        body.append(UInt8(ascii: "}"))
        state.withLock { state in
            guard !state.closed else { return }
            if state.holds > 0 {
                state.queued.append(body)
            } else {
                state.emit(body, to: sink)
            }
        }
    }

    /// Collects output until the matching `uncork()`, so answers to one read of pipelined
    /// requests leave in one write instead of one system call each.
    public func cork() {
        state.withLock { $0.corks += 1 }
    }

    /// Ends a `cork()`; the last one writes what was collected.
    public func uncork() {
        state.withLock { state in
            state.corks -= 1
            guard state.corks == 0, !state.corked.isEmpty else { return }
            let bytes = state.corked
            state.corked.removeAll(keepingCapacity: bytes.count < 1 << 20)
            if !state.closed { sink(bytes) }
        }
    }

    /// Delays notifications until the matching `release()`.
    public func hold() {
        state.withLock { $0.holds += 1 }
    }

    /// Ends a hold; the last one flushes queued notifications.
    public func release() {
        state.withLock { state in
            state.holds -= 1
            guard state.holds == 0, !state.queued.isEmpty else { return }
            let queued = state.queued
            state.queued.removeAll()
            guard !state.closed else { return }
            for body in queued { state.emit(body, to: sink) }
        }
    }

    /// Stops all further output (after `exit`).
    public func close() {
        state.withLock { $0.closed = true }
    }

    private func write(_ body: [UInt8]) {
        state.withLock { state in
            guard !state.closed else { return }
            state.emit(body, to: sink)
        }
    }

    func encode<T: Encodable>(_ value: T) -> [UInt8] {
        do {
            // The same bytes as JSONCoding.makeEncoder(), without JSONEncoder's cold start and casts.
            return try JSONValueEncoder.encodeBytes(value)
        } catch {
            return Array(#"null"#.utf8)
        }
    }

    /// `{"jsonrpc":"2.0","id":…,"result":…}` assembled from pre-encoded parts.
    static func response(id: RequestID?, resultJSON: [UInt8]) -> [UInt8] {
        envelope(id: id) + Array(#","result":"#.utf8) + resultJSON + [UInt8(ascii: "}")]
    }

    /// `{"jsonrpc":"2.0","id":…,"error":…}`, written without `JSONEncoder` (errors are a hot path).
    static func response(id: RequestID?, error: ResponseError) -> [UInt8] {
        envelope(id: id) + Array(#","error":"#.utf8) + error.jsonBytes + [UInt8(ascii: "}")]
    }

    private static func envelope(id: RequestID?) -> [UInt8] {
        var bytes = Array(#"{"jsonrpc":"2.0","id":"#.utf8)
        switch id {
        case nil: bytes += Array("null".utf8)
        case .int(let value): bytes += Array(String(value).utf8)
        case .string(let value): JSONWriter.appendString(value, to: &bytes)
        }
        return bytes
    }
}
