import DroverProtocol
import Foundation

/// Rate limits wait, they don't fail. An attempt whose agent gave up on a rate limit
/// (`AgentOutcome.rateLimited`) is neither a failure nor a try that counts: its step goes back to pending
/// and the run waits `queued` (`run.queued {reason: "rate_limit", retryAt, stepId, message}`). At `retryAt`
/// — the agent's own word, else `RateLimitBackoff` — the run goes back through the scheduler (so it
/// respects `concurrency.maxRuns`), and the step re-runs resuming the agent's session, told only that it
/// was rate limited (`RerunContext.rateLimited`).
///
/// The wait is durable: `retryAt` is in the event, so an engine started later (after a stop or kill -9)
/// re-arms the wait from the store (`waitsForRateLimit`, called wherever a queued run could start), and
/// runs the step at once when `retryAt` has passed. `run/cancel` ends the wait like any queued run.
extension Engine {
    /// Records that `stepId`'s attempt was rate limited and arms the run's wake-up.
    func queueForRateLimit(_ run: Run, stepId: String, retryAt hint: Date?, message: String) throws {
        let now = options.now()
        let consecutive = try history(run.id).consecutiveRateLimits(stepId: stepId) + 1
        let backoff = EngineConfig.load(workspace: options.workspace, configDirectory: options.configDirectory).rateLimitBackoff
        let retryAt = max(now, hint ?? now.addingTimeInterval(backoff.seconds(consecutive: consecutive)))
        let said = message.trimmingCharacters(in: .whitespacesAndNewlines)
        // The reducer puts the step back to pending: the attempt neither failed nor counts as a try.
        try commit([.runQueued(.init(reason: .rateLimit, retryAt: Timestamp.string(retryAt), stepId: stepId,
                                     message: said.isEmpty ? nil : String(said.prefix(2000))))], runId: run.id)
        armRateLimitWake(run.id, at: retryAt)
    }

    /// Whether `run` waits for a rate limit to pass; arms its wake-up if nothing has yet (a run found in
    /// the store after a restart). False once `retryAt` has passed: the run may start.
    func waitsForRateLimit(_ run: Run) -> Bool {
        guard run.status == .queued, run.queueReason == .rateLimit else { return false }
        guard let retryAt = Timestamp.date(run.retryAt), retryAt > options.now() else { return false }
        if rateLimitWakes[run.id] == nil { armRateLimitWake(run.id, at: retryAt) }
        return true
    }

    /// Sleeps until `retryAt`, then hands the run to the scheduler.
    private func armRateLimitWake(_ runId: String, at retryAt: Date) {
        rateLimitWakes[runId]?.cancel()
        let delay = max(0, retryAt.timeIntervalSince(options.now()))
        rateLimitWakes[runId] = Task {
            try? await Task.sleep(for: .milliseconds(Int64((delay * 1000).rounded(.up))))
            guard !Task.isCancelled else { return }
            self.rateLimitPassed(runId)
        }
    }

    private func rateLimitPassed(_ runId: String) {
        rateLimitWakes[runId] = nil
        guard let run = try? loadRun(runId), run.status == .queued, run.queueReason == .rateLimit else { return }
        if waitsForRateLimit(run) { return }  // the clock is behind the sleep: wait the rest
        enqueue(runId)
    }

    /// Ends the wait of a run that no longer waits for a rate limit (cancelled, restarted, shut down).
    func forgetRateLimitWake(_ runId: String) {
        rateLimitWakes.removeValue(forKey: runId)?.cancel()
    }
}
