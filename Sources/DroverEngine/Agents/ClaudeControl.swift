import DroverProtocol
import Synchronization

/// The messages drover writes to Claude Code's stdin (`--input-format stream-json
/// --permission-prompt-tool stdio`, every claude step), shaped as the Claude Agent SDK writes them: the
/// prompt as a `user` message, and a `control_response` to each `control_request` the CLI sends
/// (`can_use_tool`: may it run this tool? — its rules already allowed what it does not ask about).
enum ClaudeControl {
    /// The step's prompt as the one `user` message of the session.
    static func userMessage(_ prompt: String) -> String {
        line(["type": .string("user"), "parent_tool_use_id": .null, "session_id": .string(""),
              "message": .object(["role": .string("user"), "content": .string(prompt)])])
    }

    /// The answer to the `can_use_tool` request `requestId` about `tool` called with `input`.
    static func permissionResponse(requestId: String, tool: String, input: JSONValue, answer: PermissionAnswer) -> String {
        var response: [String: JSONValue]
        switch answer {
        case .allowOnce:
            response = ["behavior": .string("allow"), "updatedInput": input]
        case .allowForRun:
            // A session rule, so the CLI stops asking about this tool; later attempts get it in --allowedTools.
            response = ["behavior": .string("allow"), "updatedInput": input, "updatedPermissions": .array([.object([
                "type": .string("addRules"), "rules": .array([.object(["toolName": .string(tool)])]),
                "behavior": .string("allow"), "destination": .string("session"),
            ])])]
        case .deny(let reason):
            response = ["behavior": .string("deny"),
                        "message": .string(reason.map { "Denied by the user: \($0)" } ?? "The user denied this tool use.")]
        }
        return success(requestId: requestId, response)
    }

    /// The answer to an `AskUserQuestion` call: allowed, with the person's `answers` (question text →
    /// label) added to its input, as the Claude Agent SDK answers it; or denied when nobody will answer.
    static func questionsResponse(requestId: String, input: JSONValue, answer: ClaudeQuestions.QuestionsAnswer) -> String {
        let response: [String: JSONValue]
        switch answer {
        case .answered(let answers):
            var updated = input.objectValue ?? [:]
            updated["answers"] = .object(answers.mapValues(JSONValue.string))
            response = ["behavior": .string("allow"), "updatedInput": .object(updated)]
        case .withdrawn(let reason):
            response = ["behavior": .string("deny"), "message": .string("Nobody answered: \(reason).")]
        }
        return success(requestId: requestId, response)
    }

    /// The answer to a tool use the role's permission mode does not allow, outside `ask` mode: denied, as
    /// the CLI itself would have (it lists the denial in its result).
    static func policyDenial(requestId: String, tool: String, mode: String) -> String {
        success(requestId: requestId, ["behavior": .string("deny"), "message": .string(
            "\(tool) is not allowed by this role's permissions (permission mode \(mode)); it needs the role's allowedTools.")])
    }

    private static func success(requestId: String, _ response: [String: JSONValue]) -> String {
        line(["type": .string("control_response"), "response": .object([
            "subtype": .string("success"), "request_id": .string(requestId), "response": .object(response)])])
    }

    /// The answer to a control request drover does not serve (hooks, SDK MCP servers).
    static func errorResponse(requestId: String, message: String) -> String {
        line(["type": .string("control_response"), "response": .object([
            "subtype": .string("error"), "request_id": .string(requestId), "error": .string(message)])])
    }

    private static func line(_ message: [String: JSONValue]) -> String {
        var bytes: [UInt8] = []
        JSONWriter.append(.object(message), to: &bytes)
        bytes.append(UInt8(ascii: "\n"))
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The tool uses a person denied through drover (thread-safe: a reply records them, the reader reads
/// them): denials a person made are answers, not failures of the step.
final class PersonDenials: Sendable {
    private let ids = Mutex<Set<String>>([])

    func insert(_ toolUseId: String) { _ = ids.withLock { $0.insert(toolUseId) } }
    func contains(_ toolUseId: String) -> Bool { ids.withLock { $0.contains(toolUseId) } }
}
