import DroverProtocol
import Foundation

/// Everything needed to launch one attempt as a process: what a driver hands to the launcher.
public struct AgentInvocation: Sendable {
    /// The program: an absolute path, a path relative to `workingDirectory`, or a name looked up on PATH.
    public var executable: String
    public var arguments: [String]
    /// Written to the process's stdin first. Never passed in argv.
    public var prompt: String
    public var workingDirectory: String
    /// The complete environment of the child (the caller merges the parent's environment in).
    public var environment: [String: String]
    /// Killed (whole process group) after this long; nil for no limit.
    public var timeout: Duration?
    /// Where all output of the attempt is appended (created with its parent folders if missing).
    public var logFile: URL
    /// Makes the reader that turns this attempt's output into reports and an outcome (called once,
    /// on the attempt's I/O thread). Chosen by the driver.
    public var makeReader: @Sendable () -> any AgentOutputReader
    /// Whether stdin stays open after the prompt, for drivers that answer their agent while it runs
    /// (see `AgentInput`); otherwise stdin is closed once the prompt is written.
    public var keepsStdinOpen: Bool

    public init(executable: String, arguments: [String], prompt: String, workingDirectory: String,
                environment: [String: String], timeout: Duration?, logFile: URL,
                keepsStdinOpen: Bool = false,
                makeReader: @escaping @Sendable () -> any AgentOutputReader) {
        self.executable = executable
        self.arguments = arguments
        self.prompt = prompt
        self.workingDirectory = workingDirectory
        self.environment = environment
        self.timeout = timeout
        self.logFile = logFile
        self.keepsStdinOpen = keepsStdinOpen
        self.makeReader = makeReader
    }
}

/// A report and where the output line it came from starts in the attempt's log file.
public struct AgentReport: Sendable, Hashable {
    public var event: AgentEvent
    /// Byte offset of the line's first byte in the log file (the offsets `step/log` pages by).
    public var logOffset: Int

    public init(_ event: AgentEvent, logOffset: Int) {
        self.event = event
        self.logOffset = logOffset
    }
}

/// A running agent attempt.
public protocol AgentHandle: Sendable {
    /// The process id (also its process-group id).
    var pid: Int32 { get }
    /// Waits until the process group is gone and the outcome is known.
    func wait() async -> AgentOutcome
    /// Kills the whole process group: SIGTERM, then SIGKILL after `grace`. Safe to call more than once.
    func terminate(grace: Duration)
    /// Calls `body` with the outcome once it is known (at once if it is already), on whichever thread
    /// learns it: what `wait()` tells, without a task waiting for it.
    func whenFinished(_ body: @escaping @Sendable (AgentOutcome) -> Void)
}

extension AgentHandle {
    public func whenFinished(_ body: @escaping @Sendable (AgentOutcome) -> Void) {
        Task.detached { body(await wait()) }
    }
}

/// Launches agent processes. One implementation spawns real processes; the engine needs nothing else.
public protocol AgentLauncher: Sendable {
    /// Starts the process described by `invocation`; `onReport` is called for each report, in order, and may
    /// block while the caller is behind (call it from the attempt's own thread, not from a task).
    func launch(_ invocation: AgentInvocation, onReport: @escaping @Sendable (AgentReport) -> Void) throws -> any AgentHandle
}
