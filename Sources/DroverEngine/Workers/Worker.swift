import DroverProtocol
import DroverStore
import DroverSupport
import Foundation

/// `drover worker`: claims runs from a shared store's queue, drives each with a normal `Engine`
/// (same steps, gates, events), and lets go of them when they end, wait on a person, or lose
/// their lease.
///
/// One engine per home workspace of the runs it drives (pipelines, config, logs and agent records
/// are the workspace's), each with its own store connection, all on the worker's one set of leases
/// (`WorkerLeases`, renewed by heartbeat). A run whose lease is gone (the heartbeat could not renew
/// it: the server was unreachable past the expiry, or another worker took the run over) is
/// abandoned at once: its agent is stopped and nothing more is written for it (the store refuses
/// such an append too).
public actor Worker {
    /// What the worker may take on.
    public struct Settings: Sendable {
        /// At most this many runs driven at once.
        public var maxRuns: Int
        /// Only runs whose agent steps use these drivers; nil: any.
        public var drivers: [String]?
        /// How often the queue and the leases are looked at when nothing wakes the worker sooner.
        public var pollInterval: Duration
        /// The worker's own folder: the engine for runs whose home workspace is not on this machine
        /// works from here (pipelines, config, logs), their code in `repositoryCache`.
        public var home: URL
        /// Where runs from other machines get their code (`Engine.materialize`).
        public var repositoryCache: RepositoryCache

        public init(maxRuns: Int, drivers: [String]?, pollInterval: Duration = .milliseconds(100), home: URL,
                    repositoryCache: RepositoryCache) {
            self.maxRuns = maxRuns
            self.drivers = drivers
            self.pollInterval = pollInterval
            self.home = home
            self.repositoryCache = repositoryCache
        }
    }

    private let leases: any WorkerLeases
    private let queue: any WorkerQueue
    private let openStore: @Sendable () throws -> any RunStore
    private let followStore: (@Sendable () -> any StoreChangeFeed)?
    private let settings: Settings
    private let wakeup: any WorkerWakeup
    private let environment: [String: String]
    private let selfExecutable: String
    private let logger: Logger
    /// The engine of each home workspace, opened on its first run, and the runs it may drive.
    private var engines: [String: (engine: Engine, runs: HeldRunsOnly)] = [:]
    /// The runs being driven, and by which engine.
    private var driving: [String: (engine: Engine, runs: HeldRunsOnly)] = [:]
    /// Runs that could not be driven here (their workspace is missing), not to be claimed again soon.
    private var unusable: [String: ContinuousClock.Instant] = [:]
    private var stopping = false
    /// While the store cannot be reached: how many looks failed in a row, and when to look again.
    private var unreachable: (failures: Int, retryAt: ContinuousClock.Instant)?

    /// - Parameters:
    ///   - openStore: a store connection for each engine, fenced by `leases`.
    ///   - followStore: hears the store's commits, for each engine (another engine's gate answer to
    ///     a run this worker drives reaches it this way), and to wake the worker when a run is
    ///     handed over; nil: nobody else writes.
    public init(leases: any WorkerLeases, queue: any WorkerQueue, openStore: @escaping @Sendable () throws -> any RunStore,
                followStore: (@Sendable () -> any StoreChangeFeed)? = nil,
                settings: Settings, wakeup: (any WorkerWakeup)? = nil,
                environment: [String: String] = ProcessInfo.processInfo.environment,
                selfExecutable: String = EngineHost.currentExecutable(), logger: Logger = Logger()) {
        self.leases = leases
        self.queue = queue
        self.openStore = openStore
        self.followStore = followStore
        self.settings = settings
        self.wakeup = wakeup ?? followStore.map { FeedWakeup(feed: $0()) } ?? PollingWakeup()
        self.environment = environment
        self.selfExecutable = selfExecutable
        self.logger = logger
    }

    /// Claims and drives runs until `stop()`; then interrupts the live steps (recorded, as an
    /// engine's shutdown does) and gives every lease up, so another worker goes on at once.
    public func run() async {
        leases.startHeartbeat()
        while !stopping {
            await dropLostRuns()
            claimWhatFits()
            await wakeup.wait(upTo: settings.pollInterval)
        }
        for (engine, _) in engines.values { await engine.shutdown() }
        for runId in driving.keys { leases.release(runId: runId) }
        driving = [:]
    }

    /// Ends `run()` after its current pass.
    public func stop() {
        stopping = true
    }

    /// The runs being driven now.
    public var drivenRuns: [String] { Array(driving.keys) }

    /// Forgets runs whose lease is no longer held: ended or handed back (nothing runs for them), or
    /// lost (their agent is stopped, and nothing more is written).
    private func dropLostRuns() async {
        for (runId, (engine, runs)) in driving where !leases.holds(runId: runId) {
            driving[runId] = nil
            runs.dismiss(runId)
            if await engine.liveRunIds.contains(runId) {
                logger.warning("worker: lost the lease on run \(runId); stopping its agent and writing nothing more for it")
            }
            await engine.abandon(runId)
        }
    }

    /// Claims runs while there is room, and starts driving each.
    private func claimWhatFits() {
        let now = ContinuousClock.now
        unusable = unusable.filter { $0.value > now }
        if let unreachable, unreachable.retryAt > now { return }
        while driving.count < settings.maxRuns, !stopping {
            let claimed: ClaimedRun?
            do {
                claimed = try leases.claimNext(drivers: settings.drivers, excluding: Array(unusable.keys))
                if unreachable != nil { logger.warning("worker: the store answers again; taking runs") }
                unreachable = nil
            } catch {
                // Back off (0.2 s doubling up to 10 s) instead of dying: the server may be restarting.
                let failures = (unreachable?.failures ?? 0) + 1
                let delay = Duration.milliseconds(min(10_000, 100 << min(failures, 7)))
                unreachable = (failures, now + delay)
                logger.warning("worker: cannot take runs from the store: \(error); trying again in \(delay)")
                return
            }
            guard let claimed else { return }
            do {
                let driver = try engine(for: claimed.workspace)
                driver.runs.admit(claimed.runId)
                driving[claimed.runId] = driver
                Task { await driver.engine.drive(claimed.runId) }
            } catch {
                logger.warning("worker: cannot drive run \(claimed.runId): \(error); leaving it to other workers")
                unusable[claimed.runId] = now + .seconds(30)
                leases.release(runId: claimed.runId)
            }
        }
    }

    /// The engine for runs whose home is `workspace`: one per home folder on this machine, and the
    /// worker's own (`Settings.home`) for runs from other machines.
    private func engine(for home: String) throws -> (engine: Engine, runs: HeldRunsOnly) {
        var isDirectory: ObjCBool = false
        let local = home.hasPrefix("/") && FileManager.default.fileExists(atPath: home, isDirectory: &isDirectory) && isDirectory.boolValue
        let workspace = local ? home : settings.home.path
        if let driver = engines[workspace] { return driver }
        var options = EngineOptions(
            workspace: URL(fileURLWithPath: workspace), selfExecutable: selfExecutable, environment: environment, logger: logger)
        options.sharesStore = true
        options.repositoryCache = settings.repositoryCache
        let runs = HeldRunsOnly(leases)
        let engine = try Engine(options: options, store: try openStore(), launcher: ProcessLauncher(),
                                ownership: runs, driving: .asWorker(queue))
        engines[workspace] = (engine, runs)
        if let followStore {
            let feed = followStore()
            Task { await engine.follow(feed) }
        }
        return (engine, runs)
    }
}
