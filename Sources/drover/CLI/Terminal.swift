import DroverSupport
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the terminal around the process can do: colour and symbols on a terminal without
/// `NO_COLOR`, plain ASCII otherwise; whether a person can answer prompts on stdin.
struct Terminal: Sendable {
    /// Colour and Unicode symbols on stdout.
    let styled: Bool
    /// stdin is a terminal, so a person can answer gates.
    let stdinIsTerminal: Bool

    /// The terminal this process runs in.
    static let current = Terminal(environment: ProcessInfo.processInfo.environment)

    init(environment: [String: String]) {
        let noColor = environment["NO_COLOR"].map { !$0.isEmpty } ?? false
        styled = isatty(STDOUT_FILENO) == 1 && !noColor && environment["TERM"] != "dumb"
        stdinIsTerminal = isatty(STDIN_FILENO) == 1
    }

    // MARK: Symbols

    var ok: String { styled ? green("✓") : "ok" }
    var failed: String { styled ? red("✗") : "FAIL" }
    var running: String { styled ? cyan("●") : "*" }
    var gate: String { styled ? yellow("?") : "?" }
    var pending: String { styled ? dim("·") : "-" }
    var arrow: String { styled ? "→" : "->" }
    var separator: String { styled ? " · " : " | " }

    /// The symbol of a step or run state.
    func symbol(forState state: String) -> String {
        switch state {
        case "done": ok
        case "failed", "cancelled": failed
        case "working", "running", "queued": running
        case "waiting", "blocked", "paused": gate
        default: pending
        }
    }

    // MARK: Styles (no-ops when not styled)

    func bold(_ text: String) -> String { sgr("1", text) }
    func dim(_ text: String) -> String { sgr("2", text) }
    func red(_ text: String) -> String { sgr("31", text) }
    func green(_ text: String) -> String { sgr("32", text) }
    func yellow(_ text: String) -> String { sgr("33", text) }
    func cyan(_ text: String) -> String { sgr("36", text) }

    private func sgr(_ code: String, _ text: String) -> String {
        styled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }
}

/// Unbuffered, line-safe writes to stdout and stderr, shared by the renderer, prompts and the
/// signal handler so their lines never interleave. A failed write (stdout closed) is ignored.
enum Console {
    private static let lock = Mutex(())

    /// Writes `text` to stdout as is (no newline added).
    static func write(_ text: String) {
        lock.withLock { _ in _ = writeAll(STDOUT_FILENO, text) }
    }

    /// Writes `text` and a newline to stdout.
    static func line(_ text: String = "") { write(text + "\n") }

    /// Writes `drover: <message>` to stderr.
    static func error(_ message: String) {
        lock.withLock { _ in _ = writeAll(STDERR_FILENO, "drover: \(message)\n") }
    }
}
