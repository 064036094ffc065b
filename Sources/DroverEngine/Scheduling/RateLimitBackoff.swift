/// How long a rate-limited step waits when its agent did not say when to try again: `firstSeconds` after
/// the first rate limit in a row, doubling with each further one, never more than `maxSeconds`
/// (defaults 30 s and 15 min; config `rateLimits: {"backoffSeconds", "maxBackoffSeconds"}`).
public struct RateLimitBackoff: Sendable, Hashable {
    public var firstSeconds: Double
    public var maxSeconds: Double

    public init(firstSeconds: Double = 30, maxSeconds: Double = 900) {
        self.firstSeconds = firstSeconds
        self.maxSeconds = maxSeconds
    }

    /// The wait after the `consecutive`-th rate limit in a row of one step (1 for the first).
    public func seconds(consecutive: Int) -> Double {
        var wait = firstSeconds
        for _ in 1..<max(1, consecutive) where wait < maxSeconds { wait *= 2 }
        return min(wait, maxSeconds)
    }
}
