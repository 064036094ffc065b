import Foundation
import Testing

/// The real Claude Code CLI (bundled in the `claude-agent-sdk` wheel) and a scripted Messages API server
/// for it (Tests/Agents/fake_anthropic.py), so end-to-end tests run a real `claude` offline.
enum ClaudeCLI {
    /// The CLI's path: `DROVER_CLAUDE_BIN` when set, else the binary bundled in the `claude-agent-sdk`
    /// Python package (Tests/Agents/locate_claude.py), if installed; nil when there is none.
    static let path: String? = locateAgentCLI(variable: "DROVER_CLAUDE_BIN", locator: "locate_claude.py")

    /// Why the tests that need the CLI are skipped when it is missing.
    static let missingReason: Comment = "the Claude Code CLI is not installed: `pip install claude-agent-sdk` (or set DROVER_CLAUDE_BIN)"
}

extension ScriptedModelServer {
    /// The `env` of a claude role that talks to this server, offline, with a scratch HOME.
    var environment: [String: String] {
        ["ANTHROPIC_BASE_URL": "http://127.0.0.1:\(port)", "ANTHROPIC_API_KEY": "test",
         "HOME": scratch.appendingPathComponent("home").path, "TMPDIR": scratch.appendingPathComponent("tmp").path,
         "DISABLE_TELEMETRY": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1",
         "DISABLE_ERROR_REPORTING": "1"]
    }
}
