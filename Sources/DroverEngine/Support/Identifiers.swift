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
        // Every run/start makes one: digits by hand, not `String(format:)`, and one random number (one
        // getrandom) for the five characters.
        let c = utcComponents(date)
        let digits = Timestamp.digits
        let stamp = "\(digits(c.year, 4))\(digits(c.month, 2))\(digits(c.day, 2))-\(digits(c.hour, 2))\(digits(c.minute, 2))\(digits(c.second, 2))"
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz".utf8)
        var random = UInt64.random(in: .min ... .max)
        var suffix: [UInt8] = []
        for _ in 0..<5 {
            suffix.append(alphabet[Int(random % UInt64(alphabet.count))])
            random /= UInt64(alphabet.count)
        }
        return "r-\(stamp)-\(String(decoding: suffix, as: UTF8.self))"
    }

    /// A decision id, unique within its run: `d-<step>-<n>`.
    public static func decisionID(stepId: String, number: Int) -> String { "d-\(stepId)-\(number)" }

    /// An approval id, unique within its run: `a-<step>-<n>`.
    public static func approvalID(stepId: String, number: Int) -> String { "a-\(stepId)-\(number)" }

    /// The id of a fan-out step's wait on its children (an `inbox/list` item of kind `children`, not
    /// a gate): `c-<step>-<attempt>`, the attempt whose output listed them.
    public static func childrenWaitID(stepId: String, attempt: Int) -> String { "c-\(stepId)-\(attempt)" }

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
    /// (Every commit stamps its events: digits by hand, not `String(format:)`.)
    public static func string(_ date: Date) -> String {
        let c = Identifiers.utcComponents(date)
        guard (0...9999).contains(c.year) else {
            return "\(digits(c.year, 4))-\(digits(c.month, 2))-\(digits(c.day, 2))T\(digits(c.hour, 2)):\(digits(c.minute, 2)):\(digits(c.second, 2)).\(digits(c.millisecond, 3))Z"
        }
        // Its 24 bytes written in place: every commit stamps its events, and seven padded `String`s
        // joined by interpolation cost more than reading the clock and the calendar.
        return String(unsafeUninitializedCapacity: 24) { bytes in
            var end = 0
            func put(_ value: Int, width: Int, then separator: UInt8) {
                var rest = value
                for offset in stride(from: width - 1, through: 0, by: -1) {
                    bytes[end + offset] = UInt8(ascii: "0") + UInt8(rest % 10)
                    rest /= 10
                }
                bytes[end + width] = separator
                end += width + 1
            }
            put(c.year, width: 4, then: UInt8(ascii: "-"))
            put(c.month, width: 2, then: UInt8(ascii: "-"))
            put(c.day, width: 2, then: UInt8(ascii: "T"))
            put(c.hour, width: 2, then: UInt8(ascii: ":"))
            put(c.minute, width: 2, then: UInt8(ascii: ":"))
            put(c.second, width: 2, then: UInt8(ascii: "."))
            put(c.millisecond, width: 3, then: UInt8(ascii: "Z"))
            return end
        }
    }

    /// The date of a timestamp `string(_:)` wrote (`2026-11-29T12:59:29.474Z`, milliseconds optional);
    /// nil for any other form. Reports read many of them: no date formatter (and no ICU) per call.
    public static func date(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.last == UInt8(ascii: "Z") else { return nil }
        func number(_ from: Int, _ count: Int) -> Int? {
            var value = 0
            for byte in bytes[from..<(from + count)] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        let separators: [(Int, Character)] = [(4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":")]
        guard separators.allSatisfy({ Character(UnicodeScalar(bytes[$0.0])) == $0.1 }),
              let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2) else { return nil }
        var millisecond = 0
        if bytes.count == 24, bytes[19] == UInt8(ascii: ".") {
            guard let fraction = number(20, 3) else { return nil }
            millisecond = fraction
        } else if bytes.count != 20 {
            return nil
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        return Date(timeIntervalSince1970: Double(timegm(&parts)) + Double(millisecond) / 1000)
    }

    static func digits(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
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
