/// One option a subcommand accepts.
struct OptionSpec: Sendable {
    /// The long name including dashes, e.g. `--framing`.
    let name: String
    /// The placeholder for its value, or nil for a flag.
    let value: String?
    let help: String
}

/// A parsed command line of one subcommand.
struct ParsedArguments {
    /// The last value given for each option.
    var values: [String: String] = [:]
    /// Every value given for each option, in order (for options that may repeat, like `--input`).
    var allValues: [String: [String]] = [:]
    var flags: Set<String> = []
    var positionals: [String] = []

    func value(_ name: String) -> String? { values[name] }
    func values(_ name: String) -> [String] { allValues[name] ?? [] }
    func has(_ name: String) -> Bool { flags.contains(name) }

    /// Throws the usage error of a subcommand that takes options only, naming the first stray argument.
    func refusePositionals(command: String, hint: String = "") throws {
        if let extra = positionals.first {
            throw UsageError(description: "'drover \(command)' takes no arguments (got '\(extra)')\(hint)")
        }
    }
}

/// A mistake on the command line, reported as one line and exit code 2.
struct UsageError: Error, CustomStringConvertible {
    let description: String
}

/// Parses `arguments` against `options`: `--name value`, `--name=value`, flags, positionals, `--` ends options.
func parseArguments(_ arguments: [String], options: [OptionSpec], command: String) throws -> ParsedArguments {
    var parsed = ParsedArguments()
    var index = 0
    var optionsEnded = false
    while index < arguments.count {
        let argument = arguments[index]
        index += 1
        if optionsEnded || !argument.hasPrefix("-") || argument == "-" {
            parsed.positionals.append(argument)
            continue
        }
        if argument == "--" {
            optionsEnded = true
            continue
        }
        var name = argument
        var inlineValue: String?
        if let equals = argument.firstIndex(of: "=") {
            name = String(argument[..<equals])
            inlineValue = String(argument[argument.index(after: equals)...])
        }
        guard let spec = options.first(where: { $0.name == name }) else {
            let known = options.map(\.name).joined(separator: ", ")
            throw UsageError(description: "unknown option '\(name)' for 'drover \(command)'" + (known.isEmpty ? "" : " (accepted: \(known))"))
        }
        if let placeholder = spec.value {
            let value: String
            if let inlineValue {
                value = inlineValue
            } else if index < arguments.count {
                value = arguments[index]
                index += 1
            } else {
                throw UsageError(description: "option '\(name)' needs a value: \(name) \(placeholder)")
            }
            parsed.values[name] = value
            parsed.allValues[name, default: []].append(value)
        } else {
            if inlineValue != nil { throw UsageError(description: "option '\(name)' takes no value") }
            parsed.flags.insert(name)
        }
    }
    return parsed
}
