import DroverEngine
import DroverProtocol
import Foundation

/// Building blocks for reducer and gate tests.
enum Fixture {
    static let runId = "r-test"
    static let steps = [
        StepInfo(id: "plan", kind: .agent, role: "planner"),
        StepInfo(id: "impl", kind: .agent, role: "implementer"),
        StepInfo(id: "check", kind: .command),
    ]
    static let created = EventBody.runCreated(.init(pipelineId: "p", task: "do it", steps: steps))

    static func at(_ seq: Int) -> String { String(format: "2025-01-01T00:00:%02d.000Z", seq % 60) }

    /// Events with seqs 1… and one second apart.
    static func events(_ bodies: [EventBody]) -> [Event] {
        bodies.enumerated().map { Event(runId: runId, seq: $0.offset + 1, at: at($0.offset + 1), body: $0.element) }
    }

    static func run(_ bodies: [EventBody]) throws -> Run {
        try #require(try RunReducer.fold(events(bodies)))
    }

    static func history(_ bodies: [EventBody]) -> RunHistory { RunHistory(events: events(bodies)) }

    // Shorthands for bodies.
    static func started(_ step: String, _ attempt: Int = 1) -> EventBody { .stepStarted(.init(stepId: step, attempt: attempt)) }
    static func completed(_ step: String, _ attempt: Int = 1, _ output: String = "out") -> EventBody {
        .stepCompleted(.init(stepId: step, attempt: attempt, output: output))
    }
    static func failure(_ kind: Failure.Kind, _ message: String = "boom", step: String? = "plan") -> Failure {
        Failure(kind: kind, message: message, hint: "hint", stepId: step)
    }
    static func askDecision(_ step: String = "plan", _ id: String = "d-plan-1") -> EventBody {
        .decisionRequested(.init(stepId: step, decisionId: id, question: "Which?", options: ["a", "b"]))
    }
    static func askApproval(_ step: String = "plan", _ id: String = "a-plan-1", _ proposal: String = "proposal") -> EventBody {
        .approvalRequested(.init(stepId: step, approvalId: id, proposal: proposal))
    }
    static func resolveApproval(_ status: ApprovalStatus, _ step: String = "plan", _ id: String = "a-plan-1",
                                feedback: String? = nil, proposal: String? = nil) -> EventBody {
        .approvalResolved(.init(stepId: step, approvalId: id, status: status, feedback: feedback, proposal: proposal))
    }
}

import Testing
