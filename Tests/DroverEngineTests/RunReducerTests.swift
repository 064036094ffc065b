import DroverEngine
import DroverProtocol
import Testing

/// The reducer as a transition table: events in, run out.
@Suite struct RunReducerTests {
    typealias F = Fixture

    @Test func createdMakesAQueuedRunWithPendingSteps() throws {
        let run = try F.run([F.created])
        #expect(run.id == F.runId)
        #expect(run.status == .queued)
        #expect(run.steps.map(\.id) == ["plan", "impl", "check"])
        #expect(run.steps.allSatisfy { $0.state == .pending && $0.attempts == 0 })
        #expect(run.createdAt == F.at(1) && run.updatedAt == F.at(1) && run.lastSeq == 1)
        #expect(run.steps[0].role == "planner")
    }

    @Test func eventsBeforeCreatedAreRefused() {
        #expect(throws: RunReducer.Error.self) { try RunReducer.apply(Event(runId: "r", seq: 1, at: "x", body: .runStarted), to: nil) }
    }

    @Test func everyEventMovesLastSeqAndUpdatedAt() throws {
        let run = try F.run([F.created, .runStarted, F.started("plan")])
        #expect(run.lastSeq == 3)
        #expect(run.updatedAt == F.at(3))
    }

    /// status / current step / step state after each event of a whole happy path.
    @Test func happyPathTable() throws {
        let rows: [(EventBody, RunStatus, String?, [StepState])] = [
            (F.created, .queued, nil, [.pending, .pending, .pending]),
            (.runStarted, .running, nil, [.pending, .pending, .pending]),
            (F.started("plan"), .running, "plan", [.working, .pending, .pending]),
            (F.askDecision(), .blocked, "plan", [.waiting, .pending, .pending]),
            (.decisionResolved(.init(stepId: "plan", decisionId: "d-plan-1", choice: "a")), .running, "plan", [.pending, .pending, .pending]),
            (F.started("plan", 2), .running, "plan", [.working, .pending, .pending]),
            (F.askApproval("plan", "a-plan-1"), .blocked, "plan", [.waiting, .pending, .pending]),
            (F.resolveApproval(.changesRequested, feedback: "more"), .running, "plan", [.pending, .pending, .pending]),
            (F.started("plan", 3), .running, "plan", [.working, .pending, .pending]),
            (F.askApproval("plan", "a-plan-2"), .blocked, "plan", [.waiting, .pending, .pending]),
            (F.resolveApproval(.approved, "plan", "a-plan-2"), .running, "plan", [.waiting, .pending, .pending]),
            (F.completed("plan", 3, "the plan"), .running, "plan", [.done, .pending, .pending]),
            (F.started("impl"), .running, "impl", [.done, .working, .pending]),
            (F.completed("impl"), .running, "impl", [.done, .done, .pending]),
            (F.started("check"), .running, "check", [.done, .done, .working]),
            (F.completed("check"), .running, "check", [.done, .done, .done]),
            (.runCompleted, .done, nil, [.done, .done, .done]),
        ]
        var run: Run?
        for (index, row) in rows.enumerated() {
            run = try RunReducer.apply(Event(runId: F.runId, seq: index + 1, at: F.at(index + 1), body: row.0), to: run)
            let current = try #require(run)
            #expect(current.status == row.1, "after \(row.0.type) (#\(index + 1))")
            #expect(current.currentStep == row.2, "after \(row.0.type) (#\(index + 1))")
            #expect(current.steps.map(\.state) == row.3, "after \(row.0.type) (#\(index + 1))")
        }
        let done = try #require(run)
        #expect(done.steps[0].attempts == 3)
        #expect(done.steps[0].output == "the plan")
        #expect(done.steps[0].decision == Decision(id: "d-plan-1", question: "Which?", options: ["a", "b"], chosen: "a"))
        #expect(done.steps[0].approval == Approval(id: "a-plan-2", status: .approved, proposal: "proposal"))
    }

