import Foundation
import DroverProtocol

/// What answering a gate does to a run.
public enum GateOutcome: Sendable, Hashable {
    /// Nothing to append: the request repeats what already happened (idempotent no-op).
    case unchanged
    /// Append these events, in this order, in one commit.
    case append([EventBody])
}

/// Every gate rule of protocol/README.md ("Gates"), as pure functions of the run and its history.
///
/// | gate state           | approve    | requestChanges | reject    |
/// |----------------------|------------|----------------|-----------|
/// | pending (run blocked)| approved + step.completed | changes_requested | rejected + run.failed |
/// | approved             | no-op      | conflict       | conflict  |
/// | changes_requested    | conflict   | conflict       | conflict  |
/// | rejected             | conflict (run/retry) | conflict (run/retry) | no-op |
/// | superseded / run not blocked | conflict | conflict | conflict |
///
/// Decisions: a choice outside `options` → invalid params; the same choice again → no-op;
/// another choice → conflict; open and the run blocked → `decision.resolved`.
/// Unknown ids → not found.
public enum GateRules {
    /// `decision/resolve`. `waitingAttempt` is the attempt still running and waiting for this decision's
    /// answer, if any: the answer then goes to it (`decision.resolved` carries its number) instead of re-running the step.
    public static func resolveDecision(run: Run, history: RunHistory, decisionId: String, choice: String,
                                       reason: String? = nil, waitingAttempt: Int? = nil) throws -> GateOutcome {
        guard let decision = history.decision(decisionId) else {
            throw notFound(run: run, history: history, kind: "decision", id: decisionId, known: history.decisions.map(\.id))
        }
        guard decision.options.contains(choice) else {
            let list = decision.options.map { "'\($0)'" }.joined(separator: ", ")
            throw EngineError.invalid(
                "choice '\(choice)' is not an option of decision '\(decisionId)'; choose one of: \(list)",
                details: ["options": .array(decision.options.map(JSONValue.string))])
        }
        if let chosen = decision.chosen {
            if chosen == choice { return .unchanged }
            throw EngineError.conflict(
                "Decision '\(decisionId)' of run \(run.id) was already answered with '\(chosen)' and cannot be changed; "
                + "to answer it differently, run/restart the run from step '\(decision.stepId)'")
        }
        if decision.superseded {
            throw EngineError.conflict(
                "Decision '\(decisionId)' of run \(run.id) is no longer open: step '\(decision.stepId)' was reset by run/retry or run/restart"
                + newerGate(run: run, stepId: decision.stepId, other: decisionId))
        }
        guard run.status == .blocked else { throw notBlocked(run: run, gate: "decision '\(decisionId)'", stepId: decision.stepId) }
        let reasonText = reason.flatMap { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : $0 }
        return .append([.decisionResolved(.init(stepId: decision.stepId, decisionId: decisionId, choice: choice,
                                                reason: reasonText, attempt: waitingAttempt))])
    }

    /// `step/approve`; an edited `proposal` becomes the step's output.
    public static func approve(run: Run, history: RunHistory, approvalId: String, proposal: String?) throws -> GateOutcome {
        let approval = try openApproval(run: run, history: history, approvalId: approvalId, action: "step/approve")
        switch approval.status {
        case .approved:
            return .unchanged
        case .rejected:
            throw rejectedConflict(run: run, approval: approval)
        case .changesRequested:
            throw rerunConflict(run: run, approval: approval)
        case .pending:
            try checkOpen(run: run, approval: approval)
            let attempt = run.step(approval.stepId)?.attempts ?? 0
            return .append([
                .approvalResolved(.init(stepId: approval.stepId, approvalId: approvalId, status: .approved, proposal: proposal)),
                .stepCompleted(.init(stepId: approval.stepId, attempt: attempt, output: proposal ?? approval.proposal)),
            ])
        }
    }

