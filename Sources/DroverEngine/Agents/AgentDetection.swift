import DroverProtocol
import Foundation

/// An agent CLI drover can drive with no configuration, found on PATH: what a built-in pipeline's roles
/// run when no config names an agent for them, and what `drover init` writes a config for.
public struct DetectedAgent: Sendable, Hashable {
    /// The driver that runs it (`claude`, `codex`).
    public var driver: String
    /// Where it was found.
    public var path: String

    /// The drivers tried, in order of preference, with the program each runs.
    public static let candidates: [(driver: String, program: String)] = [
        ("claude", ClaudeDriver.defaultCommand), ("codex", CodexDriver.defaultCommand),
    ]

    public init(driver: String, path: String) {
        self.driver = driver
        self.path = path
    }

    /// Every candidate installed on the PATH of `environment`, most preferred first.
    public static func onPath(environment: [String: String]) -> [DetectedAgent] {
        candidates.compactMap { candidate in
            ExecutableSearch.find(candidate.program, searchPath: environment["PATH"]).map { DetectedAgent(driver: candidate.driver, path: $0) }
        }
    }

    /// The agent block a role gets: the driver's defaults, run from the path where it was found.
    public var spec: AgentSpec { AgentSpec(driver: driver, settings: ["command": .string(path)]) }
}

/// Whether an agent CLI looks logged in, by a cheap local look (never a model call): the API key
/// variables it reads, then the credential files it writes. Says which was found, never a secret.
public enum AgentLogin {
    /// The finding for `driver` run with `environment`; nil for drivers this cannot judge.
    public static func check(driver: String, environment: [String: String]) -> (loggedIn: Bool, how: String)? {
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        let keys: [String]
        let files: [String]
        let advice: String
        switch driver {
        case "claude":
            keys = ["ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN"]
            let folder = environment["CLAUDE_CONFIG_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.claude"
            files = [folder + "/.credentials.json", home + "/.claude.json"]
            advice = "run `claude` once and log in (/login), or set ANTHROPIC_API_KEY"
        case "codex":
            keys = ["OPENAI_API_KEY", "CODEX_API_KEY"]
            let folder = environment["CODEX_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.codex"
            files = [folder + "/auth.json"]
            advice = "run `codex login`, or set OPENAI_API_KEY"
        default:
            return nil
        }
        if let key = keys.first(where: { !(environment[$0] ?? "").isEmpty }) { return (true, "\(key) is set") }
        if let file = files.first(where: { FileManager.default.fileExists(atPath: $0) }) { return (true, "\(file) found") }
        return (false, "no API key variable and no credentials found: \(advice)")
    }
}
