import DroverProtocol
import Foundation

/// Config `budgets`: limits that apply without anyone passing them.
public struct BudgetDefaults: Sendable, Hashable {
    /// A run's budget when `run/start` gives none.
    public var perRun: RunBudget?
    /// What all the workspace's runs may spend together in one calendar day (the engine's local time):
    /// reaching it pauses them (`run.paused {reason: "daily_budget"}`).
    public var perDay: RunBudget?

    public init(perRun: RunBudget? = nil, perDay: RunBudget? = nil) {
        self.perRun = perRun
        self.perDay = perDay
    }
}

/// Config `prices` and `budgets`:
///
/// `{"prices": {"<model>": {"inputPerMTok", "outputPerMTok", "cacheReadPerMTok"?, "cacheWritePerMTok"?}},
///   "budgets": {"perRun": {"maxUSD"?, "maxTokens"?}, "perDay": {"maxUSD"?, "maxTokens"?}}}`.
///
/// A model's price in the workspace file replaces the user's; of two budgets the stricter limit wins
/// (a checkout cannot raise what its user allows). Problems are also kept in `spendingErrors`: a run
/// does not start while what it may spend is unclear.
extension EngineConfig {
    static func readPrices(_ value: JSONValue?, file: URL, into config: inout EngineConfig) {
        guard let value else { return }
        guard let models = value.objectValue else {
            config.spendingProblem(file, "field 'prices' must map model ids to prices, like {\"gpt-5\": {\"inputPerMTok\": 1.25, \"outputPerMTok\": 10}}")
            return
        }
        for (model, prices) in models.sorted(by: { $0.key < $1.key }) {
            let problems = TokenPrices.check(prices, field: "prices.\(model)")
            for problem in problems { config.spendingProblem(file, problem) }
            if problems.isEmpty, let object = prices.objectValue {
                config.prices[ModelPrices.key(for: model)] = TokenPrices(object)
            }
        }
    }

    static func readBudgets(_ value: JSONValue?, file: URL, into config: inout EngineConfig) {
        guard let value else { return }
        guard let object = value.objectValue else {
            config.spendingProblem(file, "field 'budgets' must be an object like {\"perRun\": {\"maxUSD\": 5}, \"perDay\": {\"maxUSD\": 20}}")
            return
        }
        for key in object.keys.sorted() where key != "perRun" && key != "perDay" {
            config.spendingProblem(file, "unknown field 'budgets.\(key)' (allowed: perRun, perDay)")
        }
        if let budget = readBudget(object["perRun"], field: "budgets.perRun", file: file, into: &config) {
            config.budgets.perRun = budget.stricter(than: config.budgets.perRun)
        }
        if let budget = readBudget(object["perDay"], field: "budgets.perDay", file: file, into: &config) {
            config.budgets.perDay = budget.stricter(than: config.budgets.perDay)
        }
    }

    private static func readBudget(_ value: JSONValue?, field: String, file: URL, into config: inout EngineConfig) -> RunBudget? {
        guard let value else { return nil }
        guard let object = value.objectValue else {
            config.spendingProblem(file, "field '\(field)' must be an object like {\"maxUSD\": 5, \"maxTokens\": 1000000}")
            return nil
        }
        var budget = RunBudget()
        var valid = true
        for key in object.keys.sorted() where key != "maxUSD" && key != "maxTokens" {
            config.spendingProblem(file, "unknown field '\(field).\(key)' (allowed: maxUSD, maxTokens)")
            valid = false
        }
        if let usd = object["maxUSD"] {
            if let amount = usd.positiveNumber { budget.maxUSD = amount } else {
                config.spendingProblem(file, "field '\(field).maxUSD' must be a positive number of US dollars")
                valid = false
            }
        }
        if let tokens = object["maxTokens"] {
            if let count = tokens.positiveInteger { budget.maxTokens = count } else {
                config.spendingProblem(file, "field '\(field).maxTokens' must be a positive whole number of tokens")
                valid = false
            }
        }
        return valid && budget != RunBudget() ? budget : nil
    }

    private mutating func spendingProblem(_ file: URL, _ problem: String) {
        let message = "\(file.path): \(problem)"
        errors.append(message)
        spendingErrors.append(message)
    }
}

extension RunBudget {
    /// Each limit the lower of this budget's and `other`'s.
    func stricter(than other: RunBudget?) -> RunBudget {
        func lower<T: Comparable>(_ a: T?, _ b: T?) -> T? { [a, b].compactMap { $0 }.min() }
        return RunBudget(maxUSD: lower(maxUSD, other?.maxUSD), maxTokens: lower(maxTokens, other?.maxTokens))
    }
}
