/// Where a run stands. `blocked` means it waits on a human gate; `paused`, that it reached its budget.
public enum RunStatus: String, WireEnum {
    case queued, running, blocked, paused, done, failed, cancelled

    /// Terminal runs change only through `run/retry` or `run/restart`.
    public var isTerminal: Bool { self == .done || self == .failed || self == .cancelled }
}

/// Why a run waits `queued`: no free slot (`concurrency.maxRuns`), a run it depends on is not done,
/// the engine is draining, or its agent was rate limited (it goes on at `retryAt`).
public enum QueueReason: String, WireEnum {
    case capacity, dependency, draining
    case rateLimit = "rate_limit"
}

/// Token and cost totals. `inputTokens` counts the cache's tokens too (`cacheReadTokens` and
/// `cacheWriteTokens` are parts of it).
public struct Usage: Codable, Sendable, Hashable {
    public var inputTokens: Int
    public var outputTokens: Int
    public var cacheReadTokens: Int
    public var cacheWriteTokens: Int
    public var costUSD: Double

    public init(inputTokens: Int = 0, outputTokens: Int = 0, cacheReadTokens: Int = 0, cacheWriteTokens: Int = 0, costUSD: Double = 0) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cacheReadTokens = cacheReadTokens
        self.cacheWriteTokens = cacheWriteTokens
        self.costUSD = costUSD
    }

    private enum CodingKeys: String, CodingKey { case inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens, costUSD }

    // Recorded before the cache was counted (a `run.paused` `spent`), the cache fields are absent: zero.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        inputTokens = try container.decode(Int.self, forKey: .inputTokens)
        outputTokens = try container.decode(Int.self, forKey: .outputTokens)
        cacheReadTokens = try container.decodeIfPresent(Int.self, forKey: .cacheReadTokens) ?? 0
        cacheWriteTokens = try container.decodeIfPresent(Int.self, forKey: .cacheWriteTokens) ?? 0
        costUSD = try container.decode(Double.self, forKey: .costUSD)
    }

    /// This usage with `recorded` added.
    public mutating func add(_ recorded: EventBody.UsageRecorded) {
        inputTokens += recorded.inputTokens
        outputTokens += recorded.outputTokens
        cacheReadTokens += recorded.cacheReadTokens
        cacheWriteTokens += recorded.cacheWriteTokens
        costUSD += recorded.costUSD
    }
}

/// Where a `usage.recorded` cost came from: Drover's built-in price `table`, the user's `config` (`prices`),
/// the agent's `reported` figure (the model has no price), or `none` (no price and no figure: cost 0).
public enum PriceSource: String, WireEnum {
    case table, config, reported, none
}

/// A run's spending limits; a limit left out does not limit.
public struct RunBudget: Codable, Sendable, Hashable {
    public var maxUSD: Double?
    public var maxTokens: Int?

    public init(maxUSD: Double? = nil, maxTokens: Int? = nil) {
        self.maxUSD = maxUSD
        self.maxTokens = maxTokens
    }

    /// This budget with the limits `other` gives replacing these.
    public func raised(by other: RunBudget?) -> RunBudget {
        RunBudget(maxUSD: other?.maxUSD ?? maxUSD, maxTokens: other?.maxTokens ?? maxTokens)
    }

    /// Whether `usage` has reached a limit.
    public func isReached(by usage: Usage) -> Bool {
        if let maxUSD, usage.costUSD >= maxUSD { return true }
        if let maxTokens, usage.inputTokens + usage.outputTokens >= maxTokens { return true }
        return false
    }
}

/// A run of a pipeline: the fold of its events (see `RunReducer`).
public struct Run: Codable, Sendable, Hashable {
    public var id: String
    public var pipelineId: String
    public var task: String
    public var inputs: [String: String]?
    public var status: RunStatus
    public var createdAt: String
    public var updatedAt: String
    public var currentStep: String?
    public var steps: [Step]
    public var failure: Failure?
    public var usage: Usage
    public var lastSeq: Int
    /// Runs that must be done before this one starts (`run/start` `dependsOn`).
    public var dependsOn: [String]?
    /// While `queued`: why (the latest `run.queued`).
    public var queueReason: QueueReason?
    /// While `queued` for a rate limit: when the step re-runs (ISO 8601 UTC).
    public var retryAt: String?
    /// Where its steps work (set by `run.workspace`; absent for runs recorded before isolation existed).
    public var workspace: RunWorkspace?
    /// Its spending limits (`run/start`, raised by `run/resume`); absent: unlimited.
    public var budget: RunBudget?
    /// A child run: the run whose fan-out step started it, and that step.
    public var parentRunId: String?
    public var parentStepId: String?

    public init(
        id: String, pipelineId: String, task: String, inputs: [String: String]? = nil,
        status: RunStatus, createdAt: String, updatedAt: String, currentStep: String? = nil,
        steps: [Step], failure: Failure? = nil, usage: Usage = Usage(), lastSeq: Int = 0,
        dependsOn: [String]? = nil, queueReason: QueueReason? = nil, workspace: RunWorkspace? = nil, budget: RunBudget? = nil,
        parentRunId: String? = nil, parentStepId: String? = nil
    ) {
        self.parentRunId = parentRunId
        self.parentStepId = parentStepId
        self.dependsOn = dependsOn
        self.queueReason = queueReason
        self.budget = budget
        self.id = id
        self.pipelineId = pipelineId
        self.task = task
        self.inputs = inputs
        self.status = status
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.currentStep = currentStep
        self.steps = steps
        self.failure = failure
        self.usage = usage
        self.lastSeq = lastSeq
        self.workspace = workspace
    }

    /// The step with this id, if the pipeline has one.
    public func step(_ id: String) -> Step? { steps.first { $0.id == id } }

    /// The index of the step with this id.
    public func stepIndex(_ id: String) -> Int? { steps.firstIndex { $0.id == id } }

    /// The same run with step outputs and proposals removed (what `run/list` returns).
    public var summary: Run {
        var copy = self
        for index in copy.steps.indices {
            copy.steps[index].output = nil
            copy.steps[index].approval?.proposal = ""
        }
        return copy
    }
}
