import DroverProtocol
import DroverServer
import DroverSupport
import Foundation

/// `drover serve`: the JSON-RPC server on stdin/stdout, attached to the workspace's engine process
/// (started if none runs), or with its own engine (`--no-daemon`).
enum ServeCommand {
    static let subcommand = Subcommand(
        name: "serve",
        usage: "serve [--stdio] [--no-daemon] [--framing lsp|ndjson|auto] [--max-message-bytes N] [--max-backlog-bytes N] [--log-level LEVEL] [--store URL]",
        summary: "Speak JSON-RPC 2.0 on stdin/stdout for an editor or script (see protocol/README.md).",
        options: [
            OptionSpec(name: "--stdio", value: nil, help: "use stdin/stdout (the default and only transport)"),
            OptionSpec(name: "--no-daemon", value: nil,
                       help: "drive the workspace in this process instead of its engine (runs stop when this server does; no other client may drive the workspace meanwhile)"),
            OptionSpec(name: "--framing", value: "MODE", help: "lsp, ndjson or auto (default: auto, detected from the first byte)"),
            OptionSpec(name: "--max-message-bytes", value: "N", help: "largest accepted message (default 67108864)"),
            OptionSpec(name: "--max-backlog-bytes", value: "N",
                       help: "output that may wait for a slow client before run/log, then run/event, are dropped (default 16777216)"),
            OptionSpec(name: "--log-level", value: "LEVEL", help: "error, warning, info or debug (default warning); logs go to stderr"),
            StoreChoice.option,
        ],
        ownsMainThread: serve
    )

    /// Serves on stdio; never returns (runs on the calling thread, which it blocks reading stdin).
    static func serve(_ arguments: ParsedArguments) throws -> Never {
        var framing: Framing?
        switch arguments.value("--framing") ?? "auto" {
        case "auto": framing = nil
        case let name:
            guard let chosen = Framing(rawValue: name) else {
                throw UsageError(description: "--framing must be lsp, ndjson or auto, not '\(name)'")
            }
            framing = chosen
        }
        let maxBytes = try byteCount(arguments, "--max-message-bytes") ?? 64 << 20
        let backlog = try byteCount(arguments, "--max-backlog-bytes")
        let limits = backlog.map { OutboxLimits(backlog: $0) } ?? OutboxLimits()
        let logger = try makeLogger(arguments.value("--log-level"))
        try arguments.refusePositionals(command: "serve")
        if arguments.has("--no-daemon") {
            let store = try StoreChoice.resolve(arguments)
            ServerMain.run(framing: framing, maxMessageBytes: maxBytes, limits: limits, logger: logger, backend: store.backend)
        }
        // Only a `--store` flag must travel to an engine this server starts; without one, `drover engine
        // start` reads the same environment and config itself. So a server whose engine already runs reads
        // no file before stdin (start-up is what editors wait on).
        let engineEnvironment = arguments.value("--store") == nil ? [:] : try StoreChoice.resolve(arguments).engineEnvironment
        ServeProxy.run(framing: framing, maxMessageBytes: maxBytes, maxBacklogBytes: backlog, logger: logger,
                       engineEnvironment: engineEnvironment)
    }

    /// The value of a byte-count option, nil if absent.
    private static func byteCount(_ arguments: ParsedArguments, _ option: String) throws -> Int? {
        guard let text = arguments.value(option) else { return nil }
        guard let value = Int(text), value > 0 else {
            throw UsageError(description: "\(option) must be a positive number of bytes, not '\(text)'")
        }
        return value
    }

    static func makeLogger(_ name: String?) throws -> Logger {
        guard let name else { return Logger(level: .warning) }
        guard let level = Logger.Level(name: name) else {
            throw UsageError(description: "--log-level must be error, warning, info or debug, not '\(name)'")
        }
        return Logger(level: level)
    }
}
