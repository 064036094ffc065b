/// The run id that `attach`, `retry`, `restart`, `cancel`, `status` and `logs` take first.
enum RunArgument {
    /// The one positional argument, a run id.
    static func runId(_ arguments: ParsedArguments, command: String) throws -> String {
        try runId(arguments, command: command, then: nil).runId
    }

    /// A run id and, when `then` names one ("step id"), an optional second positional argument.
    static func runId(_ arguments: ParsedArguments, command: String, then second: String?) throws -> (runId: String, second: String?) {
        guard let runId = arguments.positionals.first else {
            throw UsageError(description: "'drover \(command)' needs a run id ('drover runs' lists them)")
        }
        let allowed = second == nil ? 1 : 2
        if arguments.positionals.count > allowed {
            let accepted = second.map { "a run id and at most one \($0)" } ?? "one run id"
            throw UsageError(description: "'drover \(command)' takes \(accepted) (got '\(arguments.positionals[allowed])' too)")
        }
        return (runId, arguments.positionals.dropFirst().first)
    }
}
