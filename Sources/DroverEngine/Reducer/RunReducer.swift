import DroverProtocol

/// The one place where a run's state changes: a pure fold of its events.
///
/// No I/O, no clock, no ids: everything arrives inside the events. The engine decides which
/// events to append (`GateRules`, `NextAction`, the step runner); this decides what they mean.
///
/// Conventions that protocol/README.md leaves open:
/// - `attempts` counts every attempt of a step over the run's whole life (retry and restart do
///   not reset it), so `<step>.<attempt>.log` files never collide.
/// - A step's `output` is set only by `step.completed`; while an approval is pending the text is
///   in `approval.proposal`.
/// - `step.interrupted` puts the step back to `pending`; the run keeps its status, so the next
///   engine re-runs the step with a new attempt.
/// - `run.queued` with reason `rate_limit` queues a started run again and puts its `stepId` back to
///   `pending`, like `step.interrupted`; the next attempt starts after `run.started`.
/// - `run.cancelled` marks a `working`/`waiting` step `failed` and records a `cancelled` failure.
public enum RunReducer {
    /// Why an event could not be applied.
    public enum Error: Swift.Error, Hashable, CustomStringConvertible {
        /// The first event of a run must be `run.created`.
        case noRun(runId: String, seq: Int, type: String)

        public var description: String {
            switch self {
            case .noRun(let runId, let seq, let type):
                "event \(seq) of run \(runId) is '\(type)', but the run has no 'run.created' before it"
            }
        }
    }

    /// Folds a whole event log; nil for an empty log.
    public static func fold(_ events: [Event]) throws -> Run? {
        var run: Run?
        for event in events { run = try apply(event, to: run) }
        return run
    }

