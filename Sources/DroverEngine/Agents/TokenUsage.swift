import DroverProtocol

/// Token counts as OpenAI-style APIs report them: `cachedInput` is the part of `input` read from the
/// prompt cache (not on top of it), `reasoningOutput` the part of `output` spent reasoning.
struct TokenUsage: Sendable, Hashable {
    var input = 0
    var cachedInput = 0
    var output = 0
    var reasoningOutput = 0

    /// What was used since `earlier`, for agents that report running totals (a resumed Codex thread counts
    /// its earlier turns again). Never negative: a total that went down (a fresh thread) counts from zero.
    func since(_ earlier: TokenUsage) -> TokenUsage {
        guard input >= earlier.input, cachedInput >= earlier.cachedInput, output >= earlier.output,
              reasoningOutput >= earlier.reasoningOutput else { return self }
        return TokenUsage(input: input - earlier.input, cachedInput: cachedInput - earlier.cachedInput,
                          output: output - earlier.output, reasoningOutput: reasoningOutput - earlier.reasoningOutput)
    }

    var isEmpty: Bool { input == 0 && output == 0 }
}

/// What a model's tokens cost, from an agent block's `prices` (US dollars per million tokens), for agents
/// that report tokens but no cost. Without prices the cost recorded is 0: Drover does not guess prices.
struct TokenPrices: Sendable, Hashable {
    /// The fields of `prices`.
    static let keys = ["inputPerMTok", "cachedInputPerMTok", "outputPerMTok"]

    var inputPerMTok: Double
    /// Cached input tokens; the input price when not given.
    var cachedInputPerMTok: Double
    var outputPerMTok: Double

    /// The block's `prices`, or nil when it has none.
    init?(_ settings: AgentSettings) {
        guard let prices = settings.values["prices"]?.objectValue else { return nil }
        inputPerMTok = prices["inputPerMTok"]?.nonNegativeNumber ?? 0
        cachedInputPerMTok = prices["cachedInputPerMTok"]?.nonNegativeNumber ?? inputPerMTok
        outputPerMTok = prices["outputPerMTok"]?.nonNegativeNumber ?? 0
    }

    init(inputPerMTok: Double, cachedInputPerMTok: Double, outputPerMTok: Double) {
        self.inputPerMTok = inputPerMTok
        self.cachedInputPerMTok = cachedInputPerMTok
        self.outputPerMTok = outputPerMTok
    }

    /// The cost of `usage` in US dollars (reasoning is billed as output, which already counts it).
    func cost(of usage: TokenUsage) -> Double {
        let uncached = max(usage.input - usage.cachedInput, 0)
        return (Double(uncached) * inputPerMTok + Double(usage.cachedInput) * cachedInputPerMTok
                + Double(usage.output) * outputPerMTok) / 1_000_000
    }
}
