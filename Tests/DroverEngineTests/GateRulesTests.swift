import DroverEngine
import DroverProtocol
import Testing

/// Every gate rule of protocol/README.md ("Gates"), as a table: gate state × action → outcome.
@Suite struct GateRulesTests {
    typealias F = Fixture

    enum GateState: String, CaseIterable, Sendable {
        case pending, approved, changesRequested, rejected, superseded, runCancelled

        var bodies: [EventBody] {
            let base: [EventBody] = [F.created, .runStarted, F.started("plan"), F.askApproval()]
            switch self {
            case .pending: return base
            case .approved: return base + [F.resolveApproval(.approved), F.completed("plan", 1, "proposal")]
            case .changesRequested: return base + [F.resolveApproval(.changesRequested, feedback: "again"), F.started("plan", 2)]
            case .rejected: return base + [F.resolveApproval(.rejected, feedback: "no"), .runFailed(.init(failure: F.failure(.rejected)))]
            case .superseded: return base + [.runCancelled(.init(reason: "x")), .runRetried(.init(fromStep: "plan"))]
            case .runCancelled: return base + [.runCancelled(.init(reason: "x"))]
            }
        }
    }

    enum Action: String, CaseIterable, Sendable { case approve, requestChanges, reject }

    enum Expected: Equatable, Sendable {
        case append([String])
        case unchanged
        case error(ErrorCode, mentions: String)
    }

    static let table: [(GateState, Action, Expected)] = [
        (.pending, .approve, .append(["approval.resolved", "step.completed"])),
        (.pending, .requestChanges, .append(["approval.resolved"])),
        (.pending, .reject, .append(["approval.resolved", "run.failed"])),
        (.approved, .approve, .unchanged),
        (.approved, .requestChanges, .error(.conflict, mentions: "already approved")),
        (.approved, .reject, .error(.conflict, mentions: "already approved")),
        (.changesRequested, .approve, .error(.conflict, mentions: "re-running")),
        (.changesRequested, .requestChanges, .error(.conflict, mentions: "re-running")),
        (.changesRequested, .reject, .error(.conflict, mentions: "re-running")),
        (.rejected, .approve, .error(.conflict, mentions: "run/retry")),
        (.rejected, .requestChanges, .error(.conflict, mentions: "run/retry")),
        (.rejected, .reject, .unchanged),
        (.superseded, .approve, .error(.conflict, mentions: "no longer open")),
        (.superseded, .requestChanges, .error(.conflict, mentions: "no longer open")),
        (.superseded, .reject, .error(.conflict, mentions: "no longer open")),
        (.runCancelled, .approve, .error(.conflict, mentions: "is cancelled")),
        (.runCancelled, .requestChanges, .error(.conflict, mentions: "is cancelled")),
        (.runCancelled, .reject, .error(.conflict, mentions: "is cancelled")),
    ]

    static func outcome(_ state: GateState, _ action: Action, approvalId: String = "a-plan-1") -> Expected {
        do {
            let run = try F.run(state.bodies)
            let history = F.history(state.bodies)
            let result: GateOutcome
            switch action {
            case .approve: result = try GateRules.approve(run: run, history: history, approvalId: approvalId, proposal: nil)
            case .requestChanges: result = try GateRules.requestChanges(run: run, history: history, approvalId: approvalId, feedback: "fix it")
            case .reject: result = try GateRules.reject(run: run, history: history, approvalId: approvalId, reason: "nope")
            }
            switch result {
            case .unchanged: return .unchanged
            case .append(let bodies): return .append(bodies.map(\.type))
            }
        } catch let error as EngineError {
            return .error(error.code, mentions: error.message)
        } catch {
            return .error(.internalError, mentions: "\(error)")
        }
    }

    @Test func theTableCoversEveryStateAndAction() {
        for state in GateState.allCases {
            for action in Action.allCases {
                #expect(Self.table.contains { $0.0 == state && $0.1 == action }, "\(state) × \(action)")
            }
        }
    }

    @Test(arguments: 0..<table.count)
    func approvalGate(row: Int) {
        let (state, action, expected) = Self.table[row]
        let actual = Self.outcome(state, action)
        switch (expected, actual) {
        case (.error(let code, let mentions), .error(let actualCode, let message)):
            #expect(actualCode == code, "\(state) × \(action): \(message)")
            #expect(message.contains(mentions), "\(state) × \(action): \(message)")
            #expect(message.contains("a-plan-1") || message.contains(F.runId), "messages name the gate or run: \(message)")
        default:
            #expect(actual == expected, "\(state) × \(action)")
        }
    }

