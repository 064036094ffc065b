/// What a shared store says about commits, including other processes' (PostgreSQL's `LISTEN`).
public enum StoreChange: Sendable, Hashable {
    /// The feed is (re)connected: every run in the store and its last seq. `initial` is the first of
    /// these; a later one follows a lost connection, and runs ahead of what a follower has published
    /// (or new to it) changed while the feed could not hear.
    case heads([String: Int], initial: Bool)
    /// `runId` has events up to `lastSeq` (maybe committed by this very process).
    case committed(runId: String, lastSeq: Int)
}

/// Wakes a follower when anyone commits to the store, so an engine can show other engines' events
/// live: the changes only say which run moved; the follower reads the events from the store.
///
/// Changes arrive in order: `.heads` after every (re)connect, before the commits heard on that
/// connection; a commit may be announced both in `heads` and in `.committed`, so followers compare
/// seqs instead of counting announcements.
public protocol StoreChangeFeed: AnyObject, Sendable {
    /// The announcements, in the order heard; finishes after `stop()`.
    var changes: AsyncStream<StoreChange> { get }
    /// Stops listening (closes the connection) and finishes `changes`.
    func stop()
}
