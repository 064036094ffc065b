import Foundation

/// The text helpers of every driver's tool lines ("Write hello.txt", "$ swift test → exit 1"): a log line
/// says what a person wants to know at a glance, so arguments are cut to one line and paths are shown
/// relative to the working directory.
enum ToolLineText {
    /// Longest a tool line's argument gets before it is cut with "…".
    static let argumentLimit = 200

    /// The first non-empty line of `text`, cut at `limit` characters; "…" marks anything left out.
    static func firstLine(_ text: String, limit: Int = argumentLimit) -> String {
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard let first = lines.first else { return "" }
        if first.count > limit { return String(first.prefix(limit)) + "…" }
        return lines.count > 1 ? first + " …" : first
    }

    /// `path` relative to `directory` when it lies inside it; otherwise unchanged.
    static func relative(_ path: String, to directory: String) -> String {
        let base = directory.hasSuffix("/") ? directory : directory + "/"
        return path.hasPrefix(base) ? String(path.dropFirst(base.count)) : path
    }
}
