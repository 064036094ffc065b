#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A leveled logger that writes one line per message to stderr (never stdout: stdout is the protocol).
public struct Logger: Sendable {
    /// How much to log; each level includes the ones before it.
    public enum Level: Int, Sendable, Comparable, CaseIterable {
        case error, warning, info, debug

        public init?(name: String) {
            guard let level = Self.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
            self = level
        }

        /// The level's name as options and log lines spell it (not `"\(level)"`, which goes through
        /// reflection on every line).
        public var name: String {
            switch self {
            case .error: "error"
            case .warning: "warning"
            case .info: "info"
            case .debug: "debug"
            }
        }

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    public var level: Level

    public init(level: Level = .warning) {
        self.level = level
    }

    public func error(_ message: @autoclosure () -> String) { write(.error, message) }
    public func warning(_ message: @autoclosure () -> String) { write(.warning, message) }
    public func info(_ message: @autoclosure () -> String) { write(.info, message) }
    public func debug(_ message: @autoclosure () -> String) { write(.debug, message) }

    private func write(_ messageLevel: Level, _ message: () -> String) {
        guard messageLevel <= level else { return }
        writeAll(STDERR_FILENO, "drover [" + messageLevel.name + "] " + message() + "\n")
    }
}
