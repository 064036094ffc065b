/// How much output may wait for a client that reads slowly before the outbox sheds some of it.
///
/// Sizes are bytes admitted and not yet written (answers, notifications, held and corked output).
/// `run/log` lines go first: beyond `logs` they are dropped and counted. Beyond `events`, `run/event`s
/// are dropped too, and the reader stops taking requests until the client reads. Once the backlog is
/// down to `resume`, the client is told what it missed (`run/logsDropped`, `run/eventsDropped`).
public struct OutboxLimits: Sendable, Hashable {
    /// Backlog beyond which `run/log` notifications are dropped.
    public var logs: Int
    /// Backlog beyond which `run/event` notifications are dropped and requests wait to be read.
    public var events: Int
    /// Backlog at or below which dropping ends and the gaps are announced.
    public var resume: Int

    /// - Parameters: see the properties; `resume ≤ logs ≤ events` is expected.
    public init(logs: Int = 4 << 20, events: Int = 16 << 20, resume: Int = 1 << 20) {
        self.logs = logs
        self.events = events
        self.resume = resume
    }

    /// Limits derived from one figure, the most output that may wait (`drover serve --max-backlog-bytes`):
    /// logs are shed at a quarter of it, and dropping ends at a sixteenth.
    public init(backlog: Int) {
        self.init(logs: backlog / 4, events: backlog, resume: backlog / 16)
    }
}
