import DroverProtocol
import Foundation

extension Engine {
    /// Queues `runId` (just created, or found queued after a restart) and starts what may start.
    /// `recorded`: the reason its `run.queued` (just committed) gives.
    func enqueue(_ runId: String, recorded: QueueReason? = nil) {
        if driving.leavesRunsToWorkers { return handOver(runId) }  // the workers' queue, not this engine's
        guard let run = try? loadRun(runId) else { return }
        addToQueue(run, recorded: recorded)
        admitWaiting()
    }

    /// What a run about to be created with `dependsOn` would get at once from `admitWaiting`: `run.started`
    /// (a slot is free and its dependencies are done) or `run.queued` (no free slot, a dependency not done,
    /// draining); nil if it would fail, or when runs are left to workers. `run/start` records it in the
    /// run's first commit; `admitWaiting` then finds a queued one recorded.
    func admissionAtCreation(_ runId: String, dependsOn: [String]) -> EventBody? {
        guard !driving.leavesRunsToWorkers, !shuttingDown, let running = try? queries.countRuns(statuses: [.running]) else { return nil }
        var trial = scheduler
        trial.enqueue(runId, dependsOn: dependsOn)
        let verdict = trial.plan(running: running, maxRuns: loadConfig().maxRuns) { (try? loadRun($0))?.status }
            .first { $0.runId == runId }?.verdict
        switch verdict {
        case .start?: return .runStarted
        case .wait(let reason, let waitingFor)?: return .runQueued(.init(reason: reason, waitingFor: waitingFor.isEmpty ? nil : waitingFor))
        default: return nil
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
        if skippedStart { admitWaiting() }  // the slot it was given goes to the next in line
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
    /// its dependents, so the waiting runs are looked at again (soon, outside the commit).
    func runChanged(_ run: Run) {
        if run.queueReason != .rateLimit, rateLimitWakes[run.id] != nil { forgetRateLimitWake(run.id) }
        if run.status != .queued { scheduler.remove(run.id) }  // cancelled or started while it waited
        guard !scheduler.isEmpty, run.status != .running, run.status != .queued, !admissionScheduled else { return }
        admissionScheduled = true
        Task {
            self.admissionScheduled = false
            self.admitWaiting()
        }
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
