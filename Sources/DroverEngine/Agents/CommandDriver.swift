import DroverProtocol
import Foundation

/// `driver: command`: any program that reads its prompt on stdin and speaks the agent line protocol
/// (or just prints its answer) on stdout. `command` is a path or a name on PATH; `args` its arguments.
public struct CommandDriver: AgentDriver {
    public init() {}

    public var name: String { "command" }
    public var settingNames: Set<String> { ["command", "args"] }

    public func validate(_ settings: [String: JSONValue], field: String) -> [String] {
        var errors: [String] = []
        switch settings["command"] {
        case nil:
            errors.append("field '\(field).command' is required for the command driver")
        case let value?:
            if (value.stringValue ?? "").isEmpty { errors.append("field '\(field).command' must be a non-empty string") }
        }
        if let value = settings["args"], !(value.arrayValue?.allSatisfy { $0.stringValue != nil } ?? false) {
            errors.append("field '\(field).args' must be an array of strings")
        }
        return errors
    }

    public func invocation(for attempt: AttemptContext) throws -> AgentInvocation {
        let settings = attempt.agent?.settings ?? [:]
        let command = settings["command"]?.stringValue ?? ""
        let arguments = settings["args"]?.arrayValue?.compactMap(\.stringValue) ?? []
        // The launcher resolves the program (PATH, or relative to the working directory) and turns a
        // missing one into a failed attempt whose log says why.
        return attempt.invocation(executable: command, arguments: arguments) { LineProtocolReader() }
    }
}
