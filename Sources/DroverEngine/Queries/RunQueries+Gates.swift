import DroverProtocol
import DroverStore

extension RunQueries {
    /// `inbox/list`: every open gate of every blocked run, and every wait on fan-out children, oldest first.
    public func inbox() throws -> InboxListResult {
        try inbox { try history($0.id) }
    }

    /// `inbox/list` with the caller's histories of the runs just read (the engine keeps them cached).
    func inbox(history: (Run) throws -> RunHistory) throws -> InboxListResult {
        var items: [InboxItem] = []
        for run in try allRuns(statuses: [.blocked]) {
            let history = try history(run)
            items += Self.openGates(of: run, history: history)
            items += Self.childrenWaits(of: run, history: history) { try? store.run(id: $0) }
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

    /// What a blocked parent waits on besides gates: each fan-out step waiting on its child runs, with
    /// every child's status from `child` (a child that cannot be read is left out). A step whose merge
    /// conflict waits on a decision shows the decision instead; the item goes when the step stops waiting.
    static func childrenWaits(of run: Run, history: RunHistory?, child: (String) -> Run?) -> [InboxItem] {
        guard run.status == .blocked else { return [] }
        return run.steps.compactMap { step -> InboxItem? in
            guard step.state == .waiting, let childIds = step.children, !childIds.isEmpty,
                  step.decision.map({ $0.chosen != nil }) ?? true else { return nil }
            let fanOut = history?.fanOuts[step.id]
            let children = childIds.compactMap { id in
                child(id).map { InboxItem.Child(runId: id, status: $0.status, task: $0.task) }
            }
            let since = fanOut.map(\.waitingSince).flatMap { $0.isEmpty ? nil : $0 } ?? run.updatedAt
            return InboxItem(runId: run.id, stepId: step.id, kind: .children,
                             id: Identifiers.childrenWaitID(stepId: step.id, attempt: fanOut?.attempt ?? step.attempts),
                             children: children, since: since)
        }
    }
}
