import DroverProtocol
import Synchronization

/// Something the agent waits on, while it runs, for a person to answer (`AgentEvent.permission`): a tool
/// permission (`permission` set) or the agent's own question (Claude Code's AskUserQuestion).
public struct AgentPermissionRequest: Sendable, Hashable {
    /// The decision's question: "Allow Bash: `npm install left-pad`?", or the agent's own.
    public var question: String
    /// The decision's options: the agent's own when it offers them, else drover's `ToolPermission.options`.
    public var options: [String]
    /// The tool and what it would do; nil for the agent's own question.
    public var permission: ToolPermission?
    /// How the reader answers the agent.
    public var reply: AgentReply

    /// A tool permission; its options are drover's own unless `permission.optionKinds` comes with `options`.
    public init(permission: ToolPermission, options: [String] = ToolPermission.options, reply: AgentReply) {
        var permission = permission
        if permission.optionKinds == nil { permission.optionKinds = ToolPermission.kinds }
        self.question = permission.input.isEmpty ? "Allow \(permission.tool)?" : "Allow \(permission.tool): `\(permission.input)`?"
        self.options = options
        self.permission = permission
        self.reply = reply
    }

    /// The agent's own question with its options.
    public init(question: String, options: [String], reply: AgentReply) {
        self.question = question
        self.options = options
        self.permission = nil
        self.reply = reply
    }
}

/// What reaches the agent that waits on a request.
public enum AgentAnswer: Sendable, Hashable {
    /// A person chose one of the request's options (with the reason they gave, if any).
    case chosen(String, reason: String?)
    /// Nobody will answer: the run was cancelled, or drover could not record the request.
    case withdrawn(reason: String)
}

/// A person's answer to a tool permission with drover's own options, as Claude Code hears it.
public enum PermissionAnswer: Sendable, Hashable {
    case allowOnce
    /// Allowed now and, without asking again, for the rest of the run.
    case allowForRun
    case deny(reason: String?)

    /// The answer `answer` stands for, among drover's own options.
    public init(_ answer: AgentAnswer) {
        switch answer {
        case .chosen(let choice, let reason):
            switch ToolPermission(tool: "", input: "").kind(of: choice, options: ToolPermission.options) {
            case .allowOnce?: self = .allowOnce
            case .allowAlways?: self = .allowForRun
            default: self = .deny(reason: reason ?? (ToolPermission.options.contains(choice) ? nil : choice))
            }
        case .withdrawn(let reason):
            self = .deny(reason: reason)
        }
    }
}

/// Sends the answer to one request back to the agent that waits on it (its reader builds the message;
/// `AgentInput` carries it). Answers once: later calls are ignored. Compared by identity.
public final class AgentReply: Sendable, Hashable {
    private let deliver: @Sendable (AgentAnswer) -> Void
    private let answered = Mutex(false)

    public init(_ deliver: @escaping @Sendable (AgentAnswer) -> Void) {
        self.deliver = deliver
    }

    /// Answers the agent, unless it was answered already.
    public func send(_ answer: AgentAnswer) {
        let first = answered.withLock { done in
            defer { done = true }
            return !done
        }
        if first { deliver(answer) }
    }

    public static func == (lhs: AgentReply, rhs: AgentReply) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}
