/// `run/report`: a run told as Markdown (the page `.drover/reports/<run-id>.md` holds once it ended).
public struct RunReportRequest: RequestType {
    public typealias Response = RunReportResult
    public static let method = "run/report"
    public var runId: String
    public init(runId: String) {
        self.runId = runId
    }
}

/// The answer to `run/report`.
public struct RunReportResult: Codable, Sendable, Hashable {
    public var runId: String
    /// The report: task, outcome, steps, tests, gates, changes, failure.
    public var markdown: String
    /// Where it was written (`<workspace>/.drover/reports/<run-id>.md`); absent while the run has not ended.
    public var path: String?
    public init(runId: String, markdown: String, path: String? = nil) {
        self.runId = runId
        self.markdown = markdown
        self.path = path
    }
}
