import DroverProtocol
import Foundation

extension Engine {
    /// Queues `runId` (just created, or found queued after a restart) and starts what may start.
    func enqueue(_ runId: String) {
        if driving.leavesRunsToWorkers { return handOver(runId) }  // the workers' queue, not this engine's
        scheduler.enqueue(runId)
        admitWaiting()
    }

    /// Starts every waiting run the scheduler lets start, fails those whose dependency ended
    /// badly, and records why the others wait (`run.queued`, once per reason).
    func admitWaiting() {
        guard !scheduler.waiting.isEmpty, !shuttingDown else { return }
        let config = EngineConfig.load(workspace: options.workspace, configDirectory: options.configDirectory)
        let running: Int
        do {
            running = try queries.allRuns(statuses: [.running]).count
        } catch {
            log("cannot count running runs: \(error)")
            return
        }
        var candidates: [RunScheduler.Candidate] = []
        for runId in scheduler.waiting {
            guard let run = try? loadRun(runId), run.status == .queued, !waitsForRateLimit(run) else {
                scheduler.remove(runId)
                continue
            }
            let dependencies = (run.dependsOn ?? []).map { id in (id: id, status: (try? loadRun(id))?.status) }
            candidates.append(.init(runId: runId, dependencies: dependencies))
        }
        let verdicts = RunScheduler.decide(candidates, running: running, maxRuns: config.maxRuns, draining: scheduler.draining)
        for (candidate, verdict) in zip(candidates, verdicts) {
            let runId = candidate.runId
            do {
                switch verdict {
                case .start:
                    scheduler.remove(runId)
                    try commit([.runStarted], runId: runId)
                    scheduleAdvance(runId)
                case .wait(let reason, let waitingFor):
                    guard scheduler.recordedReason[runId] != reason else { continue }
                    scheduler.recordedReason[runId] = reason
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
    }

    /// After a commit: a run that stopped running frees a slot, and one that ended may release
    /// its dependents, so the waiting runs are looked at again (soon, outside the commit).
    func runChanged(_ run: Run) {
        if run.queueReason != .rateLimit, rateLimitWakes[run.id] != nil { forgetRateLimitWake(run.id) }
        guard !scheduler.waiting.isEmpty, run.status != .running, run.status != .queued, !admissionScheduled else { return }
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
