import DroverProtocol

/// Consensus steps: each listed role answers the step's prompt as one attempt of the step
/// (`step.started` with its `role`), one after another; every answer is a `consensus.candidate`; then
/// the vote decides, or the judge runs as one more attempt; `consensus.decided` names the winner, whose
/// answer becomes the step's output (through its approval, if the step has one).
///
/// The roles answer in turn rather than at once: a run has one live attempt, and the candidates share
/// the run's working directory, so consensus suits steps that answer or choose rather than edit files.
/// Where a round stands is in the log (`RunHistory.consensusRound`), so a restarted engine goes on
/// with the role that had not answered yet.
extension Engine {
    /// The role the step's next attempt runs as; nil when the round was complete and the vote has now
    /// decided (after an engine stopped between the last answer and the decision).
    func consensusRole(run: Run, stepId: String, consensus: ConsensusSpec, attempt: Int) throws -> String? {
        switch ConsensusRules.next(consensus, answered: try history(run.id).consensusRound(stepId)) {
        case .answer(let role), .judge(let role):
            return role
        case .vote:
            try decideByVote(runId: run.id, stepId: stepId, attempt: max(attempt - 1, 1))
            return nil
        }
    }

    /// Handles a finished attempt of a consensus step; false when the generic outcome handling should go on
    /// (a question for a person, a rate limit, a timeout, a kill).
    func finishConsensusAttempt(_ outcome: AgentOutcome, run: Run, step: StepDefinition, consensus: ConsensusSpec,
                                attempt: Int) throws -> Bool {
        let history = try history(run.id)
        let role = history.testsLoops[step.id]?.lastStartedRole ?? ""
        let answered = history.consensusRound(step.id)
        let judging = ConsensusRules.isJudging(consensus, role: role, answered: answered)
        switch outcome {
        case .completed(let output) where judging:
            switch ConsensusRules.verdict(stepId: step.id, judge: role, reply: output, answers: answered) {
            case .success(let decided):
                try commit([.consensusDecided(decided)], runId: run.id)
                try completeStep(runId: run.id, stepId: step.id, attempt: attempt, output: decided.output, needsApproval: step.needsApproval)
            case .failure(let problem):
                let quoted = output.count > 2000 ? String(output.prefix(2000)) + "…" : output
                try failRun(runId: run.id, stepId: step.id, attempt: attempt, failure: Failure(
                    kind: .agent, message: "The judge ('\(role)') of step '\(step.id)' gave no verdict drover can read: \(problem.message). It replied:\n\(quoted)",
                    hint: Hints.fixThenRetry("See `drover logs \(run.id) \(step.id)`; make the judge reply with the JSON its prompt asks for", runId: run.id),
                    stepId: step.id))
            }
            return true
        case .completed(let output):
            let updated = try commit([.consensusCandidate(.init(stepId: step.id, attempt: attempt, role: role, output: output))], runId: run.id)
            switch ConsensusRules.next(consensus, answered: try self.history(run.id).consensusRound(step.id)) {
            case .answer(let next), .judge(let next):
                try startStep(run: updated, stepId: step.id, attempt: attempt + 1, role: next, resuming: false)
            case .vote:
                try decideByVote(runId: run.id, stepId: step.id, attempt: attempt)
            }
            return true
        case .failed(let message, _):
            let what = judging ? "The judge ('\(role)')" : "Role '\(role)'"
            try failRun(runId: run.id, stepId: step.id, attempt: attempt, roleFailed: "\(what) of consensus step '\(step.id)'",
                        message: message, fix: "fix that role's agent or config")
            return true
        case .decision, .timedOut, .terminated, .rateLimited:
            return false
        }
    }

    /// Every role answered and the step votes: `consensus.decided`, then the winner as the step's output.
    private func decideByVote(runId: String, stepId: String, attempt: Int) throws {
        let decided = ConsensusRules.vote(stepId: stepId, answers: try history(runId).consensusRound(stepId))
        let run = try commit([.consensusDecided(decided)], runId: runId)
        let needsApproval = try pipeline(for: run).definition.step(stepId)?.needsApproval ?? false
        try completeStep(runId: runId, stepId: stepId, attempt: attempt, output: decided.output, needsApproval: needsApproval)
    }
}
