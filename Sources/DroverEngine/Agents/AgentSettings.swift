import DroverProtocol

/// An agent block's settings as drivers read them: the fields every driver of a real agent shares
/// (`command`, `args`, `env`) and typed access to the rest. Values were validated before (`AgentSettingsCheck`),
/// so a reader here never fails: a wrongly typed value reads as absent.
struct AgentSettings {
    let values: [String: JSONValue]

    init(_ agent: AgentSpec?) {
        values = agent?.settings ?? [:]
    }

    init(_ values: [String: JSONValue]) {
        self.values = values
    }

    /// The program to run: the block's `command`, else `defaultCommand` looked up on PATH by the launcher
    /// (which turns a missing program into a failed attempt saying so).
    func command(default defaultCommand: String) -> String {
        values["command"]?.stringValue ?? defaultCommand
    }

    /// The block's extra `args`, appended to what the driver passes.
    var extraArguments: [String] { strings("args") }

    func strings(_ key: String) -> [String] {
        values[key]?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    func string(_ key: String) -> String? { values[key]?.stringValue }

    func flag(_ key: String) -> Bool { values[key] == .bool(true) }

    /// `attempt` with the block's `env` added to the child's environment.
    func applyingEnvironment(to attempt: AttemptContext) -> AttemptContext {
        var context = attempt
        for (key, value) in values["env"]?.objectValue ?? [:] {
            if let text = value.stringValue { context.environment[key] = text }
        }
        return context
    }
}

/// Validates an agent block's fields, each message starting with the field's path (`agents.coder.args`).
/// One method per shape, so every driver words the same mistake the same way.
struct AgentSettingsCheck {
    private let settings: [String: JSONValue]
    private let field: String
    /// What is wrong so far, in the order checked.
    private(set) var errors: [String] = []

    init(_ settings: [String: JSONValue], field: String) {
        self.settings = settings
        self.field = field
    }

    /// `command` (optional): a non-empty string, the path or name of `program`.
    mutating func command(program: String) {
        if let value = settings["command"], !Self.isNonEmptyString(value) {
            fail("command", "must be a non-empty string (the path of the \(program) program)")
        }
    }

    /// `key` must be there; `what` says what it is for.
    mutating func required(_ key: String, _ what: String) {
        if settings[key] == nil { fail(key, "is required (\(what))") }
    }

    /// `args` and `env`: what every real-agent driver accepts.
    mutating func argumentsAndEnvironment() {
        stringList("args")
        if let value = settings["env"], !(value.objectValue?.values.allSatisfy { $0.stringValue != nil } ?? false) {
            fail("env", "must be an object of strings")
        }
    }

    mutating func stringList(_ key: String) {
        if let value = settings[key], !(value.arrayValue?.allSatisfy(Self.isNonEmptyString) ?? false) {
            fail(key, "must be an array of non-empty strings")
        }
    }

    mutating func oneOf(_ key: String, _ allowed: Set<String>) {
        if let value = settings[key], !(value.stringValue.map(allowed.contains) ?? false) {
            fail(key, "must be one of " + allowed.sorted().joined(separator: ", "))
        }
    }

    mutating func string(_ key: String) {
        if let value = settings[key], value.stringValue == nil { fail(key, "must be a string") }
    }

    mutating func boolean(_ key: String) {
        if let value = settings[key], value != .bool(true), value != .bool(false) { fail(key, "must be true or false") }
    }

    mutating func positiveInteger(_ key: String) {
        if let value = settings[key], value.positiveInteger == nil { fail(key, "must be a positive integer") }
    }

    /// A positive number; `unit` says what it counts ("US dollars").
    mutating func positiveNumber(_ key: String, unit: String) {
        if let value = settings[key], value.positiveNumber == nil { fail(key, "must be a positive number (\(unit))") }
    }

    /// `prices` (optional): what the block's model's tokens cost (`TokenPrices`), over the config's and the built-in table.
    mutating func prices() {
        guard let value = settings["prices"] else { return }
        errors += TokenPrices.check(value, field: "\(field).prices")
    }

    private mutating func fail(_ key: String, _ problem: String) {
        errors.append("field '\(field).\(key)' \(problem)")
    }

    private static func isNonEmptyString(_ value: JSONValue) -> Bool { !(value.stringValue ?? "").isEmpty }
}
