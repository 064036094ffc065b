import DroverProtocol
import Foundation

/// `driver: acp`: any program that speaks the Agent Client Protocol as an agent over its stdio (Gemini CLI
/// with `--experimental-acp`, `claude-code-acp`, Goose, …). Drover is its client: `ACPClientReader` holds
/// the conversation, so stdin stays open and carries JSON-RPC only — the prompt goes in `session/prompt`.
///
/// Toward least privilege: the agent's file requests are served inside the run's working directory only,
/// no terminals are offered (an agent that runs commands does so itself, under its own rules), and a
/// permission the agent asks for is granted only for tools the role's `allowedTools` lists; any other is
/// refused, which fails the step unless `allowDenials` is set — or, with `permissionMode: "ask"`, becomes a
/// decision a person answers while the agent waits.
public struct ACPDriver: AgentDriver {
    /// `policy` (the default): `allowedTools` decides every permission request; `ask`: what it does not
    /// allow becomes a decision.
    public static let permissionModes: Set<String> = ["policy", "ask"]

    public init() {}

    public var name: String { "acp" }
    public var settingNames: Set<String> { ["command", "args", "env", "allowedTools", "allowDenials", "prices", "permissionMode"] }

    public func validate(_ settings: [String: JSONValue], field: String) -> [String] {
        var check = AgentSettingsCheck(settings, field: field)
        check.required("command", "the ACP agent to run, e.g. \"gemini\"")
        check.command(program: "ACP agent")
        check.argumentsAndEnvironment()
        check.stringList("allowedTools")
        check.boolean("allowDenials")
        check.oneOf("permissionMode", Self.permissionModes)
        check.prices()
        return check.errors
    }

    public func invocation(for attempt: AttemptContext) throws -> AgentInvocation {
        let settings = AgentSettings(attempt.agent)
        guard let command = settings.string("command") else { throw AgentDriverError("the acp driver needs a command") }
        let (prompt, workingDirectory, model) = (attempt.prompt, attempt.workingDirectory, attempt.agent?.model)
        var block = settings.values
        let allowedForRun = attempt.toolsAllowedForRun.map(JSONValue.string)
        if !allowedForRun.isEmpty { block["allowedTools"] = .array((block["allowedTools"]?.arrayValue ?? []) + allowedForRun) }
        let values = block
        let resume = attempt.resumeSessionId
        var invocation = settings.applyingEnvironment(to: attempt).invocation(
            executable: command, arguments: settings.extraArguments, keepsStdinOpen: true) {
            ACPClientReader(prompt: prompt, workingDirectory: workingDirectory, model: model, settings: values,
                            resumeSessionId: resume)
        }
        invocation.prompt = ""  // stdin carries JSON-RPC only
        return invocation
    }
}