    @Test func stepTimesComeFromEvents() throws {
        let run = try F.run([F.created, .runStarted, F.started("plan"), F.completed("plan")])
        #expect(run.steps[0].startedAt == F.at(3))
        #expect(run.steps[0].finishedAt == F.at(4))
        let again = try F.run([F.created, .runStarted, F.started("plan"), .stepInterrupted(.init(stepId: "plan", attempt: 1)), F.started("plan", 2)])
        #expect(again.steps[0].startedAt == F.at(5))
        #expect(again.steps[0].finishedAt == nil)
        #expect(again.steps[0].attempts == 2)
    }

    @Test func interruptedStepGoesBackToPendingAndTheRunKeepsRunning() throws {
        let run = try F.run([F.created, .runStarted, F.started("plan"), .stepInterrupted(.init(stepId: "plan", attempt: 1))])
        #expect(run.status == .running)
        #expect(run.steps[0].state == .pending)
        #expect(run.steps[0].attempts == 1)
    }

    @Test func approvedProposalEditIsKeptOnTheGateAndOutputComesFromStepCompleted() throws {
        let run = try F.run([F.created, .runStarted, F.started("plan"), F.askApproval(),
                             F.resolveApproval(.approved, proposal: "edited"), F.completed("plan", 1, "edited")])
        #expect(run.steps[0].approval?.proposal == "edited")
        #expect(run.steps[0].output == "edited")
    }

    @Test func rejectionFailsTheStepAndRunFailedFailsTheRun() throws {
        let run = try F.run([F.created, .runStarted, F.started("plan"), F.askApproval(),
                             F.resolveApproval(.rejected, feedback: "no"), .runFailed(.init(failure: F.failure(.rejected)))])
        #expect(run.status == .failed)
        #expect(run.steps[0].state == .failed)
        #expect(run.steps[0].approval?.status == .rejected)
        #expect(run.steps[0].approval?.feedback == "no")
        #expect(run.failure?.kind == .rejected)
    }

    @Test func theFirstFailureWins() throws {
        let run = try F.run([F.created, .runStarted, F.started("plan"),
                             .stepFailed(.init(stepId: "plan", attempt: 1, failure: F.failure(.timeout, "first"))),
                             .runFailed(.init(failure: F.failure(.agent, "second"))),
                             .runCancelled(.init(reason: "third"))])
        #expect(run.failure?.kind == .timeout)
        #expect(run.failure?.message == "first")
        #expect(run.status == .cancelled)
    }

    @Test func cancelRecordsACancelledFailureAndStopsTheWorkingStep() throws {
        let run = try F.run([F.created, .runStarted, F.started("plan"), .runCancelled(.init(reason: "enough"))])
        #expect(run.status == .cancelled)
        #expect(run.failure?.kind == .cancelled)
        #expect(run.failure?.stepId == "plan")
        #expect(run.failure?.message.contains("enough") == true)
        #expect(run.steps[0].state == .failed)
    }

    @Test(arguments: ["retried", "restarted"])
    func retryAndRestartResetStepsFromTheGivenOneAndClearTheFailure(kind: String) throws {
        let reset: EventBody = kind == "retried" ? .runRetried(.init(fromStep: "impl")) : .runRestarted(.init(fromStep: "impl"))
        let run = try F.run([
            F.created, .runStarted, F.started("plan"), F.completed("plan", 1, "P"),
            F.started("impl"), F.askApproval("impl", "a-impl-1"), F.resolveApproval(.rejected, "impl", "a-impl-1"),
            .runFailed(.init(failure: F.failure(.rejected, step: "impl"))), reset,
        ])
        #expect(run.status == .running)
        #expect(run.failure == nil)
        #expect(run.currentStep == "impl")
        #expect(run.steps[0].state == .done && run.steps[0].output == "P")
        #expect(run.steps[1].state == .pending)
        #expect(run.steps[1].approval == nil && run.steps[1].decision == nil && run.steps[1].output == nil)
        #expect(run.steps[1].startedAt == nil && run.steps[1].finishedAt == nil)
        #expect(run.steps[1].attempts == 1, "attempts keep counting so log files never collide")
    }

