import DroverProtocol
import DroverServer
import DroverSupport
import Foundation

/// `drover serve`: the JSON-RPC server on stdin/stdout.
enum ServeCommand {
    static let subcommand = Subcommand(
        name: "serve",
        usage: "serve [--stdio] [--framing lsp|ndjson|auto] [--max-message-bytes N] [--log-level LEVEL] [--store URL]",
        summary: "Speak JSON-RPC 2.0 on stdin/stdout for an editor or script (see protocol/README.md).",
        options: [
            OptionSpec(name: "--stdio", value: nil, help: "use stdin/stdout (the default and only transport)"),
            OptionSpec(name: "--framing", value: "MODE", help: "lsp, ndjson or auto (default: auto, detected from the first byte)"),
            OptionSpec(name: "--max-message-bytes", value: "N", help: "largest accepted message (default 67108864)"),
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
        var maxBytes = 64 << 20
        if let text = arguments.value("--max-message-bytes") {
            guard let value = Int(text), value > 0 else {
                throw UsageError(description: "--max-message-bytes must be a positive number of bytes, not '\(text)'")
            }
            maxBytes = value
        }
        let logger = try makeLogger(arguments.value("--log-level"))
        if !arguments.positionals.isEmpty {
            throw UsageError(description: "'drover serve' takes no arguments (got '\(arguments.positionals[0])')")
        }
        let store = try StoreChoice.resolve(arguments)
        ServerMain.run(framing: framing, maxMessageBytes: maxBytes, logger: logger, backend: store.backend)
    }

    static func makeLogger(_ name: String?) throws -> Logger {
        guard let name else { return Logger(level: .warning) }
        guard let level = Logger.Level(name: name) else {
            throw UsageError(description: "--log-level must be error, warning, info or debug, not '\(name)'")
        }
        return Logger(level: level)
    }
}
