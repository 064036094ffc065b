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
        var parser = MessageParser(framing: framing, maxMessageBytes: maxMessageBytes)
        // What the proxy answers by itself (made when first needed: usually `initialize` comes first).
        var local: Connection?
        func localConnection() -> Connection {
            if let local { return local }
            let outbox = Outbox(framing: parser.framing ?? .ndjson) { writeAll(protocolFD, $0) == nil }
            let connection = Connection(outbox: outbox, delegate: BeforeAttach(), log: logger) { exit($0) }
            local = connection
            return connection
        }
        var announced = framing != nil
        let decoder = MessageDecoder()
        // Small: an `initialize` is a few hundred bytes, and what follows it is the engine's to read.
        var buffer = [UInt8](repeating: 0, count: 4096)
        var inputs: [FramedInput] = []
        while let chunk = readSome(STDIN_FILENO, into: &buffer) {
            // One input at a time until `initialize`, so what follows it can go to the engine untouched.
            var unread = chunk
            while !unread.isEmpty {
                inputs.removeAll(keepingCapacity: true)
                unread = unread.dropFirst(parser.pushUntilInput(unread, into: &inputs))
                if !announced, let detected = parser.framing {
                    announced = true
                    local?.outbox.setFraming(detected)
                }
                for input in inputs {
                    let framing = parser.framing ?? .ndjson
                    guard case .message(let bytes) = input, case .single(.message(let message)) = decoder.decode(bytes),
                          message.hasMethod("initialize"), let id = message.id else {
                        localConnection().receive([input], framing: framing)
                        continue
                    }
                    let link: EngineConnector.Link
                    do {
                        // Read without a tree (the decode above built none either); anything else, in full.
                        let params = try InitializeWorkspace.request(message) ?? decoder.params(InitializeRequest.self, from: message)
                        let workspace = try InitializeWorkspace.path(from: params, unnamed: InitializeWorkspace.currentDirectory)
                        // Named for engines from before the handover, whose cwd is not the client's (newer ones take
                        // an unnamed workspace as their own).
                        let named = params.workspace == nil ? naming(workspace, in: bytes, params: message.paramsText.map { $0.startIndex..<$0.endIndex }) : bytes
                        let pending = framing.frame(named) + unread
                        // The engine takes over stdin and stdout (the bytes read already come on the socket).
                        var hello = EngineConnector.hello(.attach)
                        hello.add("framing", .string(framing.rawValue))
                        hello.add("maxMessageBytes", .int(maxMessageBytes))
                        hello.add("handover", .bool(true))
                        hello.add("pending", .int(pending.count))
                        if let maxBacklogBytes { hello.add("maxBacklogBytes", .int(maxBacklogBytes)) }
                        // What the proxy answered must be out before the engine's answers, which start with the hello.
                        if let local { finish(local.outbox) }
                        link = try EngineConnector.attach(workspacePath: workspace, hello: hello,
                                                          passing: [STDIN_FILENO, protocolFD], following: pending,
                                                          engineEnvironment: engineEnvironment)
                    } catch let error as ResponseError {
                        localConnection().outbox.respond(id: id, error: error)
                        continue
                    } catch {
                        localConnection().outbox.respond(id: id, error: .internalError("\(error)"))
                        continue
                    }
                    logger.info("attached to engine \(link.text("pid")) of \(link.text("workspace"))")
                    if link.value("handover") == .bool(true) { handOver(link.fd, protocolFD: protocolFD) }
                    // An engine from before the handover read the pending bytes as the session's first: copy both ways.
                    copy(link.fd, protocolFD: protocolFD)
                }
            }
        }
        localConnection().endOfInput()
        while true { pause() }
    }

    /// `initialize`'s bytes with `"workspace": workspace` added as the params' last member (a parse keeps
    /// the last of duplicate keys): the engine's own cwd is not the client's. Spliced into the text, no
    /// tree: `params` is where the params' object is (nil when absent or null: a new `params` member
    /// then goes last in the message).
    static func naming(_ workspace: String, in bytes: [UInt8], params: Range<Int>?) -> [UInt8] {
        let member = Array(#""workspace":"#.utf8) + JSONValueEncoder.encodeBytes(JSONValue.string(workspace))
        var named = bytes
        if let params {
            guard bytes[params.lowerBound] == UInt8(ascii: "{") else { return bytes }
            let closing = params.upperBound - 1
            let isEmpty = bytes[(params.lowerBound + 1)..<closing].allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
            named.insert(contentsOf: (isEmpty ? [] : [UInt8(ascii: ",")]) + member, at: closing)
        } else {
            guard let closing = bytes.lastIndex(of: UInt8(ascii: "}")) else { return bytes }
            named.insert(contentsOf: Array(#","params":{"#.utf8) + member + [UInt8(ascii: "}")], at: closing)
        }
        return named
    }

    /// Waits until what the proxy answered by itself is written, so it comes before the engine's output.
    /// Not inlined: in `run`, its task's metadata (`TaskPriority?`, built from its mangled name) was made
    /// at every start, called or not.
    @inline(never)
    private static func finish(_ outbox: Outbox) {
        let done = DispatchSemaphore(value: 0)
        Task {
            await outbox.finish(timeout: .seconds(5))
            done.signal()
        }
        done.wait()
    }

    /// Leaves stdin and stdout to the engine (which got the bytes read already with the hello: it reads
    /// and writes them itself, no copying, no hop) and exits with the session's exit code.
    private static func handOver(_ socket: Int32, protocolFD: Int32) -> Never {
        // The client's end of stdout closes only when the engine's copy does too.
        close(protocolFD)
        // Only the exit record is expected; anything else is skipped.
        var reader = RecordReader()
        var buffer = [UInt8](repeating: 0, count: 64)
        while let chunk = readSome(socket, into: &buffer) {
            reader.append(chunk)
            while let (kind, payload) = reader.next() {
                if kind == .exit { exit(Int32(payload.first ?? 1)) }
            }
        }
        engineEnded()
    }

    private static func engineEnded() -> Never {
        writeAll(STDERR_FILENO, "drover: the engine ended this session without a word (it stopped or crashed); its log may say why. Restart drover serve to attach to a new engine.\n")
        exit(1)
    }

    /// Copies stdin to the engine and the engine's records to stdout; never returns.
    private static func copy(_ socket: Int32, protocolFD: Int32) -> Never {
        let downstream = Thread {
            var reader = RecordReader()
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            var clientGone = false
            while let chunk = readSome(socket, into: &buffer) {
                reader.append(chunk)
                while let (kind, payload) = reader.next() {
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
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while let chunk = readSome(STDIN_FILENO, into: &buffer) {
            if writeAll(socket, chunk) != nil { break }
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
