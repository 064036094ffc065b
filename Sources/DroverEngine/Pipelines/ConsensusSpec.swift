import DroverProtocol

/// An agent step answered by several roles: `"consensus": {"agents": [roles], "strategy": "vote"|"judge", "judge"?: role}`.
///
/// Each listed role answers the step's prompt as its own attempt, all at once (each in a worktree of its own
/// when the run has one, `Engine+ConsensusRound`); `vote` then picks the answer most of them agree on, `judge`
/// hands every answer to the judge role, which picks or merges one.
public struct ConsensusSpec: Codable, Sendable, Hashable {
    /// The roles that answer, in order (ties of a vote go to the one listed first).
    public var agents: [String]
    public var strategy: ConsensusStrategy
    /// The role that judges (strategy `judge` only).
    public var judge: String?

    public init(agents: [String], strategy: ConsensusStrategy, judge: String? = nil) {
        self.agents = agents
        self.strategy = strategy
        self.judge = judge
    }

    /// Every role the step may run: the answering ones, then the judge.
    public var roles: [String] { agents + (judge.map { [$0] } ?? []) }

    static let fields = ["agents", "judge", "strategy"]

    /// Reads the `consensus` field; messages start with the field's path.
    static func validate(_ value: JSONValue) -> (ConsensusSpec?, [String]) {
        guard let object = value.objectValue else {
            return (nil, ["field 'consensus' must be an object like {\"agents\": [\"roleA\", \"roleB\"], \"strategy\": \"vote\"}"])
        }
        var errors: [String] = []
        for key in object.keys.sorted() where !fields.contains(key) {
            errors.append("field 'consensus.\(key)' is unknown (allowed: \(fields.joined(separator: ", ")))")
        }
        let listed = object["agents"]?.arrayValue
        let agents = listed?.compactMap(\.stringValue) ?? []
        if listed == nil || agents.count != listed?.count || agents.count < 2 || agents.contains(where: \.isEmpty) {
            errors.append("field 'consensus.agents' must list at least two role names, e.g. [\"claude\", \"codex\"]")
        } else if Set(agents).count != agents.count {
            errors.append("field 'consensus.agents' names a role twice; list each role once")
        }
        var strategy = ConsensusStrategy.vote
        switch object["strategy"] {
        case .string(let text) where ConsensusStrategy(rawValue: text) != nil: strategy = ConsensusStrategy(rawValue: text) ?? .vote
        case nil: errors.append("field 'consensus.strategy' is required: \"vote\" or \"judge\"")
        default: errors.append("field 'consensus.strategy' must be \"vote\" or \"judge\"")
        }
        var judge: String?
        switch object["judge"] {
        case nil:
            if strategy == .judge { errors.append("field 'consensus.judge' is required with strategy \"judge\": the role that picks or merges the answers") }
        case .string(let text) where !text.isEmpty:
            if strategy == .vote { errors.append("field 'consensus.judge' is for strategy \"judge\"; a vote needs no judge") }
            judge = text
        default: errors.append("field 'consensus.judge' must be a role name")
        }
        guard errors.isEmpty else { return (nil, errors) }
        return (ConsensusSpec(agents: agents, strategy: strategy, judge: judge), [])
    }
}
