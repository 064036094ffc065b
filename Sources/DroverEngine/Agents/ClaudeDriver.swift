import DroverProtocol
import Foundation

/// `driver: claude`: Claude Code run headless (`claude -p --output-format stream-json --verbose`) on the
/// step's prompt (given on stdin), in the run's working directory; its stream is read by `ClaudeStreamReader`.
///
/// Toward least privilege: the permission mode defaults to `acceptEdits` (file edits in the working
/// directory, no shell command the role has not allowed), `bypassPermissions` must be asked for by name,
/// and `git push` is always disallowed: drover's agents never publish anything.
public struct ClaudeDriver: AgentDriver {
    /// The program run when the block has no `command`.
    public static let defaultCommand = "claude"
    /// The permission mode when the block names none.
    public static let defaultPermissionMode = "acceptEdits"
    /// The modes the CLI accepts for `--permission-mode`.
    public static let permissionModes: Set<String> = ["default", "acceptEdits", "auto", "bypassPermissions", "dontAsk", "manual", "plan"]
    /// Tools denied whatever the role says: pushing is a person's decision, never an agent's.
    public static let alwaysDisallowedTools = ["Bash(git push:*)"]

    public init() {}

    public var name: String { "claude" }
    public var settingNames: Set<String> {
        ["command", "args", "permissionMode", "allowedTools", "disallowedTools", "maxTurns", "maxBudgetUSD",
         "appendSystemPrompt", "env", "allowDenials"]
    }

    public func validate(_ settings: [String: JSONValue], field: String) -> [String] {
        var errors: [String] = []
        func isNonEmptyString(_ value: JSONValue) -> Bool { !(value.stringValue ?? "").isEmpty }
        if let value = settings["command"], !isNonEmptyString(value) {
            errors.append("field '\(field).command' must be a non-empty string (the path of the claude program)")
        }
        if let value = settings["permissionMode"] {
            let modes = Self.permissionModes.sorted().joined(separator: ", ")
            if !(value.stringValue.map(Self.permissionModes.contains) ?? false) {
                errors.append("field '\(field).permissionMode' must be one of \(modes)")
            }
        }
        for key in ["args", "allowedTools", "disallowedTools"] {
            if let value = settings[key], !(value.arrayValue?.allSatisfy(isNonEmptyString) ?? false) {
                errors.append("field '\(field).\(key)' must be an array of non-empty strings")
            }
        }
        if let value = settings["maxTurns"], Self.positiveInteger(value) == nil {
            errors.append("field '\(field).maxTurns' must be a positive integer")
        }
        if let value = settings["maxBudgetUSD"], Self.positiveNumber(value) == nil {
            errors.append("field '\(field).maxBudgetUSD' must be a positive number (US dollars)")
        }
        if let value = settings["appendSystemPrompt"], value.stringValue == nil {
            errors.append("field '\(field).appendSystemPrompt' must be a string")
        }
        if let value = settings["env"], !(value.objectValue?.values.allSatisfy { $0.stringValue != nil } ?? false) {
            errors.append("field '\(field).env' must be an object of strings")
        }
        if let value = settings["allowDenials"], value != .bool(true), value != .bool(false) {
            errors.append("field '\(field).allowDenials' must be true or false")
        }
        return errors
    }

    public func invocation(for attempt: AttemptContext) throws -> AgentInvocation {
        let settings = attempt.agent?.settings ?? [:]
        func strings(_ key: String) -> [String] { settings[key]?.arrayValue?.compactMap(\.stringValue) ?? [] }

        var arguments = ["-p", "--output-format", "stream-json", "--verbose",
                         "--permission-mode", settings["permissionMode"]?.stringValue ?? Self.defaultPermissionMode]
        if let model = attempt.agent?.model { arguments += ["--model", model] }
        // Each list flag takes several values; the next flag ends the list, and nothing positional follows
        // (the prompt is on stdin), so no value can be mistaken for a prompt.
        let allowed = strings("allowedTools")
        if !allowed.isEmpty { arguments += ["--allowedTools"] + allowed }
        arguments += ["--disallowedTools"] + Self.alwaysDisallowedTools + strings("disallowedTools")
        if let turns = settings["maxTurns"].flatMap(Self.positiveInteger) { arguments += ["--max-turns", String(turns)] }
        if let budget = settings["maxBudgetUSD"].flatMap(Self.positiveNumber) {
            arguments += ["--max-budget-usd", String(budget)]
        }
        if let text = settings["appendSystemPrompt"]?.stringValue { arguments += ["--append-system-prompt", text] }
        if let session = attempt.resumeSessionId { arguments += ["--resume", session] }
        arguments += strings("args")

        var context = attempt
        for (key, value) in settings["env"]?.objectValue ?? [:] {
            if let text = value.stringValue { context.environment[key] = text }
        }
        let workingDirectory = attempt.workingDirectory
        let allowsDenials = settings["allowDenials"] == .bool(true)
        return context.invocation(executable: settings["command"]?.stringValue ?? Self.defaultCommand,
                                  arguments: arguments) {
            ClaudeStreamReader(workingDirectory: workingDirectory, allowsDenials: allowsDenials)
        }
    }

    private static func positiveNumber(_ value: JSONValue) -> Double? {
        switch value {
        case .int(let number) where number > 0: Double(number)
        case .double(let number) where number > 0 && number.isFinite: number
        default: nil
        }
    }

    private static func positiveInteger(_ value: JSONValue) -> Int? {
        if case .int(let number) = value, number > 0 { return number }
        return nil
    }
}
