import DroverProtocol
import DroverStore
import DroverSupport
import Foundation

/// Wires stdin/stdout, the connection and the engine bridge together, then runs until exit.
public enum ServerMain {
    /// Serves on stdio until `exit` or end of input, keeping runs in `backend`; never returns.
    public static func run(framing: Framing?, maxMessageBytes: Int, limits: OutboxLimits = OutboxLimits(),
                           logger: Logger, backend: StoreBackend) -> Never {
        let protocolFD = StdioChannel.takeOverStdout()
        // A failed write means the client closed its end: the connection then stops in order, as on end of input.
        let outbox = Outbox(framing: framing ?? .ndjson, limits: limits) { writeAll(protocolFD, $0) == nil }
        let delegate = EngineBridge(logger: logger, backend: backend)
        let connection = Connection(outbox: outbox, delegate: delegate, log: logger) { code in
            exit(code)
        }
        let signalSources = stopOnSignals([SIGTERM, SIGHUP]) { connection.stop(signal: $0) }
        // The main thread has nothing else to do: it reads stdin (work runs in tasks elsewhere).
        connection.readUntilEnd(fd: STDIN_FILENO, parser: MessageParser(framing: framing, maxMessageBytes: maxMessageBytes))
        // End of input: the connection is stopping and will call `exit`.
        while true {
            withExtendedLifetime(signalSources) { _ = pause() }
        }
    }

    /// Handles `signals` with `stop` instead of their default action (which would kill the server
    /// and leave its agents running with nobody to record their end).
    private static func stopOnSignals(_ signals: [Int32], stop: @escaping @Sendable (Int32) -> Void) -> [DispatchSourceSignal] {
        signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stop(number) }
            source.resume()
            return source
        }
    }
}
