import DroverProtocol

/// Tool permissions as durable gates while the agent waits: a permission the live attempt asks for
/// becomes `decision.requested` (with the attempt's number and the tool), the run is blocked and the
/// agent process waits; `decision/resolve` sends the answer back to it and the attempt goes on
/// (`decision.resolved` with the attempt's number). Requests that arrive while one is open wait their
/// turn. If the attempt is gone when the answer comes (the engine stopped meanwhile), the step re-runs
/// with the answer in its prompt, resuming the agent's session.
extension Engine {
    /// The agent of `attempt` asks for a tool: queue it, and raise it unless another is open.
    func permissionRequested(_ request: AgentPermissionRequest, runId: String, stepId: String, attempt: Int) {
        if self.live[runId]?.candidates != nil {
            // A consensus round's candidates run at once: one cannot block the run on a person while the others work.
            request.reply.send(.withdrawn(reason: "a consensus candidate cannot wait for a person's answer"))
            return
        }
        guard var live = live[runId], live.stepId == stepId, live.attempt == attempt, live.stop == nil else {
            request.reply.send(.withdrawn(reason: "the step is stopping"))
            return
        }
        live.permissions.append(PendingPermission(request: request, decisionId: nil))
        self.live[runId] = live
        raiseNextPermission(runId: runId)
    }

    /// The attempt of `runId` that waits, while it runs, on the decision `decisionId`; nil when none does.
    func attemptWaiting(runId: String, decisionId: String) -> Int? {
        guard let live = live[runId], live.stop == nil, live.permissions.first?.decisionId == decisionId else { return nil }
        return live.attempt
    }

    /// Sends the recorded answer of the open permission `decisionId` to the agent, then raises the next one.
    func deliverPermissionAnswer(runId: String, decisionId: String) {
        guard var live = live[runId], let pending = live.permissions.first, pending.decisionId == decisionId,
              let run = try? loadRun(runId), let decision = run.step(live.stepId)?.decision, decision.id == decisionId,
              let choice = decision.chosen else { return }
        live.permissions.removeFirst()
        self.live[runId] = live
        let reason = (try? history(runId))?.decision(decisionId)?.reason
        pending.request.reply.send(.chosen(choice, reason: reason))
        raiseNextPermission(runId: runId)
    }

    /// Raises the oldest queued permission as a decision, when none is open and the step still works.
    private func raiseNextPermission(runId: String) {
        guard var live = live[runId], let next = live.permissions.first, next.decisionId == nil else { return }
        do {
            let run = try loadRun(runId)
            guard run.status == .running, run.step(live.stepId)?.state == .working else { return }
            let number = try history(runId).nextDecisionNumber(stepId: live.stepId)
            let decisionId = Identifiers.decisionID(stepId: live.stepId, number: number)
            live.permissions[0].decisionId = decisionId
            self.live[runId] = live
            try commit([.decisionRequested(.init(
                stepId: live.stepId, decisionId: decisionId, question: next.request.question,
                options: next.request.options, attempt: live.attempt, permission: next.request.permission))], runId: runId)
        } catch {
            log("cannot raise the permission request of run \(runId) step \(live.stepId): \(error)")
            next.request.reply.send(.withdrawn(reason: "drover could not record the request"))
        }
    }

    /// Before a permission is answered with no attempt waiting on it: if its attempt's agent was left
    /// behind by an engine that died, it is stopped, so the re-run is the only agent on the step.
    func reapAgentLeftWaiting(runId: String, decisionId: String) async {
        guard live[runId] == nil, !reaping.contains(runId), let run = try? loadRun(runId),
              let step = run.steps.first(where: { $0.decision?.id == decisionId }),
              let attempt = step.decision?.attempt, step.decision?.chosen == nil else { return }
        reaping.insert(runId)
        await reapOrphanedAgent(runId: runId, stepId: step.id, attempt: attempt)
        endReap(runId)
    }

    /// When the run is cancelled: every request the live attempt waits on is withdrawn (an ACP agent hears
    /// `cancelled`), before its process is stopped.
    func withdrawPermissions(runId: String, reason: String) {
        guard var live = live[runId] else { return }
        let pending = live.permissions
        live.permissions.removeAll()
        self.live[runId] = live
        for waiting in pending { waiting.request.reply.send(.withdrawn(reason: reason)) }
    }
}
