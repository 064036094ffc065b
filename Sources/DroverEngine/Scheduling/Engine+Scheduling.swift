import DroverProtocol
import Foundation

extension Engine {
    /// Queues `runId` (just created, or found queued after a restart) and starts what may start, unless
    /// `admitting` is false: its creation's admission found nothing else to do (`Admission.movesOthers`).
    /// `recorded`: the reason its `run.queued` (just committed) gives.
    func enqueue(_ runId: String, recorded: QueueReason? = nil, admitting: Bool = true) {
        if driving.leavesRunsToWorkers { return handOver(runId) }  // the workers' queue, not this engine's
        guard let run = try? loadRun(runId) else { return }
        addToQueue(run, recorded: recorded)
        if admitting { admitWaiting() }
    }

    /// The scheduler's verdict on a run about to be created (`admissionAtCreation`).
    struct Admission {
        /// `run.started` or `run.queued`, for the run's first commit; nil if it would fail.
        var event: EventBody?
        /// Whether the same plan also starts, fails or re-queues runs already waiting (a slot freed or a
        /// dependency ended since the last admission). If not, an `admitWaiting` after the run's creation,
        /// in the same actor turn, would find nothing to do: the creation changed neither the running
        /// count the plan gave the new run nor any dependency's status.
        var movesOthers: Bool
    }

    /// What a run about to be created with `dependsOn` would get at once from `admitWaiting`: `run.started`
    /// (a slot is free and its dependencies are done) or `run.queued` (no free slot, a dependency not done,
    /// draining); nil if it would fail, or when runs are left to workers. `run/start` records it in the
    /// run's first commit; `admitWaiting` then finds a queued one recorded.
    func admissionAtCreation(_ runId: String, dependsOn: [String]) -> Admission {
        guard !driving.leavesRunsToWorkers, !shuttingDown, let running = try? queries.countRuns(statuses: [.running]) else {
            return Admission(event: nil, movesOthers: true)
        }
        let arriving = RunScheduler.Waiting(runId: runId, dependsOn: dependsOn)
        let actions = scheduler.plan(running: running, maxRuns: loadConfig().maxRuns, arriving: arriving) { (try? loadRun($0))?.status }
        let movesOthers = actions.contains { $0.runId != runId }
        switch actions.first(where: { $0.runId == runId })?.verdict {
        case .start?:
            return Admission(event: .runStarted, movesOthers: movesOthers)
        case .wait(let reason, let waitingFor)?:
            return Admission(event: .runQueued(.init(reason: reason, waitingFor: waitingFor.isEmpty ? nil : waitingFor)), movesOthers: movesOthers)
        default:
            return Admission(event: nil, movesOthers: true)
        }
    }

    /// Puts a queued run at the back of the line, unless a rate limit still holds it (its wake queues it then).
    func addToQueue(_ run: Run, recorded: QueueReason? = nil) {
        guard run.status == .queued, !waitsForRateLimit(run) else { return }
        scheduler.enqueue(run.id, dependsOn: run.dependsOn ?? [], recorded: recorded)
    }

    /// Starts every waiting run the scheduler lets start, fails those whose dependency ended
    /// badly, and records why the others wait (`run.queued`, once per reason).
    func admitWaiting() {
        guard !scheduler.isEmpty, !shuttingDown else { return }
        readingFilesOnce { admitNow() }
    }

    private func admitNow() {
        let config = loadConfig()
        let running: Int
        do {
            running = try queries.countRuns(statuses: [.running])
        } catch {
            log("cannot count running runs: \(error)")
            return
        }
        let actions = scheduler.plan(running: running, maxRuns: config.maxRuns) { (try? loadRun($0))?.status }
        var skippedStart = false
        for (runId, verdict) in actions {
            // A run that stopped waiting without the scheduler hearing of it (another writer's event) is dropped.
            guard let run = try? loadRun(runId), run.status == .queued else {
                scheduler.remove(runId)
                if verdict == .start { skippedStart = true }
                continue
            }
            do {
                switch verdict {
                case .start:
                    scheduler.remove(runId)
                    try startQueued(runId)
                case .wait(let reason, let waitingFor):
                    scheduler.recorded(reason, for: runId)
                    try commit([.runQueued(.init(reason: reason, waitingFor: waitingFor.isEmpty ? nil : waitingFor))], runId: runId)
                case .fail(let dependency, let status):
                    scheduler.remove(runId)
                    try commit([.runFailed(.init(failure: Failure(
                        kind: .dependency, message: "Run \(dependency), which this run depends on, \(status == .failed ? "failed" : "was cancelled or no longer exists")",
                        hint: "Retry or restart \(dependency), then start this pipeline again")))], runId: runId)
                }
            } catch let error as EngineError where error.kind == .storeUnavailable {
                // Asked again once the store takes writes: `advance` queues it anew.
                scheduler.remove(runId)
                stall(runId, error: error, what: "its start") { $0.advance = true }
            } catch {
                log("cannot schedule run \(runId): \(error)")
            }
        }
        if skippedStart { admitNow() }  // the slot it was given goes to the next in line
    }

    /// Starts a queued run: `run.started` is stored with what its first step records (`step.started`, or
    /// whatever stops it), in one transaction instead of two, then the first step is launched. Only if
    /// nothing was recorded (it must wait after all) is `run.started` committed alone.
    func startQueued(_ runId: String) throws {
        try ledger.stage([.runStarted], runId: runId)
        advance(runId)
        if ledger.hasStaged(runId) { try commit([], runId: runId) }
    }

    /// After a commit: a run that stopped running frees a slot, and one that ended may release
    /// its dependents, so the waiting runs are looked at again (soon, outside the commit; at the end of
    /// the attempt's outcome when that is what changed it, `admitIfScheduled`).
    func runChanged(_ run: Run) {
        if run.queueReason != .rateLimit, rateLimitWakes[run.id] != nil { forgetRateLimitWake(run.id) }
        if run.status != .queued { scheduler.remove(run.id) }  // cancelled or started while it waited
        guard !scheduler.isEmpty, run.status != .running, run.status != .queued, !admissionScheduled else { return }
        admissionScheduled = true
        Task { self.admitIfScheduled() }
    }

    /// The admission `runChanged` scheduled, unless it was done already.
    func admitIfScheduled() {
        guard admissionScheduled else { return }
        admissionScheduled = false
        admitWaiting()
    }

    /// Checks `dependsOn` of a new run: each must name a run of this workspace (a new run cannot be
    /// named by an older one, so there are no cycles).
    func checkDependencies(_ dependsOn: [String]?) throws {
        for id in dependsOn ?? [] {
            guard (try? loadRun(id)) != nil else {
                throw EngineError(.notFound, "dependsOn names no run '\(id)' in this workspace; run/list lists them")
            }
        }
    }

    /// Starts no new run from now on (`drover engine drain`); queued runs stay queued for the next engine.
    public func setDraining(_ draining: Bool) {
        scheduler.draining = draining
        if !draining { admitWaiting() }
    }
}
