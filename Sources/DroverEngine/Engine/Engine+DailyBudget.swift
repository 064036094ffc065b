import DroverProtocol
import Foundation

/// The workspace's daily budget (config `budgets.perDay`): what all its runs spend in one calendar day
/// (the engine's local time) together. Once today's spending reaches it, every run with a live attempt
/// is stopped and paused (`run.paused {reason: "daily_budget", spent, limit}`, its step back to pending),
/// and a run that would start a step pauses instead — new runs included, right after they start. Paused
/// runs stay paused until someone resumes them (`run/resume`, refused while today's spending still
/// reaches the limit: raise `budgets.perDay` or wait for tomorrow).
///
/// Today's spending is counted from the store once a day per engine (the `usage.recorded` events at or
/// after local midnight, of the runs changed since), then kept up to date as this engine records usage.
/// Engines sharing a PostgreSQL store each count the others' spending when they count from the store.
extension Engine {
    /// Today's spending as counted so far.
    struct DailySpend {
        /// The local calendar day, `yyyy-mm-dd`.
        var day: String
        var usage: Usage
    }

    /// The local calendar day of `date`, and its first instant as events write their time.
    static func day(of date: Date) -> (day: String, start: String) {
        let calendar = Calendar.current
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        let day = String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
        return (day, Timestamp.string(calendar.startOfDay(for: date)))
    }

    /// What the workspace's runs have spent today.
    func spentToday() throws -> Usage {
        let today = Self.day(of: options.now())
        if let dailySpend, dailySpend.day == today.day { return dailySpend.usage }
        var usage = Usage()
        var cursor: String?
        while true {
            let page = try ledger.store.runs(statuses: nil, afterRunId: cursor, limit: 500)
            for run in page where run.updatedAt >= today.start && run.usage != Usage() {
                var afterSeq = 0
                while case let events = try ledger.store.events(runId: run.id, afterSeq: afterSeq, limit: 1000), !events.isEmpty {
                    for event in events where event.at >= today.start {
                        if case .usageRecorded(let data) = event.body { usage.add(data) }
                    }
                    afterSeq = events.last?.seq ?? afterSeq
                }
            }
            guard page.count == 500, let last = page.last else { break }
            cursor = last.id
        }
        dailySpend = DailySpend(day: today.day, usage: usage)
        return usage
    }

    /// Usage this engine just recorded, added to today's count (when it has been counted today).
    func countToday(_ bodies: [EventBody]) {
        guard var spend = dailySpend, spend.day == Self.day(of: options.now()).day else { return }
        for case .usageRecorded(let data) in bodies { spend.usage.add(data) }
        dailySpend = spend
    }

    /// Whether today's spending reaches the daily budget as config says it now; remembers the limit
    /// for the checks made while attempts report usage.
    func dailyBudgetReached(config: EngineConfig) throws -> (spent: Usage, limit: RunBudget)? {
        dailyBudget = config.budgets.perDay
        guard let limit = dailyBudget else { return nil }
        let spent = try spentToday()
        return limit.isReached(by: spent) ? (spent, limit) : nil
    }

    /// After usage was recorded: once today's spending reaches the daily budget, every live attempt is
    /// stopped (its run pauses when it ends).
    func stopAllIfOverDailyBudget() {
        guard let limit = dailyBudget, let spend = dailySpend, spend.day == Self.day(of: options.now()).day,
              limit.isReached(by: spend.usage) else { return }
        for (runId, var attempt) in live where attempt.stop == nil {
            attempt.stop = .dailyBudget
            live[runId] = attempt
            attempt.handle.terminate(grace: options.killGrace)
        }
    }
}
