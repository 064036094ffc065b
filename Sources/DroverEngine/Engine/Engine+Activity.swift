import DroverProtocol
import Foundation

/// What an engine is busy with, for the engine process's idle and drain decisions and `drover engine status`.
public struct EngineActivity: Sendable {
    /// Agent attempts running now.
    public var liveAttempts: Int
    /// Runs about to start a step (an `advance` scheduled and not done) or being picked up after a crash.
    public var pendingAdvances: Int
    /// Runs waiting for a slot, a dependency, or a rate limit to pass.
    public var queuedRuns: Int
    /// Whether new runs are refused (`drover engine drain`).
    public var draining: Bool

    /// Nothing runs and nothing is about to.
    public var isQuiet: Bool { liveAttempts == 0 && pendingAdvances == 0 }
}

extension Engine {
    /// What the engine is doing now.
    public func activity() -> EngineActivity {
        EngineActivity(liveAttempts: live.count, pendingAdvances: scheduledAdvances + reaping.count,
                       queuedRuns: scheduler.waitingCount + rateLimitWakes.count, draining: scheduler.draining)
    }
}
