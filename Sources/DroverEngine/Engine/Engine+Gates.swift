import DroverProtocol

extension Engine {
    /// `decision/resolve`: a tool permission the live attempt waits on is answered to it, and the attempt
    /// goes on; otherwise the step re-runs with the choice in its prompt (resuming the agent's session).
    public func resolveDecision(_ request: DecisionResolveRequest) async throws -> Run {
        if try ledger.isDrivenElsewhere(request.runId) {
            // The driver's agent may be waiting on this permission: the answer is addressed to its attempt.
            return try answerAsGuest(runId: request.runId) { run, history in
                let attempt = run.steps.lazy.compactMap(\.decision).first { $0.id == request.decisionId }?.attempt
                return try GateRules.resolveDecision(run: run, history: history, decisionId: request.decisionId, choice: request.choice,
                                                     reason: request.reason, waitingAttempt: attempt)
            }
        }
        let waiting = attemptWaiting(runId: request.runId, decisionId: request.decisionId)
        // An agent left waiting by a dead engine is this engine's to stop, unless workers drive the run.
        if waiting == nil, !driving.leavesRunsToWorkers {
            await reapAgentLeftWaiting(runId: request.runId, decisionId: request.decisionId)
        }
        let run = try answerGate(runId: request.runId) { run, history in
            try GateRules.resolveDecision(run: run, history: history, decisionId: request.decisionId, choice: request.choice,
                                          reason: request.reason, waitingAttempt: waiting)
        }
        if waiting != nil { deliverPermissionAnswer(runId: request.runId, decisionId: request.decisionId) }
        if waitsOnChildren(run) { scheduleChildrenCheck(request.runId) } // a child's merge conflict was answered
        return run
    }

    /// `step/approve`: the step completes (with the edited proposal, if any) and the run goes on.
    public func approve(_ request: StepApproveRequest) throws -> Run {
        try answerGate(runId: request.runId) { run, history in
            try GateRules.approve(run: run, history: history, approvalId: request.approvalId, proposal: request.proposal)
        }
    }

    /// `step/requestChanges`: the step re-runs with the feedback and its previous proposal.
    public func requestChanges(_ request: StepRequestChangesRequest) throws -> Run {
        try answerGate(runId: request.runId) { run, history in
            let reviewer = try history.approval(request.approvalId).flatMap { try pipeline(for: run).definition.reviewer(of: $0.stepId)?.id }
            return try GateRules.requestChanges(run: run, history: history, approvalId: request.approvalId, feedback: request.feedback,
                                                reviewer: reviewer)
        }
    }

    /// `step/reject`: the run fails with kind `rejected`.
    public func reject(_ request: StepRejectRequest) throws -> Run {
        try answerGate(runId: request.runId) { run, history in
            try GateRules.reject(run: run, history: history, approvalId: request.approvalId, reason: request.reason)
        }
    }

    /// Applies a gate rule: commits its events and lets the run go on, or returns the run unchanged.
    /// A run another engine drives gets the answer as a guest append (`answerAsGuest`).
    private func answerGate(runId: String, rule: (Run, RunHistory) throws -> GateOutcome) throws -> Run {
        if try ledger.isDrivenElsewhere(runId) { return try answerAsGuest(runId: runId, rule: rule) }
        let run = try loadRun(runId)
        switch try rule(run, try history(runId)) {
        case .unchanged:
            if driving.leavesRunsToWorkers { handOver(runId) }  // the claim taken to answer goes back
            return run
        case .append(let bodies):
            let updated = try commit(bodies, runId: runId)
            if updated.status == .running {
                scheduleAdvance(runId)
            } else if driving.leavesRunsToWorkers, !updated.status.isTerminal {
                handOver(runId)
            }
            return updated
        }
    }
}