    @Test(arguments: Action.allCases)
    func unknownApprovalIsNotFound(action: Action) {
        guard case .error(let code, let message) = Self.outcome(.pending, action, approvalId: "a-nope-1") else {
            Issue.record("expected an error")
            return
        }
        #expect(code == .notFound)
        #expect(message.contains("a-nope-1") && message.contains("a-plan-1"))
    }

    @Test func approveWithAnEditedProposalCompletesTheStepWithIt() throws {
        let bodies = GateState.pending.bodies
        let outcome = try GateRules.approve(run: try F.run(bodies), history: F.history(bodies), approvalId: "a-plan-1", proposal: "edited")
        guard case .append(let events) = outcome, case .stepCompleted(let completed) = events.last,
              case .approvalResolved(let resolved) = events.first else {
            Issue.record("unexpected \(outcome)")
            return
        }
        #expect(completed.output == "edited" && completed.attempt == 1)
        #expect(resolved.proposal == "edited" && resolved.status == .approved)
    }

    @Test func rejectFailsTheRunWithKindRejected() throws {
        let bodies = GateState.pending.bodies
        let outcome = try GateRules.reject(run: try F.run(bodies), history: F.history(bodies), approvalId: "a-plan-1", reason: "wrong idea")
        guard case .append(let events) = outcome, case .runFailed(let failed) = events.last else {
            Issue.record("unexpected \(outcome)")
            return
        }
        #expect(failed.failure.kind == .rejected)
        #expect(failed.failure.message.contains("wrong idea"))
        #expect(failed.failure.hint.contains("run/retry"))
        #expect(failed.failure.hint.contains("`drover retry \(F.runId)` (or run/retry)"))
        #expect(failed.failure.hint.contains("`drover restart \(F.runId) --from STEP` (or run/restart)"))
        #expect(failed.failure.stepId == "plan")
    }

    @Test func emptyFeedbackIsInvalid() throws {
        let bodies = GateState.pending.bodies
        #expect(throws: EngineError.self) {
            try GateRules.requestChanges(run: try F.run(bodies), history: F.history(bodies), approvalId: "a-plan-1", feedback: "  ")
        }
    }

    @Test func aStaleApprovalNamesTheNewOne() throws {
        let bodies = GateState.changesRequested.bodies + [F.askApproval("plan", "a-plan-2")]
        do {
            _ = try GateRules.approve(run: try F.run(bodies), history: F.history(bodies), approvalId: "a-plan-1", proposal: nil)
            Issue.record("expected a conflict")
        } catch let error as EngineError {
            #expect(error.code == .conflict)
            #expect(error.message.contains("now 'a-plan-2'"))
        }
    }

    // MARK: - Decisions

    static let open: [EventBody] = [F.created, .runStarted, F.started("plan"), F.askDecision()]
    static let resolved = open + [.decisionResolved(.init(stepId: "plan", decisionId: "d-plan-1", choice: "a")), F.started("plan", 2)]

    static func resolve(_ bodies: [EventBody], id: String = "d-plan-1", choice: String) -> Expected {
        do {
            switch try GateRules.resolveDecision(run: try F.run(bodies), history: F.history(bodies), decisionId: id, choice: choice) {
            case .unchanged: return .unchanged
            case .append(let events): return .append(events.map(\.type))
            }
        } catch let error as EngineError {
            return .error(error.code, mentions: error.message)
        } catch {
            return .error(.internalError, mentions: "\(error)")
        }
    }

    @Test func decisionTable() {
        let rows: [(String, [EventBody], String, String, Expected)] = [
            ("open, valid choice", Self.open, "d-plan-1", "a", .append(["decision.resolved"])),
            ("open, choice outside options", Self.open, "d-plan-1", "c", .error(.invalidParams, mentions: "'a', 'b'")),
            ("resolved, same choice", Self.resolved, "d-plan-1", "a", .unchanged),
            ("resolved, other choice", Self.resolved, "d-plan-1", "b", .error(.conflict, mentions: "already answered with 'a'")),
            ("unknown id", Self.open, "d-zzz-1", "a", .error(.notFound, mentions: "d-zzz-1")),
            ("superseded", Self.open + [.runCancelled(.init(reason: "x")), .runRestarted(.init(fromStep: "plan"))], "d-plan-1", "a",
             .error(.conflict, mentions: "no longer open")),
            ("run cancelled", Self.open + [.runCancelled(.init(reason: "x"))], "d-plan-1", "a", .error(.conflict, mentions: "is cancelled")),
        ]
        for (name, bodies, id, choice, expected) in rows {
            let actual = Self.resolve(bodies, id: id, choice: choice)
            switch (expected, actual) {
            case (.error(let code, let mentions), .error(let actualCode, let message)):
                #expect(actualCode == code, "\(name): \(message)")
                #expect(message.contains(mentions), "\(name): \(message)")
            default:
                #expect(actual == expected, "\(name)")
            }
        }
    }
}
