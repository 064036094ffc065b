import DroverProtocol

/// Conditional steps: a step's `when` is evaluated each time the run reaches the step, from the
/// outputs its earlier steps have then.
extension Engine {
    /// What to do with a step the run is about to start.
    enum ConditionCheck {
        /// No `when`, or it holds: start the step.
        case run
        /// The condition is false: `step.skipped` was recorded; the run goes on with this state.
        case skipped(Run)
        /// The condition could not be evaluated: the run failed.
        case failed
    }

    /// Evaluates the step's `when`; records `step.skipped`, or fails the run naming the step and the path.
    func checkCondition(run: Run, stepId: String) throws -> ConditionCheck {
        guard let definition = try? pipeline(for: run).definition.step(stepId), let condition = definition.when else { return .run }
        let output = run.step(condition.step).flatMap { $0.state == .done ? $0.output ?? "" : nil }
        let outcome: StepCondition.Outcome
        do {
            outcome = try condition.evaluate(output: output)
        } catch {
            try commit([.runFailed(.init(failure: Failure(
                kind: .agent,
                message: "Step '\(stepId)' of pipeline '\(run.pipelineId)' cannot decide whether to run: \(error.description)",
                hint: "Make step '\(condition.step)' reply with JSON that has '\(condition.path)', or fix the 'when' of step '\(stepId)'; "
                    + "then run \(Hints.restart(run.id, from: condition.step)), or \(Hints.retry(run.id)) to evaluate it again",
                stepId: stepId)))], runId: run.id)
            return .failed
        }
        if outcome.holds { return .run }
        var bodies: [EventBody] = [.stepSkipped(.init(stepId: stepId, reason: outcome.reason))]
        // A skipped reviewer leaves its reviewed step's approval to ask, without a review.
        if definition.kind == .review, let approval = try reviewedApproval(run: run, reviewStep: definition, review: nil) {
            bodies.append(approval)
        }
        return .skipped(try commit(bodies, runId: run.id))
    }
}
