import DroverProtocol
import Foundation

/// One readable line for a Claude Code tool call ("Edit Sources/x.swift", "Bash: swift test"), for the
/// run's log: what a person watching a run wants to know at a glance, not the call's full JSON.
enum ClaudeToolSummary {
    static func describe(name: String, input: JSONValue, workingDirectory: String) -> String {
        func field(_ key: String) -> String? { input[key]?.stringValue }
        switch name {
        case "Write", "Edit", "MultiEdit", "Read", "NotebookEdit":
            let path = field("file_path") ?? field("notebook_path")
            return path.map { "\(name) \(ToolLineText.relative($0, to: workingDirectory))" } ?? name
        case "Bash":
            return "Bash: " + ToolLineText.firstLine(field("command") ?? "")
        case "Glob", "Grep":
            return field("pattern").map { "\(name) \(ToolLineText.firstLine($0))" } ?? name
        case "WebFetch":
            return field("url").map { "WebFetch \($0)" } ?? name
        case "WebSearch":
            return field("query").map { "WebSearch \(ToolLineText.firstLine($0))" } ?? name
        case "Task", "Agent":
            return field("description").map { "\(name): \(ToolLineText.firstLine($0))" } ?? name
        default:
            guard case .object(let fields) = input, !fields.isEmpty else { return name }
            return "\(name) " + ToolLineText.firstLine(String(decoding: JSONValueEncoder.encodeBytes(input), as: UTF8.self))
        }
    }

    /// The text of a tool result's `content`: a string, or a list of text blocks.
    static func text(of content: JSONValue) -> String {
        if let text = content.stringValue { return text }
        return (content.arrayValue ?? []).compactMap { $0["text"]?.stringValue }.joined(separator: "\n")
    }
}
