import DroverProtocol

/// Token counts of one model's use. `input` counts every input token the model read, so `cacheRead`
/// (read from the prompt cache) and `cacheWrite` (written to it) are parts of `input`, not on top of it;
/// `reasoningOutput` is the part of `output` spent reasoning. (OpenAI reports input this way; Anthropic
/// reports the three apart, and its readers add them up.)
public struct TokenUsage: Sendable, Hashable {
    public var input = 0
    public var cacheRead = 0
    public var cacheWrite = 0
    public var output = 0
    public var reasoningOutput = 0

    public init(input: Int = 0, cacheRead: Int = 0, cacheWrite: Int = 0, output: Int = 0, reasoningOutput: Int = 0) {
        self.input = input
        self.cacheRead = cacheRead
        self.cacheWrite = cacheWrite
        self.output = output
        self.reasoningOutput = reasoningOutput
    }

    /// Input tokens neither read from nor written to the cache: what the base input price applies to.
    var uncachedInput: Int { max(input - cacheRead - cacheWrite, 0) }

    /// What was used since `earlier`, for agents that report running totals (a resumed Codex thread counts
    /// its earlier turns again). Never negative: a total that went down (a fresh thread) counts from zero.
    func since(_ earlier: TokenUsage) -> TokenUsage {
        guard input >= earlier.input, cacheRead >= earlier.cacheRead, cacheWrite >= earlier.cacheWrite,
              output >= earlier.output, reasoningOutput >= earlier.reasoningOutput else { return self }
        return TokenUsage(input: input - earlier.input, cacheRead: cacheRead - earlier.cacheRead,
                          cacheWrite: cacheWrite - earlier.cacheWrite, output: output - earlier.output,
                          reasoningOutput: reasoningOutput - earlier.reasoningOutput)
    }

    var isEmpty: Bool { input == 0 && output == 0 }
}

/// What an agent reported using in one attempt, for one model: tokens, and the cost the agent worked out
/// itself when it says (`claude`'s `total_cost_usd`; Codex says none). The engine prices it (`UsagePricing`).
public struct AgentUsage: Sendable, Hashable {
    public var model: String
    public var tokens: TokenUsage
    public var reportedCostUSD: Double?

    public init(model: String, tokens: TokenUsage, reportedCostUSD: Double? = nil) {
        self.model = model
        self.tokens = tokens
        self.reportedCostUSD = reportedCostUSD
    }

    /// `input` and `output` tokens only (the line protocol's and the fake agent's usage).
    public init(model: String, inputTokens: Int, outputTokens: Int, reportedCostUSD: Double?) {
        self.init(model: model, tokens: TokenUsage(input: inputTokens, output: outputTokens), reportedCostUSD: reportedCostUSD)
    }
}

/// What a model's tokens cost, in US dollars per million tokens: the built-in table (`ModelPrices`), the
/// config's `prices` by model, or an agent block's `prices`.
public struct TokenPrices: Sendable, Hashable {
    /// The fields of a `prices` object. `cachedInputPerMTok` is the older name of `cacheReadPerMTok`.
    static let keys = ["inputPerMTok", "outputPerMTok", "cacheReadPerMTok", "cacheWritePerMTok", "cachedInputPerMTok"]

    public var inputPerMTok: Double
    public var outputPerMTok: Double
    /// Input read from the prompt cache; the input price when not given.
    public var cacheReadPerMTok: Double
    /// Input written to the prompt cache; the input price when not given (OpenAI charges nothing extra).
    public var cacheWritePerMTok: Double

    public init(inputPerMTok: Double, outputPerMTok: Double, cacheReadPerMTok: Double? = nil, cacheWritePerMTok: Double? = nil) {
        self.inputPerMTok = inputPerMTok
        self.outputPerMTok = outputPerMTok
        self.cacheReadPerMTok = cacheReadPerMTok ?? inputPerMTok
        self.cacheWritePerMTok = cacheWritePerMTok ?? inputPerMTok
    }

    /// A `prices` object as config and agent blocks write it (validated before: `check(_:field:)`).
    init(_ prices: [String: JSONValue]) {
        let input = prices["inputPerMTok"]?.nonNegativeNumber ?? 0
        self.init(inputPerMTok: input, outputPerMTok: prices["outputPerMTok"]?.nonNegativeNumber ?? 0,
                  cacheReadPerMTok: (prices["cacheReadPerMTok"] ?? prices["cachedInputPerMTok"])?.nonNegativeNumber,
                  cacheWritePerMTok: prices["cacheWritePerMTok"]?.nonNegativeNumber)
    }

    /// The block's `prices`, or nil when it has none.
    init?(_ settings: AgentSettings) {
        guard let prices = settings.values["prices"]?.objectValue else { return nil }
        self.init(prices)
    }

    /// The cost of `usage` in US dollars (reasoning is billed as output, which already counts it).
    public func cost(of usage: TokenUsage) -> Double {
        (Double(usage.uncachedInput) * inputPerMTok + Double(usage.cacheRead) * cacheReadPerMTok
         + Double(usage.cacheWrite) * cacheWritePerMTok + Double(usage.output) * outputPerMTok) / 1_000_000
    }

    /// Problems with a `prices` object at `field` (e.g. `agents.coder.prices`, `prices.gpt-5`), each
    /// starting with the field's path.
    static func check(_ value: JSONValue, field: String) -> [String] {
        guard let prices = value.objectValue else {
            return ["field '\(field)' must be an object of prices in US dollars per million tokens (\(keys.joined(separator: ", ")))"]
        }
        var problems: [String] = []
        for (key, price) in prices.sorted(by: { $0.key < $1.key }) {
            if !keys.contains(key) {
                problems.append("field '\(field).\(key)' is not a price (expected one of \(keys.joined(separator: ", ")))")
            } else if price.nonNegativeNumber == nil {
                problems.append("field '\(field).\(key)' must be a number ≥ 0 (US dollars per million tokens)")
            }
        }
        if prices["inputPerMTok"] == nil || prices["outputPerMTok"] == nil {
            problems.append("field '\(field)' needs inputPerMTok and outputPerMTok")
        }
        return problems
    }
}
