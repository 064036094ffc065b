import DroverProtocol

/// The next thing the engine should do for one run: a pure function of its state.
///
/// (Not a scheduler: which runs may go at all is decided elsewhere; this only reads one run.)
public enum NextAction: Sendable, Hashable {
    /// Append `run.started` (the run is still queued).
    case startRun
    /// Launch attempt `attempt` of the step.
    case startStep(stepId: String, attempt: Int)
    /// A step is working; wait for its outcome.
    case awaitStep(stepId: String)
    /// The run waits on a human gate.
    case awaitGate(stepId: String)
    /// Every step is done: append `run.completed`.
    case completeRun
    /// Terminal or paused: nothing to do.
    case idle

    /// The next action for `run`.
    public static func of(_ run: Run) -> NextAction {
        switch run.status {
        case .queued:
            return .startRun
        case .blocked:
            return .awaitGate(stepId: run.currentStep ?? run.steps.first { $0.state == .waiting }?.id ?? "")
        case .paused, .done, .failed, .cancelled:
            return .idle
        case .running:
            guard let index = run.firstUnfinishedStepIndex else { return .completeRun }
            let step = run.steps[index]
            switch step.state {
            case .pending: return .startStep(stepId: step.id, attempt: step.attempts + 1)
            case .working: return .awaitStep(stepId: step.id)
            case .waiting: return .awaitGate(stepId: step.id)
            case .failed, .done, .skipped: return .idle // a failed step comes with run.failed
            }
        }
    }
}
