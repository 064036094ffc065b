import DroverProtocol
import DroverStore
import Foundation

/// Drives runs: appends their events, launches their steps, answers their gates. The facade the
/// server and the CLI call; the work is in three rooms:
///
/// - the ledger (`RunLedger`): every event goes through `commit(_:runId:)` — fold with `RunReducer`,
///   one store transaction, then the listeners, in order, only while this engine owns the run; it
///   also keeps the per-run records (`RunRecord`);
/// - the attempt runner (`Engine+Steps.swift`): launches attempts through their drivers and turns
///   what they report into events; what happens next is `NextAction.of(run)`, acted on by `advance`;
/// - the queries (`RunQueries`, `Engine+Queries.swift`): the read path the CLI shares.
///
/// Methods that change a run commit and return the new run before slow work; agents run in child
/// tasks whose outcomes come back here as more events.
public actor Engine {
    let options: EngineOptions
    let launcher: any AgentLauncher
    let trustStore: TrustStore
    let ledger: RunLedger
    /// Whether this engine drives its runs, leaves them to workers, or is a worker's (`Engine+Workers`).
    let driving: RunDriving

    /// The agent attempt in flight per run (a run has at most one; a consensus round's candidates are one
    /// entry whose handle stops them all, `Engine+ConsensusRound`).
    var live: [String: LiveAttempt] = [:]
    /// Which process runs each live attempt, for the next engine if this one dies (`.drover/agents`).
    let agentRecords: AgentRecordTable
    /// The workspace's `.drover/` paths, made once: URLs cost more to build than the files they name cost to open.
    let layout: StoreLayout
    /// The config files `loadConfig` reads, made once for the same reason.
    let configFiles: EngineConfig.Files
    /// `options.workspace.path`, made once: every attempt's environment and every run's workspace name it.
    let workspacePath: String
    /// The workspace as trust records it (`TrustStore.key`: symlinks resolved), made once: trust is
    /// checked at every run start and attempt, and the engine's workspace does not move.
    private(set) lazy var trustKey = TrustStore.key(options.workspace)
    /// The config and trust as read in the synchronous work going on (`readingFilesOnce`); nil outside it.
    var turnReads: TurnReads?
    /// `advance` calls scheduled but not yet done.
    var scheduledAdvances = 0
    /// Runs whose orphaned agent `resumeInterruptedRuns` is killing; nothing starts in them meanwhile.
    var reaping: Set<String> = []
    /// Per run, who waits for its reap to end (`waitForReap`), resumed by `endReap`.
    var reapWaiters: [String: [CheckedContinuation<Void, Never>]] = [:]
    var idleWaiters: [CheckedContinuation<Void, Never>] = []
    /// Runs `run/apply` is working on (git runs off the actor meanwhile).
    var applying: Set<String> = []
    var shuttingDown = false
    /// Runs created and not started yet, and whether new ones may start (`Scheduling/`).
    var scheduler = RunScheduler()
    /// An `admitWaiting` is scheduled and not done.
    var admissionScheduled = false
    /// Runs waiting for a rate limit to pass: the task that wakes each at its `retryAt` (`Engine+RateLimits`).
    var rateLimitWakes: [String: Task<Void, Never>] = [:]
    /// Models whose usage had no price, said once each in the log (`Engine+Usage`).
    var unpricedModels: Set<String> = []
    /// Today's spending across the workspace's runs, and config `budgets.perDay` as last read (`Engine+DailyBudget`).
    var dailySpend: DailySpend?
    var dailyBudget: RunBudget?
    /// Runs whose branch this engine pushed to their remote (`Engine+RemoteRuns`).
    var pushedRuns: Set<String> = []
    /// What the engine could not store yet, per run, and whether a retry is scheduled (`Engine+StoreStalls`).
    var stalls: [String: StoreStall] = [:]
    var stallRetryScheduled = false
    /// The store's message of the latest refused write (shown by `drover engine status`).
    var lastStoreError: String?
    /// Parents whose children are being settled (`Engine+FanOut`).
    var fanOutChecks = FanOutChecks()
    /// What this engine hears other engines' commits on, when the store is shared (`Engine+Following`).
    var changeFeed: (any StoreChangeFeed)?

    /// A pipeline as a run uses it.
    struct LoadedPipeline {
        var id: String
        var definition: PipelineDefinition
        var source: PipelineInfo.Source
    }

    /// Why a live attempt is being stopped.
    enum StopReason {
        case cancel(String)
        case restart
        case shutdown
        /// The run reached its budget: it pauses (`Engine+Budget`).
        case budget
        /// The run's lease is lost: the agent stops and nothing more is written (`Engine+Workers`).
        case abandoned
        /// The workspace reached its daily budget: the run pauses (`Engine+DailyBudget`).
        case dailyBudget
    }

    struct LiveAttempt {
        var stepId: String
        var attempt: Int
        var handle: any AgentHandle
        var task: Task<Void, Never>?
        var stop: StopReason?
        /// How what the attempt uses is priced (its agent block's and the config's `prices`).
        var pricing = UsagePricing()
        /// Tool permissions the agent waits on, oldest first; the first is raised as a decision
        /// (`decisionId` set), the others wait their turn (`Engine+Permissions`).
        var permissions: [PendingPermission] = []
        /// A consensus round: how each candidate attempt's usage is priced; nil for a single attempt.
        var candidates: [Int: UsagePricing]?
        /// A consensus round's candidate hit a rate limit: the latest time one said to try again, and what it said.
        var rateLimit: (retryAt: Date?, message: String)?

        /// How the usage `attempt` reports is priced.
        func pricing(of attempt: Int) -> UsagePricing { candidates?[attempt] ?? pricing }
    }

    struct PendingPermission {
        var request: AgentPermissionRequest
        var decisionId: String?
    }

    /// - Parameters:
    ///   - store: the run store; the engine is its only user from now on.
    ///   - launcher: starts agent processes.
    ///   - ownership: decides which runs this engine may commit to; the default suits a store no
    ///     other process can reach.
    ///   - driving: whether the engine drives its runs or leaves them to workers (or is a worker's).
    public init(options: EngineOptions, store: sending any RunStore, launcher: any AgentLauncher,
                ownership: any RunOwnership = ProcessLocalOwnership(), driving: RunDriving = .here) throws {
        guard options.workspace.path.hasPrefix("/") else {
            throw EngineError.invalid("workspace '\(options.workspace.path)' must be an absolute path")
        }
        self.options = options
        self.ledger = RunLedger(store: store, ownership: ownership, workspace: options.workspace, now: options.now)
        self.launcher = launcher
        self.driving = driving
        self.trustStore = TrustStore(configDirectory: options.configDirectory)
        self.layout = StoreLayout(workspace: options.workspace)
        self.configFiles = EngineConfig.Files(workspace: options.workspace, configDirectory: options.configDirectory)
        self.workspacePath = options.workspace.path
        self.agentRecords = AgentRecordTable(path: layout.agentTablePath)
    }

    // MARK: - Listeners

    /// Registers a listener; it is called synchronously, in order, after each commit (and for each
    /// log line). Returns an id for `removeListener`.
    public func addListener(_ listener: @escaping @Sendable (EngineOutput) -> Void) -> Int {
        ledger.addListener(listener)
    }

    /// Unregisters a listener.
    public func removeListener(_ id: Int) {
        ledger.removeListener(id)
    }

    func notify(_ output: EngineOutput) {
        ledger.publish(output)
    }

    /// Appends events to a run through the ledger (the one way events are appended).
    @discardableResult
    func commit(_ bodies: [EventBody], runId: String) throws -> Run {
        defer {
            // Another engine's answer, taken in by the commit: acted on once this change is done.
            for (heardRunId, events) in ledger.takeHeard() {
                Task { self.actOnOthersEvents(events, runId: heardRunId) }
            }
        }
        let run = try ledger.commit(bodies, runId: runId)
        refreshReport(of: run) // a report file asked for follows every later change to its run (apply, discard, a retry's end)
        runChanged(run)
        childChanged(run)
        candidatesOutlived(run)
        handBackIfWaiting(run)
        return run
    }

    // MARK: - Loading

    func loadRun(_ runId: String) throws -> Run {
        try ledger.run(runId)
    }

    func history(_ runId: String) throws -> RunHistory {
        try ledger.history(runId)
    }

    /// The pipeline a run follows; reloaded from the catalog after an engine restart, and refused
    /// if its steps no longer match the run's.
    func pipeline(for run: Run) throws -> LoadedPipeline {
        try ledger.pipeline(run.id) {
            guard let entry = PipelineCatalog.entry(run.pipelineId, workspace: options.workspace, configDirectory: options.configDirectory),
                  let definition = entry.definition, entry.errors.isEmpty else {
                throw EngineError.conflict(
                    "Pipeline '\(run.pipelineId)' of run \(run.id) no longer exists or has errors; restore or fix it (pipeline/list shows its errors)")
            }
            guard definition.stepInfos == run.steps.map({ StepInfo(id: $0.id, kind: $0.kind, role: $0.role) }) else {
                throw EngineError.conflict(
                    "Pipeline '\(run.pipelineId)' changed its steps since run \(run.id) started; start a new run instead")
            }
            return LoadedPipeline(id: run.pipelineId, definition: definition, source: entry.source)
        }
    }

    // MARK: - Advancing

    /// Runs `advance(runId)` soon, outside the current call.
    func scheduleAdvance(_ runId: String) {
        scheduledAdvances += 1
        Task {
            self.advance(runId)
            self.scheduledAdvances -= 1
            self.checkIdle()
        }
    }

    /// Acts on `NextAction.of` until the run waits on something.
    func advance(_ runId: String) {
        guard !shuttingDown, live[runId] == nil, !reaping.contains(runId) else { return }
        // Where this engine would drive the run, a worker will.
        if driving.leavesRunsToWorkers { return handOver(runId) }
        readingFilesOnce { advanceNow(runId) }
    }

    private func advanceNow(_ runId: String) {
        do {
            var run = try loadRun(runId)
            while true {
                switch NextAction.of(run) {
                case .startRun:
                    // Whether and when a queued run starts is the scheduler's call, after any rate limit has passed.
                    if waitsForRateLimit(run) { return }
                    enqueue(runId)
                    return
                case .startStep(let stepId, let attempt):
                    if case .acted(let updated) = try actOnReviewChoice(run: run, stepId: stepId) {
                        run = updated
                        continue
                    }
                    switch try checkCondition(run: run, stepId: stepId) {
                    case .run: try startStep(run: run, stepId: stepId, attempt: attempt)
                    case .skipped(let updated):
                        run = updated
                        continue
                    case .failed: break
                    }
                    return
                case .completeRun:
                    if let remote = remoteToPush(run) {
                        pushThenComplete(runId: runId, remote: remote)  // the change reaches its remote first
                        return
                    }
                    pushedRuns.remove(runId)  // a retried run pushes again when it is done again
                    try commit([.runCompleted], runId: runId)
                    return
                case .awaitStep, .awaitGate, .idle:
                    return
                }
            }
        } catch let error as EngineError where error.kind == .storeUnavailable {
            stall(runId, error: error, what: "its next step") { $0.advance = true }
        } catch {
            log("cannot advance run \(runId): \(error)")
        }
    }

    func checkIdle() {
        guard live.isEmpty, scheduledAdvances == 0, stalls.isEmpty else { return }
        let waiters = idleWaiters
        idleWaiters = []
        for waiter in waiters { waiter.resume() }
    }

    /// Returns when no agent is running, no run is about to start a step and nothing waits for the
    /// store to take writes again (for tests and the CLI).
    public func waitUntilIdle() async {
        while !(live.isEmpty && scheduledAdvances == 0 && stalls.isEmpty) {
            await withCheckedContinuation { idleWaiters.append($0) }
        }
    }

    // MARK: - Lifecycle

    /// Picks up runs a previous engine left running: a step left `working` gets `step.interrupted`
    /// (unless already recorded) and re-runs with a new attempt. Blocked runs stay blocked.
    ///
    /// A step left `working` means its engine died mid-attempt (a clean stop records `step.interrupted`
    /// after the agent is gone), so its agent may still be running as an orphan: it is killed first
    /// (`reapOrphanedAgent`), so two agents never work on the same files.
    public func resumeInterruptedRuns() async {
        guard !driving.leavesRunsToWorkers else { return }  // the workers resume them
        let runs: [Run]
        do {
            runs = try queries.allRuns(statuses: [.running, .queued])
        } catch {
            log("cannot list runs to resume: \(error)")
            return
        }
        // Queued runs wait again in the order they were created; then the interrupted ones resume.
        for run in runs.filter({ $0.status == .queued }).sorted(by: { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }) {
            addToQueue(run)
        }
        for run in runs where run.status != .queued && live[run.id] == nil { await resume(run) }
        admitWaiting()
        // Parents waiting on children: some may have ended while no engine was watching.
        for run in (try? queries.allRuns(statuses: [.blocked])) ?? [] where waitsOnChildren(run) { scheduleChildrenCheck(run.id) }
    }

    /// `resumeInterruptedRuns` for one run only, for a client that drives that run alone
    /// (`drover attach`): other runs the dead engine left stay as they are for whoever drives them
    /// next. A run that is not running or queued, or is live here already, is returned unchanged.
    public func resumeInterruptedRun(_ runId: String) async throws -> Run {
        let run = try loadRun(runId)
        if run.status == .running || run.status == .queued, live[runId] == nil, !reaping.contains(runId),
           !driving.leavesRunsToWorkers {
            await resume(run)
        }
        return try loadRun(runId)
    }

    /// Ends `runId`'s reap and resumes whoever waits for it.
    func endReap(_ runId: String) {
        reaping.remove(runId)
        for waiter in reapWaiters.removeValue(forKey: runId) ?? [] { waiter.resume() }
    }

    /// Returns once no reap of `runId` is going on (at once if none is).
    func waitForReap(_ runId: String) async {
        while reaping.contains(runId) {
            await withCheckedContinuation { reapWaiters[runId, default: []].append($0) }
        }
    }

    /// Kills the orphaned agent of `run`'s working step, if any, records `step.interrupted`, and advances.
    func resume(_ run: Run) async {
        do {
            if let step = run.steps.first(where: { $0.state == .working }) {
                reaping.insert(run.id)
                await reapOrphanedStep(run, stepId: step.id, attempts: step.attempts)
                endReap(run.id)
                // The reap may have waited while requests changed the run: interrupt only what is still working.
                let now = try loadRun(run.id).step(step.id)
                if live[run.id] == nil, now?.state == .working, now?.attempts == step.attempts {
                    try commit([.stepInterrupted(.init(stepId: step.id, attempt: step.attempts))], runId: run.id)
                }
            }
            scheduleAdvance(run.id)
        } catch let error as EngineError where error.kind == .storeUnavailable {
            stall(run.id, error: error, what: "the interruption of its step") { $0.advance = true }
        } catch {
            log("cannot resume run \(run.id): \(error)")
        }
    }

    /// Stops every live agent (SIGTERM, then SIGKILL after `killGrace`), records
    /// `step.interrupted` for each, and waits for them. No new steps start afterwards.
    public func shutdown() async {
        shuttingDown = true
        for runId in Array(rateLimitWakes.keys) { forgetRateLimitWake(runId) }
        changeFeed?.stop()
        for (runId, var attempt) in live where attempt.stop == nil {
            attempt.stop = .shutdown
            live[runId] = attempt
            attempt.handle.terminate(grace: options.killGrace)
        }
        for attempt in live.values { await attempt.task?.value }
    }

    /// Writes a diagnostic line to stderr (never stdout: that is the protocol channel).
    nonisolated func log(_ message: String) {
        options.logger.warning("engine: \(message)")
    }
}
