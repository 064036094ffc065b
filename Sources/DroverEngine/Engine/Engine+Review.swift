import DroverProtocol

/// Review steps: an agent grades the output of the step it `reviews`; below the threshold the
/// reviewed step and every step up to the reviewer re-run with the findings in the reviewed step's
/// prompt (`review.rework`), up to `maxRounds`; then a person decides (`ReviewChoice`).
///
/// A reply that is not a verdict (`ReviewVerdictText.parse`) is recorded (`review.malformed`) and the
/// reviewer is asked once more with a repair prompt; a second one fails the step with kind `agent`.
extension Engine {
    /// What the engine adds to a reviewer's prompt: the output under review and the reply it must give
    /// (plus its previous round's findings, and after a malformed reply, the repair request).
    func reviewerPromptAddition(run: Run, step: StepDefinition, history: RunHistory) -> String {
        guard let reviews = step.reviews else { return "" }
        let loop = history.reviewLoops[step.id]
        var text = ReviewVerdictText.reviewerBlock(
            reviews: reviews, output: run.step(reviews)?.output ?? "", threshold: step.threshold ?? StepDefinition.defaultThreshold,
            previous: loop?.lastVerdict)
        if let malformed = loop?.malformed { text += ReviewVerdictText.repairBlock(malformed) }
        return text
    }

    /// A reviewer's attempt completed with `output`: record the verdict and pass, rework, or ask a person.
    func finishReviewAttempt(_ output: String, run: Run, step: StepDefinition, attempt: Int) throws {
        guard let reviews = step.reviews else { throw EngineError.internalError("review step '\(step.id)' names no step to review") }
        let loop = try history(run.id).reviewLoops[step.id]
        let verdict: ReviewVerdictText.Verdict
        switch ReviewVerdictText.parse(output) {
        case .success(let parsed):
            verdict = parsed
        case .failure(let problem):
            let malformed = EventBody.ReviewMalformed(stepId: step.id, attempt: attempt, problem: problem.description,
                                                      text: String(output.prefix(4000)))
            if (loop?.malformedCount ?? 0) == 0 {
                let recorded = try commit([.reviewMalformed(malformed)], runId: run.id)
                try startStep(run: recorded, stepId: step.id, attempt: attempt + 1, resuming: false)
                return
            }
            try commit([.reviewMalformed(malformed)], runId: run.id)
            try failRun(runId: run.id, stepId: step.id, attempt: attempt, failure: Failure(
                kind: .agent,
                message: "The reviewer of step '\(step.id)' did not reply with a verdict, also after a repair prompt: \(problem.description). "
                    + "Its reply: \(StepOutputJSON.excerpt(output))",
                hint: Hints.fixThenRetry(
                    "See `drover logs \(run.id) \(step.id)` for the whole reply; make the reviewer answer {\"score\": 0…1, \"findings\": […]}",
                    runId: run.id),
                stepId: step.id))
            return
        }

        let threshold = step.threshold ?? StepDefinition.defaultThreshold
        let round = (loop?.graded ?? 0) + 1
        let recorded = EventBody.ReviewVerdict(
            stepId: step.id, reviews: reviews, round: round, attempt: attempt, score: verdict.score, threshold: threshold,
            passed: verdict.score >= threshold, findings: verdict.findings)
        var bodies: [EventBody] = [.reviewVerdict(recorded)]
        if recorded.passed {
            bodies += try completion(of: step, attempt: attempt, verdict: recorded, run: run)
        } else if round < (step.maxRounds ?? StepDefinition.defaultMaxRounds) + (loop?.grants ?? 0) {
            bodies.append(.reviewRework(.init(stepId: step.id, reviews: reviews, round: round + 1)))
        } else {
            let number = try history(run.id).nextDecisionNumber(stepId: step.id)
            bodies.append(.decisionRequested(.init(
                stepId: step.id, decisionId: Identifiers.decisionID(stepId: step.id, number: number),
                question: ReviewVerdictText.roundsSpentQuestion(recorded), options: ReviewChoice.options)))
        }
        let updated = try commit(bodies, runId: run.id)
        if updated.status == .running, try !pauseIfOverBudget(updated) { scheduleAdvance(run.id) }
    }

    /// The review step completes with its verdict; the reviewed step's approval, if it needs one, is asked now, with the review.
    private func completion(of step: StepDefinition, attempt: Int, verdict: EventBody.ReviewVerdict, run: Run) throws -> [EventBody] {
        let output = ReviewVerdictText.Verdict(score: verdict.score, findings: verdict.findings).output
        var bodies: [EventBody] = [.stepCompleted(.init(stepId: step.id, attempt: attempt, output: output))]
        let summary = ReviewSummary(stepId: step.id, round: verdict.round, score: verdict.score, threshold: verdict.threshold,
                                    passed: verdict.passed, findings: verdict.findings)
        if let approval = try reviewedApproval(run: run, reviewStep: step, review: summary) { bodies.append(approval) }
        return bodies
    }

    /// `approval.requested` of the step `reviewStep` grades, if that step needs approval: its approval waits
    /// for the review (or for the review being skipped, then without one).
    func reviewedApproval(run: Run, reviewStep: StepDefinition, review: ReviewSummary?) throws -> EventBody? {
        guard let reviews = reviewStep.reviews, try pipeline(for: run).definition.step(reviews)?.needsApproval == true else { return nil }
        let number = try history(run.id).nextApprovalNumber(stepId: reviews)
        return .approvalRequested(.init(stepId: reviews, approvalId: Identifiers.approvalID(stepId: reviews, number: number),
                                        proposal: run.step(reviews)?.output ?? "", review: review))
    }

    /// What to do with a review step the run is about to start, after a person answered its rounds-spent decision.
    enum ReviewChoiceCheck {
        /// No answer to act on: start the step (grade again).
        case run
        /// The answer was acted on; the run goes on from this state.
        case acted(Run)
    }

    /// Acts on the answer to a review step's rounds-spent decision: another round (rework), accept the
    /// last verdict (the step completes), or fail the run.
    func actOnReviewChoice(run: Run, stepId: String) throws -> ReviewChoiceCheck {
        let history = try history(run.id)
        guard let loop = history.reviewLoops[stepId], let choice = loop.choice, let verdict = loop.lastVerdict,
              let step = try pipeline(for: run).definition.step(stepId), step.kind == .review else { return .run }
        let attempt = run.step(stepId)?.attempts ?? verdict.attempt
        switch choice {
        case ReviewChoice.grantRound:
            return .acted(try commit([.reviewRework(.init(stepId: stepId, reviews: verdict.reviews, round: verdict.round + 1))], runId: run.id))
        case ReviewChoice.accept:
            return .acted(try commit(try completion(of: step, attempt: attempt, verdict: verdict, run: run), runId: run.id))
        default:
            try failRun(runId: run.id, stepId: stepId, attempt: attempt, failure: Failure(
                kind: .rejected,
                message: "The review of step '\(verdict.reviews)' still scored \(ReviewVerdictText.number(verdict.score)) "
                    + "(needs \(ReviewVerdictText.number(verdict.threshold))) after \(verdict.round) round(s), and a person chose to fail the run",
                hint: "Run \(Hints.restart(run.id, from: verdict.reviews)) to redo step '\(verdict.reviews)' from scratch, "
                    + "or \(Hints.retry(run.id)) to have it reviewed again",
                stepId: stepId))
            return .acted(try loadRun(run.id))
        }
    }
}