    /// `step/requestChanges`; the step re-runs with the feedback and its previous proposal. `reviewer` is the
    /// pipeline's review step of the approval's step, if it has one: the rework goes through it (and every
    /// step before it) again, also when the approval came without a review because its `when` skipped it.
    public static func requestChanges(run: Run, history: RunHistory, approvalId: String, feedback: String,
                                      reviewer: String? = nil) throws -> GateOutcome {
        let approval = try openApproval(run: run, history: history, approvalId: approvalId, action: "step/requestChanges")
        switch approval.status {
        case .approved:
            throw approvedConflict(run: run, approval: approval, action: "step/requestChanges")
        case .rejected:
            throw rejectedConflict(run: run, approval: approval)
        case .changesRequested:
            throw rerunConflict(run: run, approval: approval)
        case .pending:
            guard !feedback.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw EngineError.invalid("feedback is empty; say what the step should change")
            }
            try checkOpen(run: run, approval: approval)
            var bodies: [EventBody] = [.approvalResolved(.init(
                stepId: approval.stepId, approvalId: approvalId, status: .changesRequested, feedback: feedback))]
            // A reviewed proposal re-runs through its reviewer, which grades the rework afresh (or is skipped
            // again, and the approval is asked again); the steps between them run again on the rework too.
            if let reviewer = approval.reviewStepId ?? reviewer {
                bodies.append(.reviewRework(.init(stepId: reviewer, reviews: approval.stepId, round: 1)))
            }
            return .append(bodies)
        }
    }

    /// `step/reject`; the run fails with kind `rejected`.
    public static func reject(run: Run, history: RunHistory, approvalId: String, reason: String?) throws -> GateOutcome {
        let approval = try openApproval(run: run, history: history, approvalId: approvalId, action: "step/reject")
        switch approval.status {
        case .approved:
            throw approvedConflict(run: run, approval: approval, action: "step/reject")
        case .rejected:
            return .unchanged
        case .changesRequested:
            throw rerunConflict(run: run, approval: approval)
        case .pending:
            try checkOpen(run: run, approval: approval)
            let reasonText = reason.flatMap { $0.isEmpty ? nil : $0 }
            let failure = Failure(
                kind: .rejected,
                message: "A reviewer rejected the proposal of step '\(approval.stepId)'" + (reasonText.map { ": \($0)" } ?? ""),
                hint: "Run \(Hints.retry(run.id)) to re-run step '\(approval.stepId)' with the reason in its prompt, "
                    + "or \(Hints.restart(run.id)) to re-run from an earlier step",
                stepId: approval.stepId)
            return .append([
                .approvalResolved(.init(stepId: approval.stepId, approvalId: approvalId, status: .rejected, feedback: reasonText)),
                .runFailed(.init(failure: failure)),
            ])
        }
    }

    // MARK: - Shared checks and messages

    private static func openApproval(run: Run, history: RunHistory, approvalId: String, action: String) throws -> RunHistory.ApprovalRecord {
        guard let approval = history.approval(approvalId) else {
            throw notFound(run: run, history: history, kind: "approval", id: approvalId, known: history.approvals.map(\.id))
        }
        return approval
    }

    /// A pending approval can be answered only while its step still waits on it.
    private static func checkOpen(run: Run, approval: RunHistory.ApprovalRecord) throws {
        if approval.superseded {
            throw EngineError.conflict(
                "Approval '\(approval.id)' of run \(run.id) is no longer open: step '\(approval.stepId)' was reset by run/retry or run/restart"
                + newerGate(run: run, stepId: approval.stepId, other: approval.id))
        }
        guard run.status == .blocked else { throw notBlocked(run: run, gate: "approval '\(approval.id)'", stepId: approval.stepId) }
    }

    private static func notBlocked(run: Run, gate: String, stepId: String) -> EngineError {
        let next = run.status.isTerminal
            ? "; run/retry re-runs step '\(stepId)', which raises a new gate"
            : "; only a blocked run waits on a gate"
        return EngineError.conflict("Run \(run.id) is \(run.status.rawValue), so \(gate) can no longer be answered\(next)")
    }

    private static func approvedConflict(run: Run, approval: RunHistory.ApprovalRecord, action: String) -> EngineError {
        EngineError.conflict(
            "Approval '\(approval.id)' of run \(run.id) is already approved; \(action) accepts pending approvals only. "
            + "To redo step '\(approval.stepId)', use run/restart with fromStep '\(approval.stepId)'")
    }

    private static func rejectedConflict(run: Run, approval: RunHistory.ApprovalRecord) -> EngineError {
        EngineError.conflict(
            "Approval '\(approval.id)' of run \(run.id) was rejected and the run failed; "
            + "run/retry re-runs step '\(approval.stepId)', which raises a new approval")
    }

    private static func rerunConflict(run: Run, approval: RunHistory.ApprovalRecord) -> EngineError {
        EngineError.conflict(
            "Approval '\(approval.id)' of run \(run.id) was sent back for changes and step '\(approval.stepId)' is re-running; "
            + "act on the approval that re-run raises" + newerGate(run: run, stepId: approval.stepId, other: approval.id))
    }

    private static func newerGate(run: Run, stepId: String, other: String) -> String {
        guard let step = run.step(stepId) else { return "" }
        if let approval = step.approval, approval.id != other, approval.status == .pending { return " (now '\(approval.id)')" }
        if let decision = step.decision, decision.id != other, decision.chosen == nil { return " (now '\(decision.id)')" }
        return ""
    }

    private static func notFound(run: Run, history: RunHistory, kind: String, id: String, known: [String]) -> EngineError {
        if let refusal = childrenWaitRefusal(run: run, history: history, id: id) { return refusal }
        let list = known.isEmpty ? "it has none" : "its \(kind)s: " + known.joined(separator: ", ")
        return EngineError(.notFound, "Run \(run.id) has no \(kind) with id '\(Excerpt.of(id))' (\(list))")
    }

    /// The id of a fan-out step's wait on its children (an `inbox/list` item of kind `children`) is not
    /// a gate: say so, and which children the run waits on, instead of "not found".
    private static func childrenWaitRefusal(run: Run, history: RunHistory, id: String) -> EngineError? {
        guard let (stepId, fanOut) = history.fanOuts.first(where: { Identifiers.childrenWaitID(stepId: $0.key, attempt: $0.value.attempt) == id }),
              let step = run.step(stepId) else { return nil }
        let children = fanOut.children.map(\.runId).joined(separator: ", ")
        guard run.status == .blocked, step.state == .waiting else {
            return EngineError.invalid("'\(id)' of run \(run.id) was the wait of step '\(stepId)' on its child runs (\(children)), not a gate, "
                                       + "and it is over: nothing answers it")
        }
        return EngineError.invalid(
            "'\(id)' of run \(run.id) is not a gate to answer: step '\(stepId)' waits on its child runs \(children), and the run goes on "
            + "by itself once they have all ended (see them with run/get; run/cancel of \(run.id) stops it and them)")
    }
}
