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
