import Foundation

/// What the real-agent drivers share about rate limits: telling an agent's rate-limit message from its
/// other errors, and reading from its words when to try again. A reader that finds one ends its attempt
/// with `AgentOutcome.rateLimited`; the engine does the waiting (`Engine+RateLimits`).
public enum RateLimitText {
    /// Whether `message` says the model API refused for a rate or usage limit, or was overloaded:
    /// HTTP 429 or 529, "rate limit", "too many requests", "usage limit", "overloaded".
    public static func isRateLimit(_ message: String) -> Bool {
        let lowered = message.lowercased()
        let phrases = ["rate limit", "rate_limit", "ratelimit", "too many requests", "usage limit", "usage_limit",
                       "overloaded", "quota exceeded"]
        if phrases.contains(where: lowered.contains) { return true }
        return lowered.firstMatch(of: #/(?:^|\D)(?:429|529)(?:$|\D)/#) != nil
    }

    /// When `message` says to try again, if it does:
    /// - "try again in 1.5s", "in 434ms", "in 6m0s", "in 20 seconds", "retry after 2 minutes" → `now` plus that;
    /// - "try again at 9:20 AM" (Codex's usage limit: the local clock of the day) → the first occurrence of
    ///   that time from an hour before `now` on (so 12:05 AM said at 11:50 PM is tomorrow's, while a time
    ///   just gone — a late read, a clock a little behind — is today's: the step goes at once);
    /// - "try again at Dec 29th, 2025 10:15 PM" (a reset on another day) → that moment.
    /// Nil when it names no time or one that does not parse.
    public static func retryAt(in message: String, now: Date, timeZone: TimeZone = .current) -> Date? {
        let lowered = message.lowercased()
        if let match = lowered.firstMatch(of: #/(?:try again|retry|retrying) (?:in|after) ((?:\d+(?:\.\d+)?\s*(?:ms|milliseconds?|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h)(?![a-z])\s*)+)/#),
           let seconds = duration(String(match.1)) {
            return now.addingTimeInterval(seconds)
        }
        if let match = lowered.firstMatch(of: #/try again at ([a-z]{3}) (\d{1,2})(?:st|nd|rd|th)?,? (\d{4}),? (\d{1,2}):(\d{2})\s*(am|pm)?/#) {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = timeZone
            let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
            guard let month = months.firstIndex(of: String(match.1)), let day = Int(match.2), let year = Int(match.3),
                  let hour = hour24(Int(match.4), match.6.map(String.init)), let minute = Int(match.5), minute < 60 else { return nil }
            return calendar.date(from: DateComponents(year: year, month: month + 1, day: day, hour: hour, minute: minute))
        }
        if let match = lowered.firstMatch(of: #/try again at (\d{1,2}):(\d{2})\s*(am|pm)?/#) {
            guard let hour = hour24(Int(match.1), match.3.map(String.init)), let minute = Int(match.2), minute < 60 else { return nil }
            return next(hour: hour, minute: minute, after: now.addingTimeInterval(-3600), timeZone: timeZone)
        }
        return nil
    }

    /// Seconds in "1.5s", "6m0s", "434ms", "2 minutes 3 seconds"; nil when nothing adds up.
    private static func duration(_ text: String) -> Double? {
        var total = 0.0
        var found = false
        for part in text.matches(of: #/(\d+(?:\.\d+)?)\s*([a-z]+)/#) {
            guard let value = Double(part.1) else { return nil }
            let unit = String(part.2)
            let scale: Double
            switch unit {
            case "ms", "millisecond", "milliseconds": scale = 0.001
            case "s", "sec", "secs", "second", "seconds": scale = 1
            case "m", "min", "mins", "minute", "minutes": scale = 60
            case "h", "hr", "hrs", "hour", "hours": scale = 3600
            default: return nil
            }
            total += value * scale
            found = true
        }
        return found && total.isFinite ? total : nil
    }

    /// The hour on a 24-hour clock; nil when out of range.
    private static func hour24(_ hour: Int?, _ meridiem: String?) -> Int? {
        guard let hour else { return nil }
        switch meridiem {
        case "am"?: return (1...12).contains(hour) ? hour % 12 : nil
        case "pm"?: return (1...12).contains(hour) ? hour % 12 + 12 : nil
        default: return (0...23).contains(hour) ? hour : nil
        }
    }

    /// The first hour:minute (on `timeZone`'s clock) at or after `start`.
    private static func next(hour: Int, minute: Int, after start: Date, timeZone: TimeZone) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let day = calendar.startOfDay(for: start)
        return (0...1).lazy.compactMap { offset -> Date? in
            guard let date = calendar.date(byAdding: .day, value: offset, to: day) else { return nil }
            return calendar.date(bySettingHour: hour, minute: minute, second: 0, of: date)
        }.first { $0 >= start }
    }
}
