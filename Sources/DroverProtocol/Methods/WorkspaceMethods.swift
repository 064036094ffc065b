/// `pipeline/list`: every pipeline the workspace can run, broken ones with their errors.
public struct PipelineListRequest: RequestType {
    public typealias Response = PipelineListResult
    public static let method = "pipeline/list"
    public init() {}
}

/// A pipeline as clients see it.
public struct PipelineInfo: Codable, Sendable, Hashable {
    /// Where a pipeline definition (or the agent a step runs) came from; decides whether trust is needed.
    public enum Source: String, Codable, Sendable { case builtin, workspace, user }
    public var id: String
    public var name: String
    public var description: String?
    public var source: Source
    /// The file it was read from (absent for built-in pipelines).
    public var path: String?
    public var steps: [StepInfo]
    /// Validation errors; a pipeline with errors cannot be started.
    public var errors: [String]
    public init(id: String, name: String, description: String? = nil, source: Source, path: String? = nil,
                steps: [StepInfo], errors: [String] = []) {
        self.id = id
        self.name = name
        self.description = description
        self.source = source
        self.path = path
        self.steps = steps
        self.errors = errors
    }
}

/// The answer to `pipeline/list`.
public struct PipelineListResult: Codable, Sendable, Hashable {
    public var pipelines: [PipelineInfo]
    public init(pipelines: [PipelineInfo]) { self.pipelines = pipelines }
}

/// `step/log`: a slice of a step attempt's log file.
public struct StepLogRequest: RequestType {
    public typealias Response = StepLogResult
    public static let method = "step/log"
    public var runId: String
    public var stepId: String
    public var attempt: Int?
    public var offset: Int?
    public var limit: Int?
    public init(runId: String, stepId: String, attempt: Int? = nil, offset: Int? = nil, limit: Int? = nil) {
        self.runId = runId
        self.stepId = stepId
        self.attempt = attempt
        self.offset = offset
        self.limit = limit
    }
}

/// The answer to `step/log`; offsets count bytes of the log file.
public struct StepLogResult: Codable, Sendable, Hashable {
    public var text: String
    public var nextOffset: Int
    public var eof: Bool
    public init(text: String, nextOffset: Int, eof: Bool) {
        self.text = text
        self.nextOffset = nextOffset
        self.eof = eof
    }
}

/// `workspace/trust`: record the user's answer to "trust this workspace?".
public struct WorkspaceTrustRequest: RequestType {
    public typealias Response = WorkspaceTrustResult
    public static let method = "workspace/trust"
    public var trusted: Bool
    public init(trusted: Bool) { self.trusted = trusted }
}

/// The answer to `workspace/trust`.
public struct WorkspaceTrustResult: Codable, Sendable, Hashable {
    public var trusted: Bool
    public init(trusted: Bool) { self.trusted = trusted }
}
