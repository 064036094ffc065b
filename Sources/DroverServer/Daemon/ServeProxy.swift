import DroverEngine
import DroverProtocol
import DroverSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `drover serve` as editors spawn it: a JSON-RPC server on stdio that is a thin proxy to the
/// workspace's engine process.
///
/// Until `initialize`, it answers by itself, as any server does before `initialize` (errors,
/// `exit`). `initialize` names the workspace: the proxy attaches to that workspace's engine
/// (starting it if none runs), hands it the `initialize` and from then on copies bytes — the
/// client's to the engine as they are, the engine's records to stdout — until the engine ends the
/// session (its exit code is this process's) or the client closes stdin. The engine answers
/// everything else, framing included, so the protocol is exactly that of an in-process server.
public enum ServeProxy {
    /// Serves on stdio through the engine; never returns.
    /// - Parameter engineEnvironment: added to the environment of an engine this server starts.
    public static func run(framing: Framing?, maxMessageBytes: Int, maxBacklogBytes: Int?, logger: Logger,
                           engineEnvironment: [String: String] = [:]) -> Never {
        let protocolFD = StdioChannel.takeOverStdout()
        let outbox = Outbox(framing: framing ?? .ndjson) { writeAll(protocolFD, $0) == nil }
        let local = Connection(outbox: outbox, delegate: BeforeAttach(), log: logger) { exit($0) }
        var parser = MessageParser(framing: framing, maxMessageBytes: maxMessageBytes)
        var announced = framing != nil
        // Whether the proxy answered anything itself (then that must be out before the engine's answers).
        var answeredLocally = false
        let decoder = MessageDecoder()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            // Byte by byte until `initialize`, so what follows it can go to the engine untouched.
            for index in 0..<count {
                let inputs = parser.push(buffer[index...index])
                if !announced, let detected = parser.framing {
                    announced = true
                    outbox.setFraming(detected)
                }
                for input in inputs {
                    let framing = parser.framing ?? .ndjson
                    guard case .message(let bytes) = input, case .single(.message(let message)) = decoder.decode(bytes),
                          message.method == "initialize", let id = message.id else {
                        answeredLocally = true
                        local.receive([input], framing: framing)
                        continue
                    }
                    let link: EngineConnector.Link
                    let forwarded: [UInt8]
                    do {
                        let params = try decoder.params(InitializeRequest.self, from: message)
                        let workspace = try EngineBridge.workspace(from: params)
                        forwarded = framing.frame(params.workspace == nil ? naming(workspace, in: bytes) : bytes)
                            + buffer[(index + 1)..<count]
                        // The engine takes over stdin and stdout (the bytes read already come on the socket).
                        var hello: [String: Any] = ["framing": framing.rawValue, "maxMessageBytes": maxMessageBytes,
                                                    "handover": true, "pending": forwarded.count]
                        if let maxBacklogBytes { hello["maxBacklogBytes"] = maxBacklogBytes }
                        link = try EngineConnector.attach(workspace: workspace, hello: EngineConnector.hello(.attach, hello),
                                                          passing: [STDIN_FILENO, protocolFD], engineEnvironment: engineEnvironment)
                    } catch let error as ResponseError {
                        answeredLocally = true
                        outbox.respond(id: id, error: error)
                        continue
                    } catch {
                        answeredLocally = true
                        outbox.respond(id: id, error: .internalError("\(error)"))
                        continue
                    }
                    // Nothing answered here (the usual case): no need to start tasks to wait for it.
                    if answeredLocally { finish(outbox) }
                    logger.info("attached to engine \(link.reply["pid"] ?? "?") of \(link.reply["workspace"] ?? "?")")
                    if link.reply["handover"] as? Bool == true {
                        handOver(link.fd, protocolFD: protocolFD, pending: forwarded)
                    }
                    // An engine from before the handover: copy both ways.
                    copy(link.fd, protocolFD: protocolFD, first: forwarded)
                }
            }
        }
        local.endOfInput()
        while true { pause() }
    }

    /// `initialize`'s bytes with `workspace` added: the engine's own cwd is not the client's.
    private static func naming(_ workspace: URL, in bytes: [UInt8]) -> [UInt8] {
        guard case .object(var message)? = try? JSONParser().parse(bytes) else { return bytes }
        var params = message["params"]?.objectValue ?? [:]
        params["workspace"] = .string(workspace.path)
        message["params"] = .object(params)
        return (try? JSONValueEncoder.encodeBytes(JSONValue.object(message))) ?? bytes
    }

    /// Waits until what the proxy answered by itself is written, so it comes before the engine's output.
    private static func finish(_ outbox: Outbox) {
        let done = DispatchSemaphore(value: 0)
        Task {
            await outbox.finish(timeout: .seconds(5))
            done.signal()
        }
        done.wait()
    }

    /// Sends the engine what was read of stdin already, leaves stdin and stdout to it (the engine
    /// reads and writes them itself: no copying, no hop), and exits with the session's exit code.
    private static func handOver(_ socket: Int32, protocolFD: Int32, pending: [UInt8]) -> Never {
        // The client's end of stdout closes only when the engine's copy does too.
        close(protocolFD)
        if writeAll(socket, pending) == nil {
            var reader = RecordReader()
            var buffer = [UInt8](repeating: 0, count: 64)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(socket, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                for (kind, payload) in reader.push(buffer[0..<count]) where kind == .exit {
                    exit(Int32(payload.first ?? 1))
                }
            }
        }
        engineEnded()
    }

    private static func engineEnded() -> Never {
        writeAll(STDERR_FILENO, "drover: the engine ended this session without a word (it stopped or crashed); its log may say why. Restart drover serve to attach to a new engine.\n")
        exit(1)
    }

    /// Copies stdin to the engine (after `first`) and the engine's records to stdout; never returns.
    private static func copy(_ socket: Int32, protocolFD: Int32, first: [UInt8]) -> Never {
        let downstream = Thread {
            var reader = RecordReader()
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            var clientGone = false
            while true {
                let count = buffer.withUnsafeMutableBytes { read(socket, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                for (kind, payload) in reader.push(buffer[0..<count]) {
                    switch kind {
                    case .output:
                        guard !clientGone else { continue }
                        if writeAll(protocolFD, payload) != nil {
                            // The client closed its end: the engine ends this session as on end of input.
                            clientGone = true
                            shutdown(socket, Int32(SHUT_WR))
                        }
                    case .exit:
                        exit(Int32(payload.first ?? 1))
                    case nil:
                        continue
                    }
                }
            }
            engineEnded()
        }
        downstream.name = "drover-serve-downstream"
        downstream.start()
        if writeAll(socket, first) == nil {
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                if writeAll(socket, buffer[0..<count]) != nil { break }
            }
        }
        // End of input: the engine ends the session (the runs go on) and sends the exit code.
        shutdown(socket, Int32(SHUT_WR))
        while true { pause() }
    }

    /// The delegate of the proxy's own connection, which sees only what comes before `initialize`.
    private struct BeforeAttach: ConnectionDelegate {
        func initialize(_ params: InitializeRequest, framing: Framing, outbox: Outbox) throws -> InitializeResult {
            // Only an `initialize` inside a batch gets here.
            throw ResponseError.invalidRequest("send 'initialize' on its own, not in a batch: drover serve attaches to the workspace's engine on it")
        }
        func start() async {}
        func handler(for method: String) -> MethodHandler? { nil }
        func shutdown() async {}
    }
}
