import DroverProtocol

/// Consensus steps decide: once a round's candidates have all ended (`Engine+ConsensusRound`), the vote
/// picks among the answers, or the judge runs as one more attempt of the step (in the run's own working
/// directory; it sees the answers, not the files); `consensus.decided` names the winner, whose answer
/// becomes the step's output (through its approval, if the step has one). Too few answers (a vote needs
/// more than half of the listed roles, a judge one) fail the step, naming each candidate's failure —
/// unless a candidate hit a rate limit: then the run waits for it (`run.queued`) and runs a fresh round.
///
/// In a run with a worktree, the decision also brings one candidate's file changes into the run's
/// worktree (`ConsensusRules.changes`: the winner's; for a judge's merged answer, the role its reply
/// names in `changesFrom`, else the first answer that changed files), recorded as that candidate's
/// `step.committed`; then every candidate worktree is removed.
extension Engine {
    /// The round has ended and was not stopped: decide by vote, start the judge, or fail for too few answers.
    /// Called while the run's round entry is held; ends it.
    func decideRound(runId: String, stepId: String, consensus: ConsensusSpec, attempt: Int) async {
        do {
            let round = try history(runId).consensusRound(stepId)
            guard ConsensusRules.canDecide(consensus, round: round) else {
                let rateLimit = live[runId]?.rateLimit
                await removeCandidateWorktrees(runId)
                guard stillDeciding(runId: runId, stepId: stepId) else { return }
                if let rateLimit {
                    // Rate limits wait, they don't fail: the step re-runs as a fresh round once they have passed.
                    let run = try commit([.stepInterrupted(.init(stepId: stepId, attempt: attempt))], runId: runId)
                    return try queueForRateLimit(run, stepId: stepId, retryAt: rateLimit.retryAt, message: rateLimit.message)
                }
                try failRun(runId: runId, stepId: stepId, attempt: attempt, failure: Failure(
                    kind: .agent, message: "Consensus step '\(stepId)' could not decide: \(ConsensusRules.tooFewAnswers(consensus, round: round))",
                    hint: Hints.fixThenRetry("See `drover logs \(runId) \(stepId)`; fix the failing roles' agents or config", runId: runId),
                    stepId: stepId))
                return
            }
            switch (consensus.strategy, consensus.judge) {
            case (.judge, let judge?):
                endRound(runId: runId, stepId: stepId)
                try startStep(run: loadRun(runId), stepId: stepId, attempt: attempt + 1, role: judge, resuming: false)
            default:
                let answers = ConsensusRules.answers(round)
                await settleConsensus(ConsensusRules.vote(stepId: stepId, answers: answers), runId: runId, stepId: stepId,
                                      attempt: attempt, answers: answers)
            }
        } catch {
            log("cannot decide consensus step \(stepId) of run \(runId): \(error)")
            endRound(runId: runId, stepId: stepId)
        }
    }

    /// A step resumed with its round complete and not decided yet (the engine stopped in between): decide now.
    func decideAfterRound(runId: String, stepId: String, consensus: ConsensusSpec, attempt: Int) {
        holdRun(runId, stepId: stepId, attempt: attempt) {
            await self.decideRound(runId: runId, stepId: stepId, consensus: consensus, attempt: attempt)
        }
    }

    /// Handles a finished attempt of a consensus step's judge; false when the generic outcome handling
    /// should go on (a question for a person, a rate limit, a timeout, a kill).
    func finishConsensusAttempt(_ outcome: AgentOutcome, run: Run, step: StepDefinition, consensus: ConsensusSpec,
                                attempt: Int) throws -> Bool {
        let history = try history(run.id)
        let role = history.testsLoops[step.id]?.lastStartedRole ?? ""
        let round = history.consensusRound(step.id)
        guard ConsensusRules.isJudging(consensus, role: role, answered: round) else { return false }
        let answers = ConsensusRules.answers(round)
        switch outcome {
        case .completed(let output):
            switch ConsensusRules.verdict(stepId: step.id, judge: role, reply: output, answers: answers) {
            case .success(let decided):
                let (runId, stepId) = (run.id, step.id)
                holdRun(runId, stepId: stepId, attempt: attempt) {
                    await self.settleConsensus(decided, runId: runId, stepId: stepId, attempt: attempt, answers: answers)
                }
            case .failure(let problem):
                let quoted = output.count > 2000 ? String(output.prefix(2000)) + "…" : output
                try failRun(runId: run.id, stepId: step.id, attempt: attempt, failure: Failure(
                    kind: .agent, message: "The judge ('\(role)') of step '\(step.id)' gave no verdict drover can read: \(problem.message). It replied:\n\(quoted)",
                    hint: Hints.fixThenRetry("See `drover logs \(run.id) \(step.id)`; make the judge reply with the JSON its prompt asks for", runId: run.id),
                    stepId: step.id))
            }
            return true
        case .failed(let message, _):
            try failRun(runId: run.id, stepId: step.id, attempt: attempt, roleFailed: "The judge ('\(role)') of consensus step '\(step.id)'",
                        message: message, fix: "fix that role's agent or config")
            return true
        case .decision, .timedOut, .terminated, .rateLimited:
            return false
        }
    }

    /// Brings the decision's chosen changes into the run's worktree, removes the candidates' worktrees,
    /// then records `step.committed` (what landed) and `consensus.decided`, and completes the step.
    /// Called while the run's round entry is held; ends it.
    func settleConsensus(_ decided: EventBody.ConsensusDecided, runId: String, stepId: String, attempt: Int,
                         answers: [EventBody.ConsensusCandidate]) async {
        let chosen = ConsensusRules.changes(of: decided, answers: answers)
        var decided = decided
        decided.changesFrom = nil // set below to the candidate whose change landed
        var landed: EventBody.StepCommitted?
        var problem: String?
        if let chosen, let sha = chosen.commit,
           let path = (try? loadRun(runId))?.workspace?.path {
            let candidates = candidateWorktrees(runId)
            let message = "drover: run \(runId), step \(stepId): the change of '\(chosen.role)' (attempt \(chosen.attempt)), chosen by \(decided.strategy.rawValue)"
            do {
                let commit = try await Self.offActor { try candidates.land(commit: sha, into: path, message: message) }
                landed = .init(stepId: stepId, attempt: chosen.attempt, sha: commit.sha, files: commit.files,
                               insertions: commit.insertions, deletions: commit.deletions)
                decided.changesFrom = chosen.role
            } catch {
                problem = "the change of '\(chosen.role)' (attempt \(chosen.attempt)) could not be brought into the run's worktree: "
                    + ((error as? EngineError)?.message ?? "\(error)")
            }
        }
        await removeCandidateWorktrees(runId)
        guard stillDeciding(runId: runId, stepId: stepId) else { return }
        do {
            if let problem {
                try failRun(runId: runId, stepId: stepId, attempt: attempt, failure: Failure(
                    kind: .agent, message: "Consensus step '\(stepId)' chose '\(decided.winner)', but \(problem)",
                    hint: Hints.fixThenRetry("Look at the run's worktree (`git -C <worktree> status`)", runId: runId), stepId: stepId))
                return
            }
            let needsApproval = try pipeline(for: loadRun(runId)).definition.step(stepId)?.needsApproval ?? false
            try commit((landed.map { [EventBody.stepCommitted($0)] } ?? []) + [.consensusDecided(decided)], runId: runId)
            try completeStep(runId: runId, stepId: stepId, attempt: attempt, output: decided.output, needsApproval: needsApproval)
        } catch {
            log("cannot record the decision of consensus step \(stepId) of run \(runId): \(error)")
        }
    }
}
