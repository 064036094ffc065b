import DroverProtocol
import Foundation

/// Runs the `command` of a `command` or `tests` step: a shell string through `/bin/sh -c`, or an argv.
/// Not selectable by roles (it is not in `AgentDrivers.registered`); the step kind chooses it.
struct StepCommandDriver: AgentDriver {
    var name: String { "step-command" }
    var settingNames: Set<String> { [] }

    func validate(_ settings: [String: JSONValue], field: String) -> [String] { [] }

    func invocation(for attempt: AttemptContext) throws -> AgentInvocation {
        switch attempt.command {
        case .shell(let text)?:
            return attempt.invocation(executable: "/bin/sh", arguments: ["-c", text]) { PlainOutputReader() }
        case .argv(let argv)?:
            return attempt.invocation(executable: argv[0], arguments: Array(argv.dropFirst())) { PlainOutputReader() }
        case nil:
            throw AgentDriverError("step '\(attempt.stepId)' has no command")
        }
    }
}
