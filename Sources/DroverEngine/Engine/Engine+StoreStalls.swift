import DroverProtocol
import Foundation

/// The store refused a write that may work later (`EngineError.storeUnavailable`: its disk is full,
/// its file system or server failed). Requests that hit it fail with that message; what the engine
/// itself had to record is not given up:
///
/// - a finished attempt's outcome (and usage the agent reported) is kept in memory and recorded
///   once the store takes writes again, so the agent's work is not lost;
/// - a run that could not advance (its next `step.started`, its `run.completed`) is advanced again.
///
/// The engine tries again after 0.25 s, doubling up to 5 s, for as long as something is kept; it
/// does not go idle meanwhile. If it stops first (shutdown, kill), the step was left `working` in
/// the store, so the next engine re-runs it, as after any interrupted engine. Nothing committed is
/// touched: a write either stored all its events or none.
extension Engine {
    /// An attempt that ended, as the engine records it.
    struct FinishedAttempt {
        var stepId: String
        var attempt: Int
        var outcome: AgentOutcome
        /// The attempt's change, committed in the run's worktree; nil once `step.committed` is stored.
        var committed: EventBody.StepCommitted?
        /// Why the engine stopped the attempt, if it did.
        var stop: StopReason?
        /// The run's `lastSeq` when recording the outcome proper first began. Events after it mean part
        /// of the outcome was stored before the store failed.
        var startedAtSeq: Int?
    }

    /// What the engine owes the store for one run.
    struct StoreStall {
        var outcome: FinishedAttempt?
        /// Usage reports not stored yet, oldest first; stored before anything else of the run.
        var usage: [EventBody] = []
        /// The run could not advance.
        var advance = false
    }

    static let stallRetryFirstDelay: Duration = .milliseconds(250)
    static let stallRetryLongestDelay: Duration = .seconds(5)

    /// Records `finished` (see `recordOutcome`); keeps it for later if the store cannot take it now.
    func recordFinished(_ finished: FinishedAttempt, runId: String) {
        var finished = finished
        do {
            try storeUnstoredUsage(runId: runId)
            if let committed = finished.committed {
                try commit([.stepCommitted(committed)], runId: runId)
                finished.committed = nil
            }
            let run = try loadRun(runId)
            if let startedAt = finished.startedAtSeq, startedAt != run.lastSeq {
                // Part of the outcome went in before the store failed (a tests step's result, say):
                // rather than guess which part, go on as after an interrupted engine.
                try interruptLeftover(finished, run: run)
                scheduleAdvance(runId)
                return
            }
            finished.startedAtSeq = run.lastSeq
            try recordOutcome(finished, run: run)
        } catch let error as EngineError where error.kind == .storeUnavailable {
            stall(runId, error: error, what: "the outcome of step \(finished.stepId) (attempt \(finished.attempt))") {
                $0.outcome = finished
            }
        } catch {
            log("cannot record the outcome of run \(runId) step \(finished.stepId): \(error)")
        }
    }

    /// Stores usage reports, after any the store refused before; keeps them all if it refuses again.
    func storeUsage(_ usage: [EventBody], runId: String) {
        let pending = (stalls[runId]?.usage ?? []) + usage
        guard !pending.isEmpty else { return }
        stalls[runId]?.usage = []
        do {
            // The batch's total counts against the run's budget as each report would have.
            usageCommitted(pending, run: try commit(pending, runId: runId))
            dropStallIfSettled(runId)
        } catch let error as EngineError where error.kind == .storeUnavailable {
            stall(runId, error: error, what: "\(pending.count) usage report(s)") { $0.usage = pending }
        } catch {
            log("cannot record usage of run \(runId): \(error)")
        }
    }

    /// Keeps what `change` puts in the run's stall and makes sure a retry is coming.
    func stall(_ runId: String, error: EngineError, what: String, _ change: (inout StoreStall) -> Void) {
        let first = stalls[runId] == nil
        change(&stalls[runId, default: StoreStall()])
        lastStoreError = error.message
        if first {
            log("run \(runId): \(error.message). Kept \(what) in memory; drover records it once the store takes writes again")
        }
        scheduleStallRetry()
    }

    private func storeUnstoredUsage(runId: String) throws {
        guard let usage = stalls[runId]?.usage, !usage.isEmpty else { return }
        usageCommitted(usage, run: try commit(usage, runId: runId))
        stalls[runId]?.usage = []
        dropStallIfSettled(runId)
    }

    private func dropStallIfSettled(_ runId: String) {
        if let stall = stalls[runId], stall.outcome == nil, stall.usage.isEmpty, !stall.advance {
            stalls[runId] = nil
        }
    }

    /// The step of `finished` is still `working` in the store with no attempt behind it: interrupted,
    /// so `advance` re-runs it.
    private func interruptLeftover(_ finished: FinishedAttempt, run: Run) throws {
        guard live[run.id] == nil, run.status == .running, let step = run.step(finished.stepId),
              step.state == .working, step.attempts == finished.attempt else { return }
        try commit([.stepInterrupted(.init(stepId: finished.stepId, attempt: finished.attempt))], runId: run.id)
    }

    /// A run that could not advance or be resumed: a step left `working` with nothing live is
    /// interrupted (as `resumeInterruptedRuns` does), then the run advances.
    private func resumeStalled(_ runId: String) {
        do {
            let run = try loadRun(runId)
            if live[runId] == nil, run.status == .running, let step = run.steps.first(where: { $0.state == .working }) {
                try commit([.stepInterrupted(.init(stepId: step.id, attempt: step.attempts))], runId: runId)
            }
            advance(runId)
        } catch let error as EngineError where error.kind == .storeUnavailable {
            stall(runId, error: error, what: "its next step") { $0.advance = true }
        } catch {
            log("cannot resume run \(runId): \(error)")
        }
    }

    private func scheduleStallRetry() {
        guard !stallRetryScheduled else { return }
        stallRetryScheduled = true
        Task {
            var delay = Self.stallRetryFirstDelay
            while !stalls.isEmpty, !shuttingDown {
                try? await Task.sleep(for: delay)
                retryStalls()
                delay = min(delay * 2, Self.stallRetryLongestDelay)
            }
            stallRetryScheduled = false
            checkIdle()
        }
    }

    /// Tries once more to store what each stalled run is owed; what fails again stays.
    private func retryStalls() {
        let owed = stalls
        for (runId, stall) in owed where !reaping.contains(runId) {
            stalls[runId] = nil
            if !stall.usage.isEmpty { stalls[runId] = StoreStall(usage: stall.usage) }
            if let outcome = stall.outcome {
                recordFinished(outcome, runId: runId)
            } else if stall.advance {
                resumeStalled(runId)
            } else {
                storeUsage([], runId: runId)
            }
            if stalls[runId] == nil {
                log("run \(runId): the store takes writes again; recorded what was kept")
            }
        }
    }
}
