/// The one list of requests the server implements; dispatch, capabilities and the schema derive from it.
public enum MethodRegistry {
    /// Every client → server request type.
    public static let requests: [any RequestType.Type] = [
        InitializeRequest.self, ShutdownRequest.self,
        PipelineListRequest.self,
        RunStartRequest.self, RunListRequest.self, RunGetRequest.self, RunEventsRequest.self,
        RunCancelRequest.self, RunRetryRequest.self, RunRestartRequest.self, RunResumeRequest.self,
        DecisionResolveRequest.self, StepApproveRequest.self, StepRequestChangesRequest.self, StepRejectRequest.self,
        InboxListRequest.self, StepLogRequest.self, WorkspaceTrustRequest.self,
        RunDiffRequest.self, RunApplyRequest.self,
    ]

    /// Every server → client notification.
    public static let notifications: [String] = [
        RunEventNotification.method, RunLogNotification.method,
        RunLogsDroppedNotification.method, RunEventsDroppedNotification.method,
    ]

    /// Client → server notifications the server understands.
    public static let clientNotifications: [String] = ["initialized", "exit", "$/cancelRequest"]

    /// Method names, as advertised in `capabilities.methods`.
    public static var methodNames: [String] { requests.map { $0.method } }
}
