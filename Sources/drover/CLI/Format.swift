import DroverEngine
import DroverProtocol
import Foundation

/// Small text helpers shared by the commands: durations, ages, timestamps, tables, indentation.
enum Format {
    /// `0.4s`, `12s`, `3m05s`, `2h04m`.
    static func duration(_ seconds: Double) -> String {
        let seconds = max(0, seconds)
        if seconds < 10 { return String(format: "%.1fs", seconds) }
        let whole = Int(seconds.rounded())
        if whole < 60 { return "\(whole)s" }
        if whole < 3600 { return String(format: "%dm%02ds", whole / 60, whole % 60) }
        return String(format: "%dh%02dm", whole / 3600, (whole % 3600) / 60)
    }

    /// How long ago `date` was: `5s ago`, `3m ago`, `2h ago`, `4d ago`.
    static func age(since date: Date, now: Date = Date()) -> String {
        let seconds = max(0, Int(now.timeIntervalSince(date)))
        if seconds < 60 { return "\(seconds)s ago" }
        if seconds < 3600 { return "\(seconds / 60)m ago" }
        if seconds < 86_400 { return "\(seconds / 3600)h ago" }
        return "\(seconds / 86_400)d ago"
    }

    /// A moment as the local wall clock reads it: `14:05:09`.
    static func clock(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss"
        return formatter.string(from: date)
    }

    /// Why a queued run waits for a rate limit, and until when: `rate limited, retrying at 14:05:09`.
    static func rateLimitWait(retryAt: String?) -> String {
        "rate limited, retrying " + (date(retryAt).map { "at " + clock($0) } ?? "soon")
    }

    /// Parses an event timestamp (`2025-01-31T12:00:00.123Z`).
    static func date(_ timestamp: String?) -> Date? {
        Timestamp.date(timestamp)
    }

    /// `1 attempt`, `2 attempts`.
    static func count(_ number: Int, _ noun: String) -> String { "\(number) \(noun)\(number == 1 ? "" : "s")" }

    /// Token usage as one phrase: `1,600 in (1,200 cached) / 620 out tokens` (plus cost when known).
    static func usage(input: Int, output: Int, cached: Int = 0, costUSD: Double) -> String {
        var text = "\(grouped(input)) in" + (cached > 0 ? " (\(grouped(cached)) cached)" : "") + " / \(grouped(output)) out tokens"
        if costUSD > 0 { text += ", " + cost(costUSD) }
        return text
    }

    /// A run's or an event's usage as one phrase.
    static func usage(_ usage: Usage) -> String {
        Self.usage(input: usage.inputTokens, output: usage.outputTokens, cached: usage.cacheReadTokens + usage.cacheWriteTokens,
                   costUSD: usage.costUSD)
    }

    /// `$0.0123`.
    static func cost(_ usd: Double) -> String { String(format: "$%.4f", usd) }

    static func grouped(_ number: Int) -> String {
        let digits = String(number.magnitude)
        var result = ""
        for (index, character) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { result += "," }
            result.append(character)
        }
        return (number < 0 ? "-" : "") + result
    }

    /// Every line of `text` prefixed with `prefix`; a trailing newline does not make an empty line.
    static func indent(_ text: String, _ prefix: String) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.count > 1, lines.last == "" { lines.removeLast() }
        return lines.map { prefix + $0 }.joined(separator: "\n")
    }

    /// Columns padded to the widest cell; `visibleWidth` ignores colour codes.
    static func table(_ rows: [[String]]) -> String {
        guard let columns = rows.map(\.count).max() else { return "" }
        var widths = Array(repeating: 0, count: columns)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], visibleWidth(cell)) }
        }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - visibleWidth(cell) + 2)
            }.joined()
        }.joined(separator: "\n")
    }

    /// The width of `text` on screen: characters outside ANSI escape sequences.
    static func visibleWidth(_ text: String) -> Int {
        var width = 0
        var inEscape = false
        for scalar in text.unicodeScalars {
            if inEscape {
                if scalar == "m" { inEscape = false }
            } else if scalar == "\u{1B}" {
                inEscape = true
            } else {
                width += 1
            }
        }
        return width
    }

    /// The first line of `text`, shortened to `limit` characters.
    static func firstLine(_ text: String, limit: Int = 60) -> String {
        let line = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: true).first.map(String.init) ?? ""
        return line.count > limit ? String(line.prefix(limit - 1)) + "…" : line
    }
}
