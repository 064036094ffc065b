import DroverProtocol
import DroverSupport
import Foundation

/// What the engine needs from its surroundings: paths, the drover binary (for the fake agent),
/// the environment children inherit, and a clock.
public struct EngineOptions: Sendable {
    /// The workspace folder (absolute); steps run here and its `.drover/` holds the store.
    public var workspace: URL
    /// The user's config folder (`config.json`, `pipelines/`, `trust.json`).
    public var configDirectory: URL
    /// The drover binary; the fake agent runs as `<selfExecutable> agent-fake`.
    public var selfExecutable: String
    /// How long a killed agent gets between SIGTERM and SIGKILL.
    public var killGrace: Duration
    /// The environment agents inherit (plus the `DROVER_*` variables).
    public var environment: [String: String]
    /// The clock events are stamped with.
    public var now: @Sendable () -> Date
    /// Where the engine reports trouble it cannot return to a caller (stderr, at the server's level).
    public var logger: Logger
    /// The store is shared with other engines and machines (PostgreSQL): new runs record their
    /// repository's remote, so a worker elsewhere can get the code and push the run's branch back.
    public var sharesStore = false
    /// Where this machine keeps clones of other machines' repositories, to drive their runs (a
    /// worker's engine); nil: only runs of this workspace are driven.
    public var repositoryCache: RepositoryCache?

    /// - Parameters:
    ///   - configDirectory: defaults to `EngineConfig.configDirectory(environment:)`.
    public init(workspace: URL, configDirectory: URL? = nil, selfExecutable: String, killGrace: Duration = .seconds(2),
                environment: [String: String] = ProcessInfo.processInfo.environment,
                now: @escaping @Sendable () -> Date = { Date() }, logger: Logger = Logger()) {
        self.workspace = workspace.standardizedFileURL
        self.configDirectory = configDirectory ?? EngineConfig.configDirectory(environment: environment)
        self.selfExecutable = selfExecutable
        self.killGrace = killGrace
        self.environment = environment
        self.now = now
        self.logger = logger
    }
}

/// What the engine tells its listeners: durable events and ephemeral log lines.
public enum EngineOutput: Sendable {
    case event(Event)
    case log(RunLogNotification)
}
