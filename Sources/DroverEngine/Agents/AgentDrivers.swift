import DroverProtocol

/// The one list of agent drivers: what roles may name, what `capabilities.drivers` lists, and what
/// config validation accepts.
public enum AgentDrivers {
    /// Every driver a role can select, in the order `capabilities.drivers` lists them.
    public static let registered: [any AgentDriver] = [
        FakeDriver(),
        CommandDriver(),
        ClaudeDriver(),
        CodexDriver(),
        ACPDriver(),
    ]

    /// The names of the registered drivers.
    public static var names: [String] { registered.map(\.name) }

    /// The registered driver called `name`.
    public static func named(_ name: String) -> (any AgentDriver)? {
        registered.first { $0.name == name }
    }
}
