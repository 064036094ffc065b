import DroverProtocol

/// A line of an agent's JSONL stream (Claude Code's stream-json, Codex's `--json`, an ACP agent's
/// JSON-RPC): its object, or nil for anything else (text, a truncated line, an array), which readers show
/// as it is rather than fail on.
enum JSONLine {
    static func object(_ line: String) -> [String: JSONValue]? {
        guard line.utf8.first == UInt8(ascii: "{") else { return nil }
        return (try? JSONParser().parse(Array(line.utf8)))?.objectValue
    }
}
