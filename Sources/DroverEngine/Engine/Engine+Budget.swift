import DroverProtocol

/// Budgets: a run started with `budget {maxUSD?, maxTokens?}` pauses (`run.paused {reason: "budget"}`),
/// never fails, once its recorded usage reaches a limit — the live attempt is stopped and its step re-runs
/// later (resuming the agent's session); a step that completed over budget stays done. `run/resume` raises
/// the budget and goes on from where the run stopped.
extension Engine {
    /// `run/resume`: a paused run goes on, with the limits `budget` gives replacing its own.
    public func resumeRun(_ request: RunResumeRequest) throws -> Run {
        let run = try loadRun(request.runId)
        guard run.status == .paused else {
            throw EngineError.conflict("Run \(run.id) is \(run.status.rawValue); run/resume accepts paused runs only")
        }
        try Self.validate(request.budget)
        let budget = (run.budget ?? RunBudget()).raised(by: request.budget)
        if budget.isReached(by: run.usage) {
            throw EngineError.invalid(
                "run \(run.id) has spent \(Self.describe(run.usage)), which reaches its budget (\(Self.describe(budget))); "
                + "resume with a higher budget, e.g. {\"budget\": {\"maxUSD\": …}}")
        }
        let config = loadConfig()
        try Self.checkSpendingConfig(config)
        if let daily = try dailyBudgetReached(config: config) {
            throw EngineError.invalid(
                "the workspace has spent \(Self.describe(daily.spent)) today, which reaches its daily budget (\(Self.describe(daily.limit)), "
                + "config budgets.perDay); raise budgets.perDay in \(config.userFile.path) or the workspace's .drover/config.json, "
                + "or resume tomorrow")
        }
        let resumed = try commit([.runResumed(.init(budget: request.budget == nil ? nil : budget))], runId: run.id)
        scheduleAdvance(run.id)
        return resumed
    }

    /// A run does not start while config `prices` or `budgets` has a problem: what it may spend is unclear.
    static func checkSpendingConfig(_ config: EngineConfig) throws {
        guard !config.spendingErrors.isEmpty else { return }
        throw EngineError.invalid("config problems with prices or budgets: " + config.spendingErrors.joined(separator: "; "))
    }

    /// A budget's limits must be positive.
    static func validate(_ budget: RunBudget?) throws {
        if let usd = budget?.maxUSD, !(usd > 0) || !usd.isFinite {
            throw EngineError.invalid("budget.maxUSD must be a positive number of US dollars")
        }
        if let tokens = budget?.maxTokens, tokens <= 0 {
            throw EngineError.invalid("budget.maxTokens must be a positive integer")
        }
    }

    /// After `bodies` (usage) were committed to `run`: counted for today; a run over its budget stops its
    /// live attempt, and the workspace over its daily budget stops every live attempt (each run pauses
    /// when its attempt ends).
    func usageCommitted(_ bodies: [EventBody], run: Run) {
        countToday(bodies)
        stopIfOverBudget(run)
        stopAllIfOverDailyBudget()
    }

    private func stopIfOverBudget(_ run: Run) {
        guard run.budget?.isReached(by: run.usage) == true, var attempt = live[run.id], attempt.stop == nil else { return }
        attempt.stop = .budget
        live[run.id] = attempt
        attempt.handle.terminate(grace: options.killGrace)
    }

    /// Pauses `run` if it is running over its budget, or the workspace over its daily budget, before a
    /// step starts; returns whether it did.
    func pauseIfOverBudget(_ run: Run) throws -> Bool {
        guard let pause = try budgetPause(run) else { return false }
        try commit([pause], runId: run.id)
        return true
    }

    /// The `run.paused` a running `run` is due because it reached its budget, or the workspace its daily
    /// budget; nil if it may go on.
    func budgetPause(_ run: Run) throws -> EventBody? {
        guard run.status == .running else { return nil }
        if let budget = run.budget, budget.isReached(by: run.usage) {
            return .runPaused(.init(reason: "budget", spent: run.usage, limit: budget))
        }
        guard let daily = try dailyBudgetReached(config: loadConfig()) else { return nil }
        return .runPaused(.init(reason: "daily_budget", spent: daily.spent, limit: daily.limit))
    }

    /// Pauses `run`, putting `stepId` (whose attempt a budget stopped) back to pending so it re-runs on resume.
    func pauseForBudget(_ run: Run, interrupting stepId: String, attempt: Int, daily: Bool = false) throws {
        var bodies: [EventBody] = []
        if run.step(stepId)?.state == .working { bodies.append(.stepInterrupted(.init(stepId: stepId, attempt: attempt))) }
        if daily {
            bodies.append(.runPaused(.init(reason: "daily_budget", spent: try spentToday(), limit: dailyBudget ?? RunBudget())))
        } else {
            bodies.append(.runPaused(.init(reason: "budget", spent: run.usage, limit: run.budget ?? RunBudget())))
        }
        try commit(bodies, runId: run.id)
    }

    static func describe(_ usage: Usage) -> String {
        "$" + String(format: "%.4f", usage.costUSD) + " and \(usage.inputTokens + usage.outputTokens) tokens"
    }

    static func describe(_ budget: RunBudget) -> String {
        [budget.maxUSD.map { "max $" + String(format: "%.4f", $0) }, budget.maxTokens.map { "max \($0) tokens" }]
            .compactMap { $0 }.joined(separator: ", ")
    }
}
