import DroverProtocol

extension Engine {
    /// Reports that arrived together (one batch from the attempt's channel: what the agent printed
    /// while the engine was busy). Consecutive usage reports become one commit — one store
    /// transaction — instead of one each; log lines still go out between them in output order.
    func agentReported(_ reports: [AgentReport], runId: String, stepId: String, attempt: Int) {
        var usage: [EventBody] = []
        for report in reports {
            if case .usage(let used) = report.event {
                usage.append(usageRecorded(used, runId: runId, stepId: stepId, attempt: attempt))
                continue
            }
            recordUsage(&usage, runId: runId)
            agentReported(report, runId: runId, stepId: stepId, attempt: attempt)
        }
        recordUsage(&usage, runId: runId)
    }

    private func recordUsage(_ usage: inout [EventBody], runId: String) {
        guard !usage.isEmpty else { return }
        storeUsage(usage, runId: runId)
        usage.removeAll(keepingCapacity: true)
    }
}
