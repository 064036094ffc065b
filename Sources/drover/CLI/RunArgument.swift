/// The one run id that `attach`, `retry`, `restart` and `cancel` take.
enum RunArgument {
    static func runId(_ arguments: ParsedArguments, command: String) throws -> String {
        guard let runId = arguments.positionals.first else {
            throw UsageError(description: "'drover \(command)' needs a run id ('drover runs' lists them)")
        }
        if arguments.positionals.count > 1 {
            throw UsageError(description: "'drover \(command)' takes one run id (got '\(arguments.positionals[1])' too)")
        }
        return runId
    }
}