    @Test func usageAddsUp() throws {
        let run = try F.run([F.created, .runStarted,
                             .usageRecorded(.init(stepId: "plan", model: "m", inputTokens: 10, outputTokens: 5, costUSD: 0.5)),
                             .usageRecorded(.init(stepId: "impl", model: "m", inputTokens: 1, outputTokens: 2, costUSD: 0.25))])
        #expect(run.usage == Usage(inputTokens: 11, outputTokens: 7, costUSD: 0.75))
    }

    @Test func schedulerReadsTheRun() throws {
        #expect(NextAction.of(try F.run([F.created])) == .startRun)
        #expect(NextAction.of(try F.run([F.created, .runStarted])) == .startStep(stepId: "plan", attempt: 1))
        #expect(NextAction.of(try F.run([F.created, .runStarted, F.started("plan")])) == .awaitStep(stepId: "plan"))
        #expect(NextAction.of(try F.run([F.created, .runStarted, F.started("plan"), F.askDecision()])) == .awaitGate(stepId: "plan"))
        #expect(NextAction.of(try F.run([F.created, .runStarted, F.started("plan"), F.askDecision(),
                                          .decisionResolved(.init(stepId: "plan", decisionId: "d-plan-1", choice: "a"))]))
                == .startStep(stepId: "plan", attempt: 2))
        #expect(NextAction.of(try F.run([F.created, .runStarted, F.started("plan"), F.completed("plan")]))
                == .startStep(stepId: "impl", attempt: 1))
        #expect(NextAction.of(try F.run([F.created, .runStarted, F.started("plan"), F.completed("plan"), F.started("impl"),
                                          F.completed("impl"), F.started("check"), F.completed("check")])) == .completeRun)
        #expect(NextAction.of(try F.run([F.created, .runStarted, .runCancelled(.init(reason: "x"))])) == .idle)
    }

    @Test func historyKeepsEveryGateAndTheRerunContext() {
        let history = F.history([
            F.created, .runStarted, F.started("plan"), F.askDecision(),
            .decisionResolved(.init(stepId: "plan", decisionId: "d-plan-1", choice: "b")),
            F.started("plan", 2), F.askApproval("plan", "a-plan-1", "v1"), F.resolveApproval(.changesRequested, feedback: "shorter"),
            F.started("plan", 3), .stepFailed(.init(stepId: "plan", attempt: 3, failure: F.failure(.agent, "crashed"))),
            .runFailed(.init(failure: F.failure(.agent, "crashed"))), .runRetried(.init(fromStep: "plan")),
        ])
        #expect(history.decision("d-plan-1")?.chosen == "b")
        #expect(history.approval("a-plan-1")?.status == .changesRequested)
        #expect(history.nextDecisionNumber(stepId: "plan") == 2)
        #expect(history.nextApprovalNumber(stepId: "plan") == 2)
        let context = history.rerunContext(stepId: "plan")
        #expect(context.decisions == [.init(question: "Which?", choice: "b")])
        #expect(context.reviews == [.init(rejected: false, feedback: "shorter", proposal: "v1")])
        #expect(context.failures.map(\.message) == ["crashed"])
        let text = context.rendered()
        #expect(text.contains("Decision: Which? → b"))
        #expect(text.contains("shorter") && text.contains("Previous proposal:\nv1"))
        #expect(text.contains("Attempt 3 failed (agent): crashed"))
    }

    @Test func restartStartsACleanSlateForTheResetSteps() {
        let history = F.history([
            F.created, .runStarted, F.started("plan"), F.askDecision(),
            .decisionResolved(.init(stepId: "plan", decisionId: "d-plan-1", choice: "b")),
            .runRestarted(.init(fromStep: "plan")),
        ])
        #expect(history.rerunContext(stepId: "plan").isEmpty)
        #expect(history.nextDecisionNumber(stepId: "plan") == 2, "ids stay unique across restarts")
    }
}
