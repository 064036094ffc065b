/// `run/event`: one durable event, as stored.
public struct RunEventNotification: NotificationType {
    public static let method = "run/event"
}

/// Which output a `run/log` line came from.
public enum LogStream: String, Codable, Sendable, CaseIterable {
    case agent, stderr, tests
}

/// `run/log`: ephemeral live output of a step attempt.
public struct RunLogNotification: NotificationType {
    public static let method = "run/log"
    public var runId: String
    public var stepId: String
    public var attempt: Int
    public var stream: LogStream
    public var text: String
    /// Byte offset in the attempt's log file of the line this text came from (the offsets `step/log`
    /// pages by), so a client that backfilled up to `nextOffset` skips lines with a smaller offset.
    public var offset: Int
    public init(runId: String, stepId: String, attempt: Int, stream: LogStream, text: String, offset: Int) {
        self.runId = runId
        self.stepId = stepId
        self.attempt = attempt
        self.stream = stream
        self.text = text
        self.offset = offset
    }
}

/// `run/logsDropped`: `lines` `run/log` notifications of one attempt were not sent because the client
/// fell behind reading; the lines are in the attempt's log file, from `fromOffset` on (`step/log`).
public struct RunLogsDroppedNotification: NotificationType, Hashable {
    public static let method = "run/logsDropped"
    public var runId: String
    public var stepId: String
    public var attempt: Int
    public var lines: Int
    /// The log-file offset of the first line not sent (the `offset` its `run/log` would have had).
    public var fromOffset: Int
    public init(runId: String, stepId: String, attempt: Int, lines: Int, fromOffset: Int) {
        self.runId = runId
        self.stepId = stepId
        self.attempt = attempt
        self.lines = lines
        self.fromOffset = fromOffset
    }
}

/// `run/eventsDropped`: the client fell so far behind that the run's `run/event`s after `afterSeq`
/// were not sent; it catches up with `run/events {runId, afterSeq}`.
public struct RunEventsDroppedNotification: NotificationType, Hashable {
    public static let method = "run/eventsDropped"
    public var runId: String
    public var afterSeq: Int
    public init(runId: String, afterSeq: Int) {
        self.runId = runId
        self.afterSeq = afterSeq
    }
}
