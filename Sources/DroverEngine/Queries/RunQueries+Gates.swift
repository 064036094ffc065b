import DroverProtocol
import DroverStore

extension RunQueries {
    /// `inbox/list`: every open gate of every blocked run, oldest first.
    public func inbox() throws -> InboxListResult {
        try inbox(history: history)
    }

    /// `inbox/list` with the caller's histories (the engine keeps them cached).
    func inbox(history: (String) throws -> RunHistory) throws -> InboxListResult {
        var items: [InboxItem] = []
        for run in try allRuns(statuses: [.blocked]) {
            items += Self.openGates(of: run, history: try history(run.id))
        }
        return InboxListResult(items: items.sorted { ($0.since, $0.runId) < ($1.since, $1.runId) })
    }

    /// The gates a run waits on now: an unanswered decision or a pending approval of a waiting step
    /// of a blocked run. `since` comes from `history` (when the gate was raised), else the run's last change.
    public static func openGates(of run: Run, history: RunHistory?) -> [InboxItem] {
        guard run.status == .blocked else { return [] }
        var items: [InboxItem] = []
        for step in run.steps where step.state == .waiting {
            if let decision = step.decision, decision.chosen == nil {
                items.append(InboxItem(
                    runId: run.id, stepId: step.id, kind: .decision, id: decision.id, question: decision.question,
                    options: decision.options, permission: decision.permission, since: history?.decision(decision.id)?.requestedAt ?? run.updatedAt))
            }
            if let approval = step.approval, approval.status == .pending {
                items.append(InboxItem(
                    runId: run.id, stepId: step.id, kind: .approval, id: approval.id, proposal: approval.proposal, review: approval.review,
                    since: history?.approval(approval.id)?.requestedAt ?? run.updatedAt))
            }
        }
        return items
    }
}
