import DroverProtocol
import Foundation

/// `driver: fake`: the scripted agent built into drover (`drover agent-fake`), which needs no model.
/// Its turns come from the block's `script` (see `FakeScript` in the DroverFakeAgent module).
public struct FakeDriver: AgentDriver {
    /// The subcommand of the `drover` executable that runs the fake agent.
    public static let subcommand = "agent-fake"
    /// The environment variable that carries the script's JSON to the fake agent.
    public static let scriptEnvironmentKey = "DROVER_FAKE_SCRIPT"

    public init() {}

    public var name: String { "fake" }
    public var settingNames: Set<String> { ["script"] }

    public func validate(_ settings: [String: JSONValue], field: String) -> [String] {
        guard let script = settings["script"] else { return ["field '\(field).script' is required for the fake driver"] }
        let turnsAreActionLists = script.arrayValue.map { turns in
            !turns.isEmpty && turns.allSatisfy { turn in turn.arrayValue?.allSatisfy { $0.objectValue != nil } ?? false }
        } ?? false
        guard turnsAreActionLists else {
            return ["field '\(field).script' must be a non-empty list of turns, each a list of action objects, e.g. [[{\"result\": \"done\"}]]"]
        }
        return []
    }

    public func invocation(for attempt: AttemptContext) throws -> AgentInvocation {
        var context = attempt
        let script = JSONValueEncoder.encodeBytes(attempt.agent?.settings["script"] ?? .array([]))
        context.environment[Self.scriptEnvironmentKey] = String(decoding: script, as: UTF8.self)
        return context.invocation(executable: attempt.selfExecutable, arguments: [Self.subcommand]) { LineProtocolReader() }
    }
}
