import DroverProtocol

/// How the engine prices what an attempt used: the agent block's `prices`, else config `prices` for the
/// model, else the built-in table (`ModelPrices`); a model none of them knows costs what the agent
/// reported (`reported`), or nothing (`none`). Pure: the engine makes one per attempt.
public struct UsagePricing: Sendable, Hashable {
    /// The agent block's own `prices`: they price whatever model the block runs.
    public var blockPrices: TokenPrices?
    /// Config `prices`, by `ModelPrices.key(for:)`.
    public var configPrices: [String: TokenPrices]

    public init(blockPrices: TokenPrices? = nil, configPrices: [String: TokenPrices] = [:]) {
        self.blockPrices = blockPrices
        self.configPrices = configPrices
    }

    /// The prices for `agent`'s block over the config's.
    public init(agent: AgentSpec?, configPrices: [String: TokenPrices]) {
        self.init(blockPrices: TokenPrices(AgentSettings(agent)), configPrices: configPrices)
    }

    /// The price `model` gets, and where it comes from; nil when neither config nor the table has one.
    public func prices(for model: String) -> (prices: TokenPrices, source: PriceSource)? {
        if let blockPrices { return (blockPrices, .config) }
        if let configured = configPrices[ModelPrices.key(for: model)] { return (configured, .config) }
        if let builtIn = ModelPrices.prices(for: model) { return (builtIn, .table) }
        return nil
    }

    /// `usage` as the `usage.recorded` of `stepId`.
    public func recorded(_ usage: AgentUsage, stepId: String) -> EventBody.UsageRecorded {
        let priced = prices(for: usage.model)
        let cost = priced.map { $0.prices.cost(of: usage.tokens) } ?? usage.reportedCostUSD ?? 0
        let source = priced?.source ?? (usage.reportedCostUSD == nil ? .none : .reported)
        return EventBody.UsageRecorded(
            stepId: stepId, model: usage.model, inputTokens: usage.tokens.input, outputTokens: usage.tokens.output,
            cacheReadTokens: usage.tokens.cacheRead, cacheWriteTokens: usage.tokens.cacheWrite,
            costUSD: max(cost, 0), reportedCostUSD: usage.reportedCostUSD, priceSource: source)
    }
}
