import DroverEngine
import DroverProtocol
import Foundation
import Testing

/// What usage costs: the price math, where a price comes from, and config `prices` / `budgets` as a user
/// writes them (mistakes named by their field path).
@Suite struct UsagePricingTests {
    private static func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) < 1e-12 }

    @Test("cache reads and writes are parts of input, each at its own price; reasoning is inside output")
    func priceMath() {
        let prices = TokenPrices(inputPerMTok: 3, outputPerMTok: 15, cacheReadPerMTok: 0.3, cacheWritePerMTok: 3.75)
        let usage = TokenUsage(input: 1_000_000 + 2_000_000 + 400_000, cacheRead: 2_000_000, cacheWrite: 400_000,
                               output: 100_000, reasoningOutput: 50_000)
        // 1M uncached × $3 + 2M read × $0.30 + 0.4M written × $3.75 + 0.1M out × $15.
        #expect(Self.close(prices.cost(of: usage), 3 + 0.6 + 1.5 + 1.5))
        // Without cache prices, cached tokens cost what input costs.
        let plain = TokenPrices(inputPerMTok: 2, outputPerMTok: 8)
        #expect(Self.close(plain.cost(of: usage), 3.4 * 2 + 0.1 * 8))
    }

    @Test("the built-in table knows current Claude and GPT-5 models by id, with or without a date, and nothing else")
    func builtInTable() throws {
        let sonnet = try #require(ModelPrices.prices(for: "claude-sonnet-4-5-20250929"))
        #expect(sonnet == TokenPrices(inputPerMTok: 3, outputPerMTok: 15, cacheReadPerMTok: 0.3, cacheWritePerMTok: 3.75))
        #expect(ModelPrices.prices(for: "claude-opus-4-5")?.inputPerMTok == 5)
        #expect(ModelPrices.prices(for: "claude-opus-4-1-20250805")?.inputPerMTok == 15)
        #expect(ModelPrices.prices(for: "claude-haiku-4-5")?.outputPerMTok == 5)
        #expect(ModelPrices.prices(for: "anthropic/claude-sonnet-4-5[1m]") == sonnet)
        #expect(ModelPrices.prices(for: "gpt-5-2025-08-07")?.cacheReadPerMTok == 0.125)
        #expect(ModelPrices.prices(for: "gpt-5.1-codex-mini")?.inputPerMTok == 0.25)
        // An unknown model is not priced as a neighbour.
        #expect(ModelPrices.prices(for: "claude-opus-4-9") == nil)
        #expect(ModelPrices.prices(for: "fake-small") == nil)
        #expect(ModelPrices.asOf.count == 10)
    }

    @Test("a model id's key: lower-cased, trimmed, without provider prefix, context tag or a trailing date of either shape")
    func modelKeys() {
        #expect(ModelPrices.key(for: " Anthropic/Claude-Sonnet-4-5[1m] ") == "claude-sonnet-4-5")
        #expect(ModelPrices.key(for: "claude-opus-4-1-20250805") == "claude-opus-4-1")
        #expect(ModelPrices.key(for: "gpt-5-2025-08-07") == "gpt-5")
        #expect(ModelPrices.key(for: "m-2025-08-07-20250101") == "m")
        #expect(ModelPrices.key(for: "model-1234567") == "model-1234567")
        #expect(ModelPrices.key(for: "model-2025-8-07") == "model-2025-8-07")
        #expect(ModelPrices.key(for: "20250929") == "20250929")
        #expect(ModelPrices.key(for: "fake-small") == "fake-small")
    }

    @Test("a price comes from the agent block, else config by model, else the table; else the reported figure, else none")
    func priceSources() {
        let tokens = TokenUsage(input: 1_000_000, output: 1_000_000)
        let table = UsagePricing().recorded(AgentUsage(model: "claude-haiku-4-5", tokens: tokens, reportedCostUSD: 99), stepId: "s")
        #expect(table.priceSource == .table && Self.close(table.costUSD, 6) && table.reportedCostUSD == 99)

        let configured = UsagePricing(configPrices: ["claude-haiku-4-5": TokenPrices(inputPerMTok: 1, outputPerMTok: 1)])
        let fromConfig = configured.recorded(AgentUsage(model: "Claude-Haiku-4-5-20251001", tokens: tokens), stepId: "s")
        #expect(fromConfig.priceSource == .config && Self.close(fromConfig.costUSD, 2))

        let block = UsagePricing(blockPrices: TokenPrices(inputPerMTok: 10, outputPerMTok: 0), configPrices: configured.configPrices)
        #expect(Self.close(block.recorded(AgentUsage(model: "claude-haiku-4-5", tokens: tokens), stepId: "s").costUSD, 10))

        let reported = UsagePricing().recorded(AgentUsage(model: "mystery", tokens: tokens, reportedCostUSD: 0.25), stepId: "s")
        #expect(reported.priceSource == .reported && reported.costUSD == 0.25)
        let unknown = UsagePricing().recorded(AgentUsage(model: "mystery", tokens: tokens), stepId: "s")
        #expect(unknown.priceSource == PriceSource.none && unknown.costUSD == 0 && unknown.reportedCostUSD == nil)
    }

    @Test("config prices and budgets: the workspace's price wins, the stricter budget wins, mistakes name the field")
    func config() throws {
        let dir = try TempDir()
        try dir.write("config/config.json", """
            {"prices": {"my-model": {"inputPerMTok": 1, "outputPerMTok": 2}, "gpt-5": {"inputPerMTok": 9, "outputPerMTok": 9}},
             "budgets": {"perRun": {"maxUSD": 5}, "perDay": {"maxUSD": 20, "maxTokens": 1000}}}
            """)
        try dir.write("ws/.drover/config.json", """
            {"prices": {"gpt-5": {"inputPerMTok": 1.5, "outputPerMTok": 12, "cacheReadPerMTok": 0.1}},
             "budgets": {"perRun": {"maxUSD": 8, "maxTokens": 500}, "perDay": {"maxUSD": 10}}}
            """)
        let config = EngineConfig.load(workspace: dir.url.appendingPathComponent("ws"), configDirectory: dir.url.appendingPathComponent("config"))
        #expect(config.errors.isEmpty, "\(config.errors)")
        #expect(config.prices["my-model"] == TokenPrices(inputPerMTok: 1, outputPerMTok: 2))
        #expect(config.prices["gpt-5"] == TokenPrices(inputPerMTok: 1.5, outputPerMTok: 12, cacheReadPerMTok: 0.1))
        #expect(config.budgets.perRun == RunBudget(maxUSD: 5, maxTokens: 500))
        #expect(config.budgets.perDay == RunBudget(maxUSD: 10, maxTokens: 1000))
    }

    @Test("bad prices and budgets are errors with the file and the field's path, and nothing of them is used")
    func badConfig() throws {
        let dir = try TempDir()
        try dir.write("ws/.drover/config.json", """
            {"prices": {"gpt-5": {"inputPerMTok": -1, "outputPerMTok": 10, "perCall": 1}, "half": {"inputPerMTok": 1}},
             "budgets": {"perRun": {"maxUSD": 0}, "perDay": {"maxTokens": 1.5, "maxEuro": 3}, "perWeek": {}}}
            """)
        let config = EngineConfig.load(workspace: dir.url.appendingPathComponent("ws"), configDirectory: dir.url.appendingPathComponent("config"))
        let file = dir.url.appendingPathComponent("ws/.drover/config.json").path
        #expect(config.spendingErrors == [
            "\(file): field 'prices.gpt-5.inputPerMTok' must be a number ≥ 0 (US dollars per million tokens)",
            "\(file): field 'prices.gpt-5.perCall' is not a price (expected one of inputPerMTok, outputPerMTok, cacheReadPerMTok, cacheWritePerMTok, cachedInputPerMTok)",
            "\(file): field 'prices.half' needs inputPerMTok and outputPerMTok",
            "\(file): unknown field 'budgets.perWeek' (allowed: perRun, perDay)",
            "\(file): field 'budgets.perRun.maxUSD' must be a positive number of US dollars",
            "\(file): unknown field 'budgets.perDay.maxEuro' (allowed: maxUSD, maxTokens)",
            "\(file): field 'budgets.perDay.maxTokens' must be a positive whole number of tokens",
        ], "\(config.spendingErrors)")
        #expect(config.spendingErrors.allSatisfy { config.errors.contains($0) })
        #expect(config.prices.isEmpty)
        #expect(config.budgets == BudgetDefaults())
    }
}
