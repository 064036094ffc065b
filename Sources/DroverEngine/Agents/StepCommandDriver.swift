import DroverProtocol
import Foundation

/// Runs the `command` of a `command` or `tests` step: a shell string through `/bin/sh -c`, an argv, or
/// `auto` (a tests step's command detected in the run's working directory, named on the first line of
/// its log). Not selectable by roles (it is not in `AgentDrivers.registered`); the step kind chooses it.
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
        case .auto?:
            let detected = try TestCommandDetection.detect(in: attempt.workingDirectory)
            // The log says which command ran and why, before the runner's own output.
            let announce = #"printf 'drover: command "auto" runs `%s` (found %s)\n' "$1" "$2"; shift 2; exec "$@""#
            return attempt.invocation(executable: "/bin/sh",
                                      arguments: ["-c", announce, "sh", detected.display, detected.reason] + detected.argv) {
                PlainOutputReader()
            }
        case nil:
            throw AgentDriverError("step '\(attempt.stepId)' has no command")
        }
    }
}
