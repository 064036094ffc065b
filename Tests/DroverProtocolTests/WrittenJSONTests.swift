import DroverProtocol
import Foundation
import Testing

/// The labels of `value`'s stored properties that are nil: a value every hand-written JSON is checked
/// on must have none, so a member added to its type fails here until it is set, and then fails the
/// byte comparison until the hand-written JSON writes it.
private func nilMembers(_ value: Any) -> [String] {
    Mirror(reflecting: value).children.compactMap { child in
        let member = Mirror(reflecting: child.value)
        return member.displayStyle == .optional && member.children.isEmpty ? child.label ?? "?" : nil
    }
}

/// JSONEncoder's bytes (what earlier builds stored and sent) as text.
private func reference<T: Encodable>(_ value: T) throws -> String {
    String(decoding: try JSONCoding.makeEncoder().encode(value), as: UTF8.self)
}

private func text(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

private let awkward = "quote \" backslash \\ / \u{0}\u{1F} tab\t é 🐑 e\u{301}"

private let fullWorkspace = RunWorkspace(
    isolation: .worktree, path: "/w/.drover/worktrees/r-1 \(awkward)", branch: "drover/r-1", base: "HEAD", baseCommit: "abc",
    note: "carried 1 file", applied: RunApplied(strategy: .squash, into: "main", commit: "def"), removed: true, discarded: false,
    branchDeleted: true, remote: "git@example.com:team/app.git")

private let fullStep = Step(
    id: "plan", kind: .agent, role: "planner", state: .done, attempts: 2, output: "out \(awkward)", startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:01:00.000Z", decision: Decision(id: "d-1", question: "Which?", options: ["a", "b"], chosen: "a"),
    approval: Approval(id: "a-1", status: .approved, proposal: "diff", feedback: "ok"), children: ["r-2", "r-3"])

private let everyMemberRun: Run = {
    var run = Run(
        id: "r-1", pipelineId: "feature", task: "task \(awkward)", inputs: ["b": "2", "a": "1", "é": "x"], status: .queued,
        createdAt: "2026-01-01T00:00:00.000Z", updatedAt: "2026-01-01T00:02:00.000Z", currentStep: "plan",
        steps: [fullStep, Step(id: "ship", kind: .command)], failure: Failure(kind: .tests, message: "m\n", hint: "h", stepId: "plan"),
        usage: Usage(inputTokens: Int.max, outputTokens: 2, cacheReadTokens: 3, cacheWriteTokens: 4, costUSD: 0.1 + 0.2), lastSeq: 42,
        dependsOn: ["r-0"], queueReason: .rateLimit, workspace: fullWorkspace, budget: RunBudget(maxUSD: 1e-7, maxTokens: 10),
        parentRunId: "r-0", parentStepId: "fan")
    run.retryAt = "2026-01-01T00:03:00.000Z"
    return run
}()

private let runs = [everyMemberRun, Run(id: "", pipelineId: "", task: "", status: .running, createdAt: "", updatedAt: "", steps: [])]

/// `{"data": payload}` as `Event` writes it, for the reference bytes of a payload.
private struct DataMember: Encodable {
    var body: EventBody

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: Event.CodingKeys.self)
        try body.encodeData(to: &container)
    }
}

private let fullBodies: [EventBody] = [
    .runCreated(.init(pipelineId: "feature", task: "t \(awkward)", inputs: ["k": "v", "a": ""], steps: [StepInfo(id: "plan", kind: .agent, role: "planner")],
                      dependsOn: ["r-0"], budget: RunBudget(maxUSD: 2, maxTokens: 3), parentRunId: "r-0", parentStepId: "fan", notice: "n")),
    .runQueued(.init(reason: .rateLimit, waitingFor: ["r-0", "r-\"1"], retryAt: "2026-01-01T00:00:00.000Z", stepId: "plan", message: "429 \(awkward)")),
    .runWorkspace(.init(isolation: .snapshot, path: "/w \(awkward)", branch: "b", base: "HEAD", baseCommit: "c", note: "n", remote: "r")),
    .stepStarted(.init(stepId: "test", attempt: 2, role: "fixer")),
    .stepInterrupted(.init(stepId: "test", attempt: Int.min, role: "")),
    .stepCompleted(.init(stepId: "plan", attempt: 1, output: "done \(awkward)")),
    .usageRecorded(.init(stepId: "plan", model: "m-1", inputTokens: 10, outputTokens: 20, cacheReadTokens: 3, cacheWriteTokens: 4,
                         costUSD: 1e-7, reportedCostUSD: 123456789.5, priceSource: .reported)),
]

