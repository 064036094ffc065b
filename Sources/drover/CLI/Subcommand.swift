/// A `drover` subcommand: its name, one-line summary, options and entry point.
struct Subcommand: Sendable {
    let name: String
    let usage: String
    let summary: String
    let options: [OptionSpec]
    /// Runs the command; the result is the process exit code.
    let run: @Sendable (ParsedArguments) async throws -> Int32

    /// The `--help` text of this subcommand.
    var help: String {
        var text = "Usage: drover \(usage)\n\n\(summary)\n"
        if !options.isEmpty {
            text += "\nOptions:\n"
            for option in options {
                let left = option.value.map { "\(option.name) \($0)" } ?? option.name
                text += "  " + left.padding(toLength: max(26, left.count + 2), withPad: " ", startingAt: 0) + option.help + "\n"
            }
        }
        return text
    }
}