    /// Applies one event to a run (nil before `run.created`).
    public static func apply(_ event: Event, to run: Run?) throws -> Run {
        if case .runCreated(let created) = event.body {
            return Run(
                id: event.runId, pipelineId: created.pipelineId, task: created.task, inputs: created.inputs,
                status: .queued, createdAt: event.at, updatedAt: event.at, currentStep: nil,
                steps: created.steps.map { Step(id: $0.id, kind: $0.kind, role: $0.role) },
                failure: nil, usage: Usage(), lastSeq: event.seq, dependsOn: created.dependsOn, budget: created.budget,
                parentRunId: created.parentRunId, parentStepId: created.parentStepId)
        }
        guard var run else { throw Error.noRun(runId: event.runId, seq: event.seq, type: event.type) }
        run.lastSeq = event.seq
        run.updatedAt = event.at

        switch event.body {
        case .runCreated:
            break // handled above

        case .runQueued(let data):
            // A started run is queued again only by a rate limit: its step goes back to pending (the
            // attempt neither failed nor counts as a try) and the run waits for `retryAt`.
            run.status = .queued
            run.queueReason = data.reason
            run.retryAt = data.retryAt
            if let stepId = data.stepId {
                run.updateStep(stepId) { step in
                    guard step.state == .working else { return }
                    step.state = .pending
                    step.finishedAt = event.at
                }
            }

        case .runStarted:
            run.status = .running
            run.queueReason = nil
            run.retryAt = nil

        case .stepStarted(let data):
            run.status = .running
            run.currentStep = data.stepId
            run.updateStep(data.stepId) { step in
                step.state = .working
                step.attempts = max(step.attempts, data.attempt)
                step.output = nil
                step.startedAt = event.at
                step.finishedAt = nil
                step.children = nil
            }

        case .stepCompleted(let data):
            // A fan-out step completes once its children are merged: the run stops waiting on them.
            if run.status == .blocked, run.step(data.stepId)?.children != nil { run.status = .running }
            run.updateStep(data.stepId) { step in
                step.state = .done
                step.output = data.output
                step.finishedAt = event.at
            }

        case .stepFailed(let data):
            run.recordFailure(data.failure)
            run.updateStep(data.stepId) { step in
                step.state = .failed
                step.finishedAt = event.at
            }

        case .stepInterrupted(let data):
            run.updateStep(data.stepId) { step in
                step.state = .pending
                step.finishedAt = event.at
            }

        case .stepSkipped(let data):
            run.updateStep(data.stepId) { step in
                step.state = .skipped
                step.output = nil
                step.finishedAt = event.at
            }

        case .decisionRequested(let data):
            run.status = .blocked
            run.currentStep = data.stepId
            run.updateStep(data.stepId) { step in
                step.state = .waiting
                step.decision = Decision(id: data.decisionId, question: data.question, options: data.options,
                                         attempt: data.attempt, permission: data.permission)
            }

        case .decisionResolved(let data):
            let waitsOnChildren = run.step(data.stepId).map { $0.children != nil && $0.state == .waiting } ?? false
            run.status = waitsOnChildren ? .blocked : .running
            run.updateStep(data.stepId) { step in
                if step.decision?.id == data.decisionId { step.decision?.chosen = data.choice }
                // A fan-out step's merge decision: the step still waits for its children to be merged.
                if waitsOnChildren { return }
                // Answered to the attempt that waited: it goes on. Otherwise the step re-runs with the
                // choice in its prompt.
                step.state = data.attempt == nil ? .pending : .working
            }

        case .approvalRequested(let data):
            run.status = .blocked
            run.currentStep = data.stepId
            run.updateStep(data.stepId) { step in
                step.state = .waiting
                step.approval = Approval(id: data.approvalId, status: .pending, proposal: data.proposal, review: data.review)
            }

        case .approvalResolved(let data):
            run.updateStep(data.stepId) { step in
                guard step.approval?.id == data.approvalId else { return }
                step.approval?.status = data.status
                if let feedback = data.feedback { step.approval?.feedback = feedback }
                if let proposal = data.proposal { step.approval?.proposal = proposal }
                switch data.status {
                case .approved, .pending: break // `step.completed` follows an approval
                case .changesRequested: step.state = .pending
                case .rejected:
                    step.state = .failed
                    step.finishedAt = event.at
                }
            }
            if data.status == .approved || data.status == .changesRequested { run.status = .running }

        case .agentSession:
            break // kept in the log for resuming (RunHistory); nothing a client sees on the run changes

        case .usageRecorded(let data):
            run.usage.add(data)

        case .runRetried(let data), .runRestarted(let data):
            run.status = .running
            run.failure = nil
            run.queueReason = nil
            run.retryAt = nil
            run.currentStep = data.fromStep
            if let from = run.stepIndex(data.fromStep) { run.resetSteps(from..<run.steps.count) }

        case .reviewRework(let data):
            run.status = .running
            run.currentStep = data.reviews
            if let from = run.stepIndex(data.reviews), let through = run.stepIndex(data.stepId), from <= through {
                run.resetSteps(from..<(through + 1))
            }

        case .reviewVerdict, .reviewMalformed:
            break // history only: the review step's state changes with the events that follow

        case .runPaused:
            run.status = .paused

        case .runResumed(let data):
            run.status = .running
            if let budget = data.budget { run.budget = budget }

        case .runCompleted:
            run.status = .done
            run.currentStep = nil

        case .runFailed(let data):
            run.status = .failed
            run.queueReason = nil
            run.retryAt = nil
            run.recordFailure(data.failure)

        case .runWorkspace(let data):
            run.workspace = RunWorkspace(isolation: data.isolation, path: data.path, branch: data.branch, base: data.base,
                                         baseCommit: data.baseCommit, note: data.note, remote: data.remote)

        case .runChildren(let data):
            run.status = .blocked
            run.currentStep = data.stepId
            run.updateStep(data.stepId) { step in
                step.state = .waiting
                var children = step.children ?? []
                for child in data.children {
                    if let replaced = child.replaces, let index = children.firstIndex(of: replaced) {
                        children[index] = child.runId
                    } else {
                        children.append(child.runId)
                    }
                }
                step.children = children
            }

        case .stepCommitted, .testsFinished, .consensusCandidate, .consensusDecided, .childMerged:
            break // history only: the step's state changes with its step.* events

        case .runApplied(let data):
            run.workspace?.applied = RunApplied(strategy: data.strategy, into: data.into, commit: data.commit)
            if data.worktreeRemoved { run.workspace?.removed = true }

        case .runDiscarded(let data):
            run.workspace?.discarded = true
            run.workspace?.removed = true // gone now or before: a discarded run's worktree is never used again
            if data.branchDeleted { run.workspace?.branchDeleted = true }

        case .runCancelled(let data):
            run.status = .cancelled
            run.queueReason = nil
            run.retryAt = nil
            let stepId = run.steps.first { $0.state == .working || $0.state == .waiting }?.id ?? run.currentStep
            run.recordFailure(Failure(
                kind: .cancelled, message: "Cancelled: \(data.reason)",
                hint: "Run \(Hints.retry(run.id)) to resume at the first step not done, or \(Hints.restart(run.id)) to re-run from any step",
                stepId: stepId))
            for index in run.steps.indices where run.steps[index].state == .working || run.steps[index].state == .waiting {
                run.steps[index].state = .failed
                run.steps[index].finishedAt = event.at
            }
        }
        return run
    }
}

extension Run {
    /// The first failure recorded wins until retry/restart clears it.
    fileprivate mutating func recordFailure(_ failure: Failure) {
        if self.failure == nil { self.failure = failure }
    }

    /// Back to `pending` with outputs, gates and times cleared (retry, restart, a review's rework).
    fileprivate mutating func resetSteps(_ indices: Range<Int>) {
        for index in indices {
            steps[index].state = .pending
            steps[index].output = nil
            steps[index].startedAt = nil
            steps[index].finishedAt = nil
            steps[index].decision = nil
            steps[index].approval = nil
            steps[index].children = nil
        }
    }

    fileprivate mutating func updateStep(_ id: String, _ change: (inout Step) -> Void) {
        guard let index = stepIndex(id) else { return }
        change(&steps[index])
    }

    /// The first step that is neither done nor skipped: where retry resumes and the run stands.
    public var firstUnfinishedStepIndex: Int? {
        steps.firstIndex { $0.state != .done && $0.state != .skipped }
    }
}
