import DroverEngine
import DroverProtocol
import DroverSupport
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A JSON-RPC client of a workspace's engine, for the CLI (`drover run`, `attach`, `cancel`, …):
/// typed requests, and every run's events and log lines as `EngineOutput`, as an editor gets them.
public final class EngineClient: Sendable {
    private struct State {
        var nextID = 1
        var pending: [Int: CheckedContinuation<JSONValue, any Error>] = [:]
        var ended = false
    }

    private let fd: Int32
    private let state = Mutex(State())
    private let writing = Mutex(())
    /// Every run's events and log lines, in the order the engine sent them; ends with the session.
    public let outputs: AsyncStream<EngineOutput>
    private let continuation: AsyncStream<EngineOutput>.Continuation

    private init(fd: Int32) {
        self.fd = fd
        (outputs, continuation) = AsyncStream<EngineOutput>.makeStream()
    }

    deinit {
        Glibc.close(fd)
    }

    /// Attaches to the engine of `workspace` (starting it if none runs, with `engineEnvironment`
    /// added to its environment) and initializes the session.
    public static func attach(workspace: URL, engineEnvironment: [String: String] = [:]) async throws -> EngineClient {
        let link = try EngineConnector.attach(workspace: workspace, hello: EngineConnector.hello(.attach, [(key: "framing", value: .string("ndjson"))]),
                                              engineEnvironment: engineEnvironment)
        let client = EngineClient(fd: link.fd)
        let thread = Thread { [weak client] in client?.readUntilEnd() }
        thread.name = "drover-engine-client"
        thread.start()
        _ = try await client.call(InitializeRequest(protocolVersion: ProtocolVersion.current, workspace: workspace.path))
        client.send(Array(#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#.utf8))
        return client
    }

    /// Sends `request` and returns its result; a JSON-RPC error is thrown as `ResponseError`.
    public func call<R: RequestType>(_ request: R) async throws -> R.Response {
        let params = try JSONValueEncoder.encode(request)
        let result: JSONValue = try await withCheckedThrowingContinuation { waiter in
            let id: Int? = state.withLock { state in
                guard !state.ended else { return nil }
                defer { state.nextID += 1 }
                state.pending[state.nextID] = waiter
                return state.nextID
            }
            guard let id else {
                waiter.resume(throwing: EngineAttachError("the engine ended the session (it stopped or crashed)"))
                return
            }
            let message = JSONValue.object(["jsonrpc": .string("2.0"), "id": .int(id), "method": .string(R.method), "params": params])
            send(JSONValueEncoder.encodeBytes(message))
        }
        return try JSONValueDecoder().decode(R.Response.self, from: result)
    }

    /// Ends the session (as a client closing its input): the engine and its runs go on.
    public func detach() {
        shutdown(fd, Int32(SHUT_WR))
    }

    private func send(_ body: [UInt8]) {
        writing.withLock { _ in _ = writeAll(fd, body + [0x0A]) }
    }

    private func readUntilEnd() {
        var records = RecordReader()
        var parser = MessageParser(framing: .ndjson)
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        reading: while let chunk = readSome(fd, into: &buffer) {
            records.append(chunk)
            while let (kind, payload) = records.next() {
                guard kind == .output else { if kind == .exit { break reading } else { continue } }
                for case .message(let bytes) in parser.push(payload) { receive(bytes) }
            }
        }
        let waiters = state.withLock { state in
            state.ended = true
            defer { state.pending = [:] }
            return Array(state.pending.values)
        }
        for waiter in waiters { waiter.resume(throwing: EngineAttachError("the engine ended the session (it stopped or crashed)")) }
        continuation.finish()
    }

    private func receive(_ bytes: [UInt8]) {
        guard case .object(let message)? = try? JSONParser().parse(bytes) else { return }
        if case .int(let id)? = message["id"] {
            guard let waiter = state.withLock({ $0.pending.removeValue(forKey: id) }) else { return }
            if let error = message["error"], let decoded = try? JSONValueDecoder().decode(ResponseError.self, from: error) {
                waiter.resume(throwing: decoded)
            } else {
                waiter.resume(returning: message["result"] ?? .null)
            }
            return
        }
        guard case .string(let method)? = message["method"], let params = message["params"] else { return }
        switch method {
        case RunEventNotification.method:
            if let event = try? JSONValueDecoder().decode(Event.self, from: params) { continuation.yield(.event(event)) }
        case RunLogNotification.method:
            if let log = try? JSONValueDecoder().decode(RunLogNotification.self, from: params) { continuation.yield(.log(log)) }
        default:
            break
        }
    }
}
