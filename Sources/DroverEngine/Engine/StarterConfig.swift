import DroverProtocol

/// The config `drover init` writes: every role of the workspace's pipelines runs the agent CLI it found,
/// with least-privilege defaults, and what each option means (JSON has no comments: it is printed beside).
public struct StarterConfig: Sendable {
    public var agent: DetectedAgent
    public var roles: [String]

    public init(agent: DetectedAgent, roles: [String]) {
        self.agent = agent
        self.roles = roles
    }

    /// Each role's block: the driver's safe defaults, the program found on PATH by its name.
    public var block: [(key: String, value: JSONValue)] {
        switch agent.driver {
        case "claude": [("driver", .string("claude")), ("permissionMode", .string(ClaudeDriver.defaultPermissionMode))]
        case "codex": [("driver", .string("codex")), ("sandbox", .string(CodexDriver.defaultSandbox))]
        default: [("driver", .string(agent.driver))]
        }
    }

    /// The file's text: one line per role, so it reads (and diffs) well.
    public var text: String {
        let fields = block.map { key, value in "\"\(key)\": \(Self.json(value))" }.joined(separator: ", ")
        let lines = roles.map { "    \(Self.json(.string($0))): {\(fields)}" }
        return "{\n  \"agents\": {\n" + lines.joined(separator: ",\n") + "\n  }\n}\n"
    }

    /// What the written options do, and the others a role may set.
    public var explanation: [String] {
        switch agent.driver {
        case "claude":
            return [
                "driver: \"claude\" runs Claude Code headless (the `claude` on PATH; set \"command\" to use another).",
                "permissionMode: \"acceptEdits\" lets it edit files in the run's own worktree; a shell command needs the role's "
                    + "allowedTools (e.g. [\"Bash(swift test:*)\"]), and \"ask\" makes every other tool a decision in the inbox.",
                "Also: model, allowedTools, disallowedTools, maxTurns, maxBudgetUSD, appendSystemPrompt, env, args (README: Using Claude Code).",
            ]
        case "codex":
            return [
                "driver: \"codex\" runs the Codex CLI headless (the `codex` on PATH; set \"command\" to use another).",
                "sandbox: \"workspace-write\" lets it change files in the run's worktree only; \"read-only\" suits roles that only read.",
                "Also: model, env, args, prices (README: Using Codex).",
            ]
        default:
            return []
        }
    }

    private static func json(_ value: JSONValue) -> String {
        var bytes: [UInt8] = []
        JSONWriter.append(value, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}
