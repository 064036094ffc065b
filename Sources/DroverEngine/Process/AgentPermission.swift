import DroverProtocol
import Synchronization

/// A tool permission an agent waits on while it runs (`AgentEvent.permission`).
public struct AgentPermissionRequest: Sendable, Hashable {
    /// The tool and what it would do, as the decision shows it.
    public var permission: ToolPermission
    /// How the reader answers the agent.
    public var reply: AgentReply

    public init(permission: ToolPermission, reply: AgentReply) {
        self.permission = permission
        self.reply = reply
    }

    /// The decision's question: "Allow Bash: `npm install left-pad`?".
    public var question: String {
        permission.input.isEmpty ? "Allow \(permission.tool)?" : "Allow \(permission.tool): `\(permission.input)`?"
    }
}

/// A person's answer to a tool permission.
public enum PermissionAnswer: Sendable, Hashable {
    case allowOnce
    /// Allowed now and, without asking again, for the rest of the run.
    case allowForRun
    case deny(reason: String?)

    /// The answer a decision's `choice` (one of `ToolPermission.options`) stands for; nil for another text.
    public init?(choice: String, reason: String?) {
        switch choice {
        case ToolPermission.allowOnce: self = .allowOnce
        case ToolPermission.allowForRun: self = .allowForRun
        case ToolPermission.deny: self = .deny(reason: reason)
        default: return nil
        }
    }
}

/// Sends the answer to one permission request back to the agent that waits on it (its reader builds the
/// message; `AgentInput` carries it). Answers once: later calls are ignored. Compared by identity.
public final class AgentReply: Sendable, Hashable {
    private let deliver: @Sendable (PermissionAnswer) -> Void
    private let answered = Mutex(false)

    public init(_ deliver: @escaping @Sendable (PermissionAnswer) -> Void) {
        self.deliver = deliver
    }

    /// Answers the agent, unless it was answered already.
    public func send(_ answer: PermissionAnswer) {
        let first = answered.withLock { done in
            defer { done = true }
            return !done
        }
        if first { deliver(answer) }
    }

    public static func == (lhs: AgentReply, rhs: AgentReply) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}
