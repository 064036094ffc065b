import Foundation
import PostgresTestServer
import Testing

/// An ACP agent for end-to-end tests: Tests/Agents/scripted_acp_agent.py, run by the ACP Python SDK
/// (`pip install agent-client-protocol`), doing what a test's script says.
enum ScriptedACPAgent {
    /// Whether the SDK is importable.
    static let available: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import acp"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    /// Why the tests that need it are skipped when it is missing.
    static let missingReason: Comment = "the ACP Python SDK is not installed: `pip install agent-client-protocol`"

    /// An `acp` role running the agent on `actions` (see scripted_acp_agent.py), written to `folder`.
    /// `record`: a file where the agent writes each answer it receives (`recorded(_:)` reads it);
    /// `finishOnTerm`: the agent outlives SIGTERM by a second, so it still reads what came just before.
    static func role(_ actions: [[String: Any]], in folder: URL, extra: [String: Any] = [:], record: String? = nil,
                     finishOnTerm: Bool = false) throws -> [String: Any] {
        let script = folder.appendingPathComponent("acp-script-\(UUID().uuidString.prefix(8)).json")
        try JSONSerialization.data(withJSONObject: actions, options: [.withoutEscapingSlashes]).writeUnsynced(to: script)
        let agent = PackageRoot.agentsFolder.appendingPathComponent("scripted_acp_agent.py").path
        var arguments = [agent, "--script", script.path]
        if let record { arguments += ["--record", record] }
        if finishOnTerm { arguments.append("--finish-on-term") }
        var role: [String: Any] = ["driver": "acp", "command": "python3", "args": arguments]
        role.merge(extra) { _, new in new }
        return role
    }

    /// What the agent recorded with `record`: one object per answer or cancel, in arrival order.
    static func recorded(_ path: String) throws -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map { line in
            try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
        }
    }
}

/// `claude-code-acp` (PyPI 0.5.1), an ACP agent Drover's authors did not write: Claude Code through the
/// Claude Agent SDK, which runs offline against the scripted Messages API server (fake_anthropic.py).
/// It pins `agent-client-protocol==0.10.1`, so it lives in a virtual environment of its own
/// (.ci/run makes one in .build/agents/claude-code-acp).
enum ClaudeCodeACP {
    /// `DROVER_CLAUDE_ACP_BIN` when set (Tests/run-all.sh sets it), else `claude-code-acp` on PATH.
    static let path: String? = {
        if let path = ProcessInfo.processInfo.environment["DROVER_CLAUDE_ACP_BIN"] {
            return FileManager.default.isExecutableFile(atPath: path) ? path : nil
        }
        let folders = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        return folders.map { "\($0)/claude-code-acp" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    static let missingReason: Comment = "claude-code-acp is not installed (see .ci/run; or set DROVER_CLAUDE_ACP_BIN)"
}
