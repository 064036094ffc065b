import DroverStore
import Foundation

/// Id rules and generators shared by the engine.
///
/// Every run or step id passes through `isValidID` before it touches a path; the rule itself is
/// the store's (`StoreLayout.isValidID`), plus a shorter limit for ids people type in pipelines.
public enum Identifiers {
    /// Whether `id` may be used as a pipeline, step or run id: the store's path rule, at most 64 characters.
    public static func isValidID(_ id: String) -> Bool {
        id.utf8.count <= 64 && StoreLayout.isValidID(id)
    }

    /// The rule as text, for error messages.
    public static let idRule = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ (no '..')"

    /// A new run id: `r-YYYYMMDD-HHMMSS-xxxxx` (UTC), sortable by creation time to the second.
    public static func newRunID(at date: Date) -> String {
        let parts = utcComponents(date)
        let stamp = String(format: "%04d%02d%02d-%02d%02d%02d", parts.year, parts.month, parts.day, parts.hour, parts.minute, parts.second)
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz")
        let suffix = String((0..<5).map { _ in alphabet[Int.random(in: 0..<alphabet.count)] })
        return "r-\(stamp)-\(suffix)"
    }

    /// A decision id, unique within its run: `d-<step>-<n>`.
    public static func decisionID(stepId: String, number: Int) -> String { "d-\(stepId)-\(number)" }

    /// An approval id, unique within its run: `a-<step>-<n>`.
    public static func approvalID(stepId: String, number: Int) -> String { "a-\(stepId)-\(number)" }

    struct Components { var year, month, day, hour, minute, second, millisecond: Int }

    static func utcComponents(_ date: Date) -> Components {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(millis / 1000)
        var tm = tm()
        gmtime_r(&seconds, &tm)
        return Components(year: Int(tm.tm_year) + 1900, month: Int(tm.tm_mon) + 1, day: Int(tm.tm_mday),
                          hour: Int(tm.tm_hour), minute: Int(tm.tm_min), second: Int(tm.tm_sec),
                          millisecond: Int(millis % 1000))
    }
}

/// Event timestamps: ISO 8601 UTC with milliseconds, e.g. `2025-01-31T12:00:00.123Z`.
public enum Timestamp {
    /// Formats `date` the way events carry it.
    public static func string(_ date: Date) -> String {
        let c = Identifiers.utcComponents(date)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", c.year, c.month, c.day, c.hour, c.minute, c.second, c.millisecond)
    }

    /// Reads a timestamp as events carry it (milliseconds optional); nil for anything else.
    public static func date(_ timestamp: String?) -> Date? {
        guard let timestamp else { return nil }
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = withFraction.date(from: timestamp) { return date }
        return ISO8601DateFormatter().date(from: timestamp)
    }
}
