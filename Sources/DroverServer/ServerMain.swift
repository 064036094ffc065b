import DroverProtocol
import Foundation

/// Wires stdin/stdout, the connection and the engine bridge together, then runs until exit.
public enum ServerMain {
    /// Serves on stdio until `exit` or end of input; never returns.
    public static func run(framing: Framing?, maxMessageBytes: Int, logger: Logger) async -> Never {
        let protocolFD = StdioChannel.takeOverStdout()
        let outbox = Outbox(framing: framing ?? .ndjson) { bytes in
            if !StdioChannel.writeAll(bytes, to: protocolFD) {
                logger.warning("the client closed the protocol channel; exiting")
                exit(1)
            }
        }
        let delegate = EngineBridge(logger: logger)
        let connection = Connection(outbox: outbox, delegate: delegate, log: logger) { code in
            exit(code)
        }
        StdioChannel.startReading(
            fd: STDIN_FILENO,
            parser: MessageParser(framing: framing, maxMessageBytes: maxMessageBytes),
            onInput: { input, framing in connection.receive(input, framing: framing) },
            onFramingDetected: { outbox.setFraming($0) },
            onEnd: { connection.endOfInput() }
        )
        // Work happens on the reader thread and in tasks; `exit` ends the process.
        while true { try? await Task.sleep(for: .seconds(3600)) }
    }
}
