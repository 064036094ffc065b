import DroverProtocol
import Foundation

/// An agent driver: how one kind of agent program is launched, and how its output is read.
///
/// A driver is a value with no state of its own. For each attempt it turns an `AttemptContext` into an
/// `AgentInvocation` (the process to spawn, plus the reader that turns that process's output into
/// `AgentEvent`s and its exit into an `AgentOutcome`). Everything else — the process group, the log
/// file, timeouts, cancellation, recording what the reader reports — is the engine's and the launcher's.
///
/// To add one: a file in `Agents/` with a type conforming to this protocol, and one line in
/// `AgentDrivers.registered`.
public protocol AgentDriver: Sendable {
    /// The `driver` value that selects it in an agent block (a pipeline step's `agent`, or a role in config.json).
    var name: String { get }
    /// The agent-block fields it reads besides `driver` and `model`.
    var settingNames: Set<String> { get }
    /// Problems with an agent block's settings, each message starting with the field's path
    /// (`field` is the block's own path, e.g. `steps[0].agent` or `agents.planner`).
    func validate(_ settings: [String: JSONValue], field: String) -> [String]
    /// The process for one attempt.
    func invocation(for attempt: AttemptContext) throws -> AgentInvocation
}

/// Everything a driver may use to launch one attempt of one step.
public struct AttemptContext: Sendable {
    public var runId: String
    public var stepId: String
    /// 1-based, counted over the run's whole life.
    public var attempt: Int
    /// The step's role, if it has one.
    public var role: String?
    /// The rendered prompt, re-run context included.
    public var prompt: String
    /// Where the agent works (the run's working directory).
    public var workingDirectory: String
    /// The child's environment: the engine's, plus `DROVER_RUN_ID`, `DROVER_STEP_ID`, `DROVER_ATTEMPT`,
    /// `DROVER_ROLE`, `DROVER_WORKSPACE` (the run's working directory: its worktree when isolated),
    /// `DROVER_SOURCE_WORKSPACE` (the user's workspace) and `DROVER_MODEL` when the agent block names one.
    public var environment: [String: String]
    /// The agent block of an `agent` step; nil for `command` and `tests` steps.
    public var agent: AgentSpec?
    /// The command of a `command` or `tests` step.
    public var command: CommandSpec?
    /// The session the agent reported in an earlier attempt of this step (`AgentEvent.session`), for
    /// drivers whose agent can resume a conversation; nil when there is none.
    public var resumeSessionId: String?
    /// Tools a person allowed "for this run" when an earlier attempt asked (permission decisions): the
    /// driver lets its agent use them without asking again.
    public var toolsAllowedForRun: [String] = []
    /// What is left of the run's budget in US dollars, for agents that can stop themselves at a cost
    /// (`claude --max-budget-usd`); nil when the run has no dollar budget.
    public var remainingBudgetUSD: Double?
    public var timeout: Duration?
    public var logFile: URL
    /// The drover binary (the fake agent is `drover agent-fake`).
    public var selfExecutable: String

    public init(runId: String, stepId: String, attempt: Int, role: String? = nil, prompt: String,
                workingDirectory: String, environment: [String: String], agent: AgentSpec? = nil,
                command: CommandSpec? = nil, resumeSessionId: String? = nil, timeout: Duration? = nil,
                logFile: URL, selfExecutable: String) {
        self.runId = runId
        self.stepId = stepId
        self.attempt = attempt
        self.role = role
        self.prompt = prompt
        self.workingDirectory = workingDirectory
        self.environment = environment
        self.agent = agent
        self.command = command
        self.resumeSessionId = resumeSessionId
        self.timeout = timeout
        self.logFile = logFile
        self.selfExecutable = selfExecutable
    }

    /// An invocation of `executable` with this attempt's prompt, directory, environment, timeout and log.
    public func invocation(executable: String, arguments: [String], keepsStdinOpen: Bool = false,
                           makeReader: @escaping @Sendable () -> any AgentOutputReader) -> AgentInvocation {
        AgentInvocation(executable: executable, arguments: arguments, prompt: prompt,
                        workingDirectory: workingDirectory, environment: environment, timeout: timeout,
                        logFile: logFile, keepsStdinOpen: keepsStdinOpen, makeReader: makeReader)
    }
}

/// A driver refused to build an attempt's process (a setting it cannot use); the step fails with it.
public struct AgentDriverError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
