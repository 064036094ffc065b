import DroverProtocol
import Foundation

/// Everything needed to launch one attempt of one step as a process.
public struct AgentInvocation: Sendable {
    /// Absolute path of the program.
    public var executable: String
    public var arguments: [String]
    /// Written to the process's stdin, then stdin is closed. Never passed in argv.
    public var prompt: String
    public var workingDirectory: String
    /// The complete environment of the child (the caller merges the parent's environment in).
    public var environment: [String: String]
    /// Killed (whole process group) after this long; nil for no limit.
    public var timeout: Duration?
    /// Where all output of the attempt is appended (created with its parent folders if missing).
    public var logFile: URL
    /// Whether stdout speaks the agent line protocol (`agent`/`fake` drivers) or is plain output (`command` steps).
    public var parsesLineProtocol: Bool

    public init(executable: String, arguments: [String], prompt: String, workingDirectory: String,
                environment: [String: String], timeout: Duration?, logFile: URL, parsesLineProtocol: Bool = true) {
        self.executable = executable
        self.arguments = arguments
        self.prompt = prompt
        self.workingDirectory = workingDirectory
        self.environment = environment
        self.timeout = timeout
        self.logFile = logFile
        self.parsesLineProtocol = parsesLineProtocol
    }
}

/// Something an agent reported while it ran.
public enum AgentEvent: Sendable, Hashable {
    /// A line of output (non-protocol stdout lines and `log` messages are `.agent`; stderr lines `.stderr`).
    case log(LogStream, String)
    case progress(fraction: Double?, message: String?)
    case usage(model: String, inputTokens: Int, outputTokens: Int, costUSD: Double?)
}

/// How an agent attempt ended.
public enum AgentOutcome: Sendable, Hashable {
    /// Success: the `result` line's output, or all printed text if there was none.
    case completed(output: String)
    /// The agent raised a question and ended; the step parks until it is answered.
    case decision(question: String, options: [String])
    /// Non-zero exit or a launch error; `message` holds the last stderr lines or the reason.
    case failed(message: String, exitCode: Int32?)
    /// Killed after `timeout`.
    case timedOut
    /// Killed because `terminate()` was called.
    case terminated
}

/// A running agent attempt.
public protocol AgentHandle: Sendable {
    /// The process id (also its process-group id).
    var pid: Int32 { get }
    /// Waits until the process group is gone and the outcome is known.
    func wait() async -> AgentOutcome
    /// Kills the whole process group: SIGTERM, then SIGKILL after `grace`. Safe to call more than once.
    func terminate(grace: Duration)
}

/// Launches agent processes. One implementation spawns real processes; the engine needs nothing else.
public protocol AgentLauncher: Sendable {
    /// Starts the process described by `invocation`; `onEvent` is called for each report, in order.
    func launch(_ invocation: AgentInvocation, onEvent: @escaping @Sendable (AgentEvent) -> Void) throws -> any AgentHandle
}
