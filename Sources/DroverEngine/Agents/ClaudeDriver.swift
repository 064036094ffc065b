import DroverProtocol
import Foundation

/// `driver: claude`: Claude Code run headless (`claude -p --output-format stream-json --verbose`) on the
/// step's prompt (a stream-json message on stdin, which stays open as the control channel: Claude's questions
/// and, in `ask` mode, its permission requests come back as decisions), in the run's working directory; its
/// stream is read by `ClaudeStreamReader`.
///
/// Toward least privilege: the permission mode defaults to `acceptEdits` (file edits in the working
/// directory, no shell command the role has not allowed), `bypassPermissions` must be asked for by name,
/// and `git push` is always disallowed: drover's agents never publish anything.
public struct ClaudeDriver: AgentDriver {
    /// The program run when the block has no `command`.
    public static let defaultCommand = "claude"
    /// The permission mode when the block names none.
    public static let defaultPermissionMode = "acceptEdits"
    /// The modes the CLI accepts for `--permission-mode`, and `ask`: every tool the rules do not allow
    /// becomes a drover decision the agent waits on (`--permission-prompt-tool stdio`).
    public static let permissionModes: Set<String> = ["default", "acceptEdits", "auto", "bypassPermissions", "dontAsk", "manual", "plan", "ask"]
    /// Tools denied whatever the role says: pushing is a person's decision, never an agent's.
    public static let alwaysDisallowedTools = ["Bash(git push:*)"]

    public init() {}

    public var name: String { "claude" }
    public var settingNames: Set<String> {
        ["command", "args", "permissionMode", "allowedTools", "disallowedTools", "maxTurns", "maxBudgetUSD",
         "appendSystemPrompt", "env", "allowDenials", "prices"]
    }

    public func validate(_ settings: [String: JSONValue], field: String) -> [String] {
        var check = AgentSettingsCheck(settings, field: field)
        check.command(program: "claude")
        check.oneOf("permissionMode", Self.permissionModes)
        check.argumentsAndEnvironment()
        check.stringList("allowedTools")
        check.stringList("disallowedTools")
        check.positiveInteger("maxTurns")
        check.positiveNumber("maxBudgetUSD", unit: "US dollars")
        check.string("appendSystemPrompt")
        check.boolean("allowDenials")
        check.prices()
        return check.errors
    }

    public func invocation(for attempt: AttemptContext) throws -> AgentInvocation {
        let settings = AgentSettings(attempt.agent)
        let mode = settings.string("permissionMode") ?? Self.defaultPermissionMode
        let asks = mode == "ask"
        // Every step keeps the control channel (stdin open, the prompt as a stream-json message): Claude's own
        // questions (AskUserQuestion) then always reach a person, while other tools follow the mode's rules.
        var arguments = ["-p", "--output-format", "stream-json", "--verbose", "--input-format", "stream-json",
                         "--permission-prompt-tool", "stdio", "--permission-mode", asks ? "default" : mode]
        if let model = attempt.agent?.model { arguments += ["--model", model] }
        // Each list flag takes several values; the next flag ends the list, and nothing positional follows
        // (the prompt is on stdin), so no value can be mistaken for a prompt.
        let allowed = settings.strings("allowedTools") + attempt.toolsAllowedForRun.filter { !settings.strings("allowedTools").contains($0) }
        if !allowed.isEmpty { arguments += ["--allowedTools"] + allowed }
        arguments += ["--disallowedTools"] + Self.alwaysDisallowedTools + settings.strings("disallowedTools")
        if let turns = settings.values["maxTurns"]?.positiveInteger { arguments += ["--max-turns", String(turns)] }
        // The tighter of the role's own limit and what is left of the run's budget.
        let budgets = [settings.values["maxBudgetUSD"]?.positiveNumber, attempt.remainingBudgetUSD].compactMap { $0 }
        if let budget = budgets.min() { arguments += ["--max-budget-usd", String(budget)] }
        if let text = settings.string("appendSystemPrompt") { arguments += ["--append-system-prompt", text] }
        if let session = attempt.resumeSessionId { arguments += ["--resume", session] }
        arguments += settings.extraArguments

        let workingDirectory = attempt.workingDirectory
        let allowsDenials = settings.flag("allowDenials")
        var invocation = settings.applyingEnvironment(to: attempt).invocation(
            executable: settings.command(default: Self.defaultCommand), arguments: arguments, keepsStdinOpen: true) {
            ClaudeStreamReader(workingDirectory: workingDirectory, allowsDenials: allowsDenials, permissionMode: mode)
        }
        invocation.prompt = ClaudeControl.userMessage(attempt.prompt)
        return invocation
    }
}
