import DroverProtocol

extension Engine {
    /// What an attempt reported using, priced as its attempt says (`UsagePricing`). A model without a
    /// price is said once per engine in the log: its cost is the agent's own figure, or 0.
    func usageRecorded(_ usage: AgentUsage, runId: String, stepId: String, attempt: Int) -> EventBody {
        let recorded = (live[runId]?.pricing(of: attempt) ?? UsagePricing()).recorded(usage, stepId: stepId)
        if recorded.priceSource == .reported || recorded.priceSource == PriceSource.none,
           unpricedModels.insert(ModelPrices.key(for: usage.model)).inserted {
            let fallback = recorded.priceSource == .reported ? "the agent's reported cost is used" : "its cost is recorded as 0"
            log("no price for model '\(usage.model)' in config `prices` or the built-in table (prices of \(ModelPrices.asOf)): "
                + "\(fallback); add it to `prices` in config.json to price it")
        }
        return .usageRecorded(recorded)
    }
}
