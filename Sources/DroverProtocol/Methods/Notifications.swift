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
    public init(runId: String, stepId: String, attempt: Int, stream: LogStream, text: String) {
        self.runId = runId
        self.stepId = stepId
        self.attempt = attempt
        self.stream = stream
        self.text = text
    }
}
