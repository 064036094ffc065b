import DroverProtocol
import Foundation

/// What an engine is busy with, for the engine process's idle and drain decisions and `drover engine status`.
public struct EngineActivity: Sendable {
    /// Agent attempts running now.
    public var liveAttempts: Int
    /// Runs about to start a step (an `advance` scheduled and not done), being picked up after a crash,
    /// or with an outcome the store could not take yet (`Engine+StoreStalls`).
    public var pendingAdvances: Int
    /// Runs waiting for a slot, a dependency, or a rate limit to pass.
    public var queuedRuns: Int
    /// Whether new runs are refused (`drover engine drain`).
    public var draining: Bool
    /// Runs with an outcome, usage or next step the store could not take yet (`Engine+StoreStalls`).
    public var runsWaitingForStore = 0
    /// Why the store refused the latest of those writes (e.g. its disk is full); nil when none waits.
    public var storeError: String?

    /// Nothing runs and nothing is about to.
    public var isQuiet: Bool { liveAttempts == 0 && pendingAdvances == 0 }
}

extension Engine {
    /// What the engine is doing now.
    public func activity() -> EngineActivity {
        EngineActivity(liveAttempts: live.count, pendingAdvances: scheduledAdvances + reaping.count + stalls.count,
                       queuedRuns: scheduler.waitingCount + rateLimitWakes.count, draining: scheduler.draining,
                       runsWaitingForStore: stalls.count, storeError: stalls.isEmpty ? nil : lastStoreError)
    }
}
