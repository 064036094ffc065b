/// A `drover` subcommand: its name, one-line summary, options and entry point.
struct Subcommand: Sendable {
    let name: String
    let usage: String
    let summary: String
    let options: [OptionSpec]
    let entry: Entry

    /// How a subcommand runs.
    enum Entry: Sendable {
        /// Runs in the async main; the result is the process exit code.
        case async(@Sendable (ParsedArguments) async throws -> Int32)
        /// Takes over the main thread and never returns (`serve` reads stdin there); called
        /// without an executor hop, because editors wait on its start-up.
        case ownsMainThread(@Sendable (ParsedArguments) throws -> Never)
    }

    init(name: String, usage: String, summary: String, options: [OptionSpec],
         run: @escaping @Sendable (ParsedArguments) async throws -> Int32) {
        self.init(name: name, usage: usage, summary: summary, options: options, entry: .async(run))
    }

    init(name: String, usage: String, summary: String, options: [OptionSpec],
         ownsMainThread: @escaping @Sendable (ParsedArguments) throws -> Never) {
        self.init(name: name, usage: usage, summary: summary, options: options, entry: .ownsMainThread(ownsMainThread))
    }

    private init(name: String, usage: String, summary: String, options: [OptionSpec], entry: Entry) {
        self.name = name
        self.usage = usage
        self.summary = summary
        self.options = options
        self.entry = entry
    }

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
