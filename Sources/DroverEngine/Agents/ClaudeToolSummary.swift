import DroverProtocol
import Foundation

/// One readable line for a Claude Code tool call ("Edit Sources/x.swift", "Bash: swift test"), for the
/// run's log: what a person watching a run wants to know at a glance, not the call's full JSON.
enum ClaudeToolSummary {
    /// Longest a summary's argument gets before it is cut with "…".
    static let argumentLimit = 200

    static func describe(name: String, input: JSONValue, workingDirectory: String) -> String {
        func field(_ key: String) -> String? { input[key]?.stringValue }
        switch name {
        case "Write", "Edit", "MultiEdit", "Read", "NotebookEdit":
            let path = field("file_path") ?? field("notebook_path")
            return path.map { "\(name) \(relative($0, to: workingDirectory))" } ?? name
        case "Bash":
            return "Bash: " + firstLine(field("command") ?? "", limit: argumentLimit)
        case "Glob", "Grep":
            return field("pattern").map { "\(name) \(firstLine($0, limit: argumentLimit))" } ?? name
        case "WebFetch":
            return field("url").map { "WebFetch \($0)" } ?? name
        case "WebSearch":
            return field("query").map { "WebSearch \(firstLine($0, limit: argumentLimit))" } ?? name
        case "Task", "Agent":
            return field("description").map { "\(name): \(firstLine($0, limit: argumentLimit))" } ?? name
        default:
            guard case .object(let fields) = input, !fields.isEmpty,
                  let data = try? JSONValueEncoder.encodeBytes(input) else { return name }
            return "\(name) " + firstLine(String(decoding: data, as: UTF8.self), limit: argumentLimit)
        }
    }

    /// The text of a tool result's `content`: a string, or a list of text blocks.
    static func text(of content: JSONValue) -> String {
        if let text = content.stringValue { return text }
        return (content.arrayValue ?? []).compactMap { $0["text"]?.stringValue }.joined(separator: "\n")
    }

    /// The first non-empty line of `text`, cut at `limit` characters; "…" marks anything left out.
    static func firstLine(_ text: String, limit: Int) -> String {
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