@Suite("Hand-written JSON")
struct WrittenJSONTests {
    @Test("the values checked set every member")
    func fixturesSetEveryMember() {
        for value in [everyMemberRun, fullStep, everyMemberRun.usage, fullWorkspace] as [Any] {
            #expect(nilMembers(value) == [], "\(type(of: value))")
        }
        for body in fullBodies {
            switch body {
            case .runCreated(let data):
                #expect(nilMembers(data) == [])
                #expect(data.steps.allSatisfy { nilMembers($0).isEmpty })
            case .runWorkspace(let data): #expect(nilMembers(data) == [])
            case .runQueued(let data): #expect(nilMembers(data) == [])
            case .stepStarted(let data), .stepInterrupted(let data): #expect(nilMembers(data) == [])
            case .stepCompleted(let data): #expect(nilMembers(data) == [])
            case .usageRecorded(let data): #expect(nilMembers(data) == [])
            default: Issue.record("no check for \(body.type)")
            }
        }
    }

    @Test("runs, steps, usage and workspaces: JSONEncoder's bytes, with members set and unset")
    func snapshots() throws {
        for run in runs {
            let steps = try JSONValueEncoder.encodeBytes(run.steps)
            #expect(text(run.writtenJSON(steps: steps)) == (try reference(run)))
            for step in run.steps { #expect(text(step.writtenJSON()) == (try reference(step))) }
            #expect(text(run.usage.writtenJSON()) == (try reference(run.usage)))
        }
        for workspace in [fullWorkspace, RunWorkspace(isolation: .none, path: "")] {
            #expect(text(workspace.writtenJSON()) == (try reference(workspace)))
        }
        for step in [fullStep, Step(id: "", kind: .tests)] { #expect(text(step.writtenJSON()) == (try reference(step))) }
    }

    @Test("the events written by hand: JSONEncoder's bytes of their data, with members set and unset")
    func events() throws {
        let handWritten: Set<EventType> = [.runCreated, .runQueued, .runWorkspace, .runStarted, .runCompleted, .stepStarted, .stepInterrupted, .stepCompleted, .usageRecorded]
        for body in fullBodies + allBodies {
            let envelope = try JSONCoding.makeEncoder().encode(DataMember(body: body))
            let expected = String(decoding: envelope.dropFirst(#"{"data":"#.utf8.count).dropLast(), as: UTF8.self)
            if handWritten.contains(body.eventType) {
                #expect(text(body.writtenDataJSON()) == expected, "\(body.type)")
            } else {
                #expect(body.writtenDataJSON() == nil, "\(body.type)")
            }
        }
    }

    @Test("runs and events in answers and notifications (through encodeBytes): JSONEncoder's bytes")
    func inAnswers() throws {
        let events = (fullBodies + allBodies).enumerated().map { Event(runId: "r-1", seq: $0.offset + 1, at: "2026-01-01T00:00:00.000Z", body: $0.element) }
        for event in events {
            #expect(text(try JSONValueEncoder.encodeBytes(event)) == (try reference(event)), "\(event.type)")
        }
        try #expect(text(JSONValueEncoder.encodeBytes(RunEventsResult(events: events, lastSeq: events.count, more: false))) == reference(RunEventsResult(events: events, lastSeq: events.count, more: false)))
        try #expect(text(JSONValueEncoder.encodeBytes(RunResult(run: everyMemberRun))) == reference(RunResult(run: everyMemberRun)))
        try #expect(text(JSONValueEncoder.encodeBytes(RunListResult(runs: runs + [everyMemberRun.summary], nextCursor: "c"))) == reference(RunListResult(runs: runs + [everyMemberRun.summary], nextCursor: "c")))
    }

    @Test("a number that is not finite is left to Encodable, which refuses it as JSONEncoder does")
    func nonFinite() {
        #expect(Usage(costUSD: .nan).writtenJSON() == nil)
        var run = runs[1]
        run.usage.costUSD = .infinity
        #expect(run.writtenJSON(steps: Array("[]".utf8)) == nil)
        #expect(EventBody.usageRecorded(.init(stepId: "s", model: "m", inputTokens: 0, outputTokens: 0, costUSD: .nan)).writtenDataJSON() == nil)
        #expect(EventBody.usageRecorded(.init(stepId: "s", model: "m", inputTokens: 0, outputTokens: 0, costUSD: 0, reportedCostUSD: -.infinity)).writtenDataJSON() == nil)
        #expect(throws: EncodingError.self) { try JSONValueEncoder.encodeBytes(run) }
        #expect(throws: EncodingError.self) { try JSONValueEncoder.encodeBytes(RunResult(run: run)) }
    }
}
