import PostgresTestServer
import Testing

extension Trait where Self == ConditionTrait {
    /// `.enabled(if:)` for a condition that blocks the first time it is asked (it runs a process: an agent
    /// locator, `python3 -c 'import acp'`, initdb and pg_ctl): asked on a thread of its own, not on the
    /// cooperative pool every suite running beside it needs (`onOwnThread`).
    static func enabled(ifBlocking condition: @escaping @Sendable () -> Bool, _ comment: Comment) -> Self {
        .enabled(comment) { try await onOwnThread(condition) }
    }
}
