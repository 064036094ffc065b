import DroverProtocol
import Foundation
import Testing

/// `JSONValueEncoder.encodeBytes` must write exactly what `JSONCoding.makeEncoder()` writes.
private func expectSameBytes<T: Encodable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let expected = String(decoding: try JSONCoding.makeEncoder().encode(value), as: UTF8.self)
    let actual = String(decoding: try JSONValueEncoder.encodeBytes(value), as: UTF8.self)
    #expect(actual == expected, sourceLocation: sourceLocation)
}

/// Strings that need escapes, non-ASCII and canonically equivalent forms (shared with JSONStreamEncoderTests).
let awkwardStrings: [String] = [
    "", "plain", "quote \" backslash \\ slash / ", "\u{08}\u{0C}\n\r\t", "\u{00}\u{01}\u{1F}\u{7F}",
    "é ü 中文 🐑 👩‍👩‍👧", "\u{2028}\u{2029}", "e\u{301}", "\u{FEFF}bom", "</script>", "a\\u0041",
    String((0..<0x20).map { Character(Unicode.Scalar(UInt8($0))) }),
]

let awkwardDoubles: [Double] = [
    0, -0.0, 1, -1, 1.5, 0.1, 0.2 + 0.1, 1e-7, 1e-5, 1e-4, 0.0001234, 1e300, -1e300, 1e15, 1e16, 1e17,
    12345678, 123456789012345680, 9007199254740992, 4503599627370496.5,
    Double(Int.max), Double(Int.min), .ulpOfOne, .leastNonzeroMagnitude, .leastNormalMagnitude,
    .greatestFiniteMagnitude, .pi, 2.5e-308, 3.0e8, 6.02214076e23, 1.0 / 3.0,
]

func randomString(_ random: inout SeededGenerator) -> String {
    let pieces = ["a", "Z", "0", "_", "-", " ", "\"", "\\", "/", "\n", "\t", "\u{08}", "\u{0C}", "\u{01}", "\u{1F}",
                  "\u{7F}", "é", "ß", "中", "🐑", "\u{2028}", "key", "Key", "inputs", "inputTokens", "a10", "a9"]
    return (0..<Int.random(in: 0...6, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined()
}

func randomDouble(_ random: inout SeededGenerator) -> Double {
    switch Int.random(in: 0..<4, using: &random) {
    case 0: return awkwardDoubles.randomElement(using: &random)!
    case 1: return Double(Int.random(in: -1_000_000...1_000_000, using: &random)) / 1000
    case 2: return Double.random(in: -1e6...1e6, using: &random)
    default:
        // Any finite bit pattern: subnormals, huge and tiny exponents.
        while true {
            let value = Double(bitPattern: random.next())
            if value.isFinite { return value }
        }
    }
}

func randomValue(_ random: inout SeededGenerator, depth: Int = 0) -> JSONValue {
    let kinds = depth >= 4 ? 5 : 7
    switch Int.random(in: 0..<kinds, using: &random) {
    case 0: return .null
    case 1: return .bool(Bool.random(using: &random))
    case 2:
        let edges = [0, -1, 1, Int.max, Int.min]
        return .int(Bool.random(using: &random) ? edges.randomElement(using: &random)! : Int(truncatingIfNeeded: random.next()) >> Int.random(in: 0..<64, using: &random))
    case 3: return .double(randomDouble(&random))
    case 4: return .string(randomString(&random))
    case 5: return .array((0..<Int.random(in: 0...5, using: &random)).map { _ in randomValue(&random, depth: depth + 1) })
    default:
        var members: [String: JSONValue] = [:]
        for _ in 0..<Int.random(in: 0...6, using: &random) { members[randomString(&random)] = randomValue(&random, depth: depth + 1) }
        return .object(members)
    }
}

private let failure = Failure(kind: .tests, message: "2 tests failed: \"a/b\"\n", hint: "run `swift test`", stepId: "test")

let fullRun = Run(
    id: "r-1", pipelineId: "feature", task: "Add /health endpoint — \"quickly\"", inputs: ["branch": "main", "ticket": "DRV-7"],
    status: .blocked, createdAt: "2024-05-01T10:00:00.000Z", updatedAt: "2024-05-01T10:05:00.123Z", currentStep: "review",
    steps: [
        Step(id: "plan", kind: .agent, role: "planner", state: .done, attempts: 2, output: "plan\twith\u{08}tabs",
             startedAt: "2024-05-01T10:00:01.000Z", finishedAt: "2024-05-01T10:01:00.000Z",
             decision: Decision(id: "d-1", question: "Which DB?", options: ["sqlite", "postgres"], chosen: "sqlite")),
        Step(id: "review", kind: .agent, state: .waiting, attempts: 1,
             approval: Approval(id: "a-1", status: .changesRequested, proposal: "diff --git a/x b/x", feedback: "more tests")),
        Step(id: "test", kind: .tests, state: .failed, attempts: 3),
        Step(id: "ship", kind: .command),
    ],
    failure: failure, usage: Usage(inputTokens: 1234, outputTokens: 567, costUSD: 0.0123), lastSeq: 42)

let emptyRun = Run(id: "", pipelineId: "", task: "", status: .queued, createdAt: "", updatedAt: "", steps: [])

let allBodies: [EventBody] = [
    .runCreated(.init(pipelineId: "feature", task: "t", inputs: ["k": "v"], steps: [StepInfo(id: "plan", kind: .agent, role: "planner"), StepInfo(id: "t", kind: .tests)])),
    .runCreated(.init(pipelineId: "", task: "", steps: [])),
    .runQueued(.init(reason: .dependency, waitingFor: ["r-0"])),
    .runQueued(.init(reason: .rateLimit, retryAt: "2026-11-29T09:01:00.000Z", stepId: "plan", message: "429 Too Many Requests")),
    .runStarted,
    .stepStarted(.init(stepId: "plan", attempt: 1)),
    .stepCompleted(.init(stepId: "plan", attempt: 1, output: "done\n")),
    .stepFailed(.init(stepId: "test", attempt: 2, failure: failure)),
    .stepFailed(.init(stepId: "test", attempt: 2, failure: Failure(kind: .internal, message: "", hint: ""))),
    .stepInterrupted(.init(stepId: "plan", attempt: 3)),
    .decisionRequested(.init(stepId: "plan", decisionId: "d-1", question: "Which?", options: ["a", "b"])),
    .decisionRequested(.init(stepId: "plan", decisionId: "d-1", question: "", options: [])),
    .decisionResolved(.init(stepId: "plan", decisionId: "d-1", choice: "a")),
    .approvalRequested(.init(stepId: "review", approvalId: "a-1", proposal: "diff")),
    .approvalResolved(.init(stepId: "review", approvalId: "a-1", status: .approved, feedback: "ok", proposal: "edited")),
    .approvalResolved(.init(stepId: "review", approvalId: "a-1", status: .rejected)),
    .usageRecorded(.init(stepId: "plan", model: "m-1", inputTokens: 10, outputTokens: 20, costUSD: 0.5)),
    .usageRecorded(.init(stepId: "plan", model: "m-1", inputTokens: 0, outputTokens: 0, costUSD: 0)),
    .usageRecorded(.init(stepId: "plan", model: "m-1", inputTokens: 1, outputTokens: 2, costUSD: 1e-7)),
    .agentSession(.init(stepId: "plan", attempt: 1, sessionId: "s-\"1\"")),
    .runRetried(.init(fromStep: "test")),
    .runRestarted(.init(fromStep: "plan")),
    .runCompleted,
    .runFailed(.init(failure: failure)),
    .runCancelled(.init(reason: "user asked")),
    .runWorkspace(.init(isolation: .worktree, path: "/w/.drover/worktrees/r-1", branch: "drover/r-1", base: "HEAD",
                        baseCommit: "abc", note: "n", remote: "git@example.com:team/app.git")),
    .runWorkspace(.init(isolation: .none, path: "/w")),
    .stepCommitted(.init(stepId: "impl", attempt: 2, sha: "abc", files: 1, insertions: 3, deletions: 0)),
    .testsFinished(.init(stepId: "test", attempt: 1, passed: false, summary: "1 failed", exitCode: 1, fixesLeft: 2)),
    .testsFinished(.init(stepId: "test", attempt: 3, passed: true, summary: "")),
    .runApplied(.init(strategy: .squash, into: "main", commit: "def", worktreeRemoved: true)),
    .runPaused(.init(reason: "budget", spent: Usage(inputTokens: 1, outputTokens: 2, costUSD: 0.5), limit: RunBudget(maxUSD: 0.5))),
    .runResumed(.init(budget: RunBudget(maxUSD: 2, maxTokens: 10))),
    .decisionRequested(.init(stepId: "s", decisionId: "d", question: "Allow Bash?", options: ToolPermission.options, attempt: 1,
                             permission: ToolPermission(tool: "Bash", input: "ls"))),
    .runDiscarded(.init(worktreeRemoved: true, branchDeleted: false)),
    .stepStarted(.init(stepId: "test", attempt: 2, role: "fixer")),
    .consensusCandidate(.init(stepId: "pick", attempt: 2, role: "codex", output: "SQLite\n")),
    .consensusCandidate(.init(stepId: "pick", attempt: 3, role: "claude", output: "",
                              failure: Failure(kind: .timeout, message: "slow", hint: "h", stepId: "pick"), commit: "abc")),
    .consensusDecided(.init(stepId: "pick", strategy: .judge, winner: "codex", reasons: "shorter", output: "SQLite\n")),
    .consensusDecided(.init(stepId: "pick", strategy: .vote, winner: "claude", output: "", changesFrom: "claude")),
    .stepSkipped(.init(stepId: "arch", reason: "estimate.size is \"small\"")),
    .runChildren(.init(stepId: "plan", attempt: 1, output: "[\"a\"]", children: [ChildRun(runId: "r-2", task: "a"), ChildRun(runId: "r-3", task: "b", replaces: "r-1")])),
    .childMerged(.init(stepId: "plan", childRunId: "r-2", outcome: .merged, commit: "abc")),
    .childMerged(.init(stepId: "plan", childRunId: "r-3", outcome: .nothing)),
    .runCreated(.init(pipelineId: "implement", task: "a", steps: [], parentRunId: "r-1", parentStepId: "plan")),
    .reviewVerdict(.init(stepId: "review", reviews: "impl", round: 1, attempt: 1, score: 0.45, threshold: 0.8, passed: false,
                         findings: ["no tests", "a.swift:3 off by one"])),
    .reviewRework(.init(stepId: "review", reviews: "impl", round: 2)),
    .reviewMalformed(.init(stepId: "review", attempt: 1, problem: "the reply is not JSON", text: "LGTM \"!\"")),
    .approvalRequested(.init(stepId: "impl", approvalId: "a-impl-1", proposal: "p",
                             review: ReviewSummary(stepId: "review", round: 2, score: 1, threshold: 0.8, passed: true, findings: []))),
]

@Suite("JSONValueEncoder")
struct JSONValueEncoderTests {
    @Test("Run, filled and empty, alone and in results")
    func runs() throws {
        try expectSameBytes(fullRun)
        try expectSameBytes(emptyRun)
        try expectSameBytes(fullRun.summary)
        try expectSameBytes(RunResult(run: fullRun))
        try expectSameBytes(RunListResult(runs: [fullRun, emptyRun], nextCursor: "r-0"))
        try expectSameBytes(RunListResult(runs: [], nextCursor: nil))
    }

    @Test("every event body inside an Event, and a page of them")
    func events() throws {
        let events = allBodies.enumerated().map { Event(runId: "r-1", seq: $0.offset + 1, at: "2024-05-01T10:00:00.000Z", body: $0.element) }
        for event in events { try expectSameBytes(event) }
        try expectSameBytes(RunEventsResult(events: events, lastSeq: events.count, more: true))
        try expectSameBytes(RunEventsResult(events: [], lastSeq: 0, more: false))
        #expect(Set(allBodies.map(\.type)) == Set(EventBody.allTypes))
    }

    @Test("initialize, pipelines, inbox, logs, trust, empty and null results")
    func results() throws {
        try expectSameBytes(InitializeResult(
            protocolVersion: 1, serverInfo: .init(name: "drover", version: "0.1.0"), workspace: "/tmp/w s/\"x\"",
            capabilities: .init(framing: "newline", methods: ["initialize", "run/start"], notifications: ["run/event"],
                                eventTypes: EventBody.allTypes, drivers: ["fake", "claude"])))
        try expectSameBytes(InitializeResult(
            protocolVersion: 0, serverInfo: .init(name: "", version: ""), workspace: "",
            capabilities: .init(framing: "", methods: [], notifications: [], eventTypes: [], drivers: [])))
        let pipeline = PipelineInfo(id: "feature", name: "Feature", description: "Plan, build, test", source: .workspace,
                                    path: "/w/.drover/pipelines/feature.json", steps: [StepInfo(id: "plan", kind: .agent, role: "planner")],
                                    errors: ["step 2: unknown kind"])
        try expectSameBytes(pipeline)
        try expectSameBytes(PipelineInfo(id: "", name: "", source: .builtin, steps: []))
        try expectSameBytes(PipelineListResult(pipelines: [pipeline, PipelineInfo(id: "b", name: "B", source: .user, steps: [])]))
        let item = InboxItem(runId: "r-1", stepId: "plan", kind: .decision, id: "d-1", question: "Which?", options: ["a", "b"],
                             proposal: "p", since: "2024-05-01T10:00:00.000Z")
        try expectSameBytes(item)
        try expectSameBytes(InboxItem(runId: "", stepId: "", kind: .approval, id: "", since: ""))
        try expectSameBytes(InboxItem(runId: "r-1", stepId: "plan", kind: .children, id: "c-plan-1",
                                      children: [.init(runId: "r-2", status: .running, task: "a"), .init(runId: "r-3", status: .done)],
                                      since: "2024-05-01T10:00:00.000Z"))
        try expectSameBytes(InboxListResult(items: [item]))
        try expectSameBytes(InboxListResult(items: []))
        try expectSameBytes(StepLogResult(text: "line 1\nline 2\u{1B}[0m\n", nextOffset: 1024, eof: true))
        try expectSameBytes(StepLogResult(text: "", nextOffset: 0, eof: false))
        try expectSameBytes(RunLogNotification(runId: "r-1", stepId: "plan", attempt: 1, stream: .stderr, text: "warn: \"x\"\r\n", offset: 1234))
        try expectSameBytes(RunLogNotification(runId: "", stepId: "", attempt: 0, stream: .agent, text: "", offset: 0))
        try expectSameBytes(WorkspaceTrustResult(trusted: true))
        try expectSameBytes(Empty())
        try expectSameBytes(NullResult())
    }

    @Test("ResponseError through the encoder and through jsonBytes")
    func responseErrors() throws {
        let errors: [ResponseError] = [
            .parseError("unexpected \u{0C} at 3"), .methodNotFound("x/\"y\""), .notFound("run", "r-1"),
            .invalidParams("bad", data: .object(["supported": .array([.int(1)]), "requested": .int(7), "f": .double(1.0),
                                                 "g": .double(1e-7), "n": .null, "b": .bool(true), "s": .string("\u{08}")])),
            ResponseError(code: ErrorCode(rawValue: 0), message: ""),
        ]
        for error in errors {
            try expectSameBytes(error)
            #expect(String(decoding: error.jsonBytes, as: UTF8.self) == String(decoding: try JSONCoding.makeEncoder().encode(error), as: UTF8.self))
        }
    }

    @Test("awkward strings and doubles, alone and as object keys")
    func awkwardScalars() throws {
        for text in awkwardStrings {
            try expectSameBytes(text)
            try expectSameBytes([text: text])
            try expectSameBytes(JSONValue.string(text))
        }
        try expectSameBytes(Dictionary(uniqueKeysWithValues: awkwardStrings.enumerated().map { ($0.element, $0.offset) }))
        for number in awkwardDoubles {
            try expectSameBytes(number)
            try expectSameBytes(-number)
            try expectSameBytes([number])
            try expectSameBytes(JSONValue.double(number))
        }
        try expectSameBytes([Int.min, Int.max, 0, -1])
        try expectSameBytes([Int8.min, Int8.max])
        try expectSameBytes([Int64.min, Int64.max])
        try expectSameBytes([UInt8.max])
        try expectSameBytes([UInt32.max])
        try expectSameBytes([UInt64(Int.max)])
        try expectSameBytes([Float(0.1), Float(1.5), Float(-3), Float(0.001)])
        try expectSameBytes([true, false])
        try expectSameBytes([String?.none, "x"])
        try expectSameBytes(Data([0, 1, 2, 250, 255]))
        try expectSameBytes(URL(string: "https://example.com/a/b?c=d")!)
    }

    @Test("a few hundred random JSONValue trees")
    func randomTrees() throws {
        var random = SeededGenerator(state: 0xD20E_5EED)
        for _ in 0..<400 {
            let value = randomValue(&random)
            try expectSameBytes(value)
            #expect(try JSONValueEncoder.encode(value) == value)
        }
    }

    @Test("nested containers and super encoders")
    func nestedContainers() throws {
        try expectSameBytes(Nested(values: [1, 2, 3], name: "n"))
        try expectSameBytes([Nested(values: [], name: "")])
        try expectSameBytes(["k": Nested(values: [7], name: "/")])
        try expectSameBytes([Silent()])
        try expectSameBytes(["k": Silent()])
    }

    @Test("what JSONEncoder refuses is refused too")
    func refusals() throws {
        #expect(throws: EncodingError.self) { try JSONValueEncoder.encodeBytes(Double.nan) }
        #expect(throws: EncodingError.self) { try JSONValueEncoder.encodeBytes(["x": Double.infinity]) }
        #expect(throws: EncodingError.self) { try JSONValueEncoder.encodeBytes([-Double.infinity]) }
        #expect(throws: EncodingError.self) { try JSONValueEncoder.encodeBytes(Usage(costUSD: .nan)) }
        #expect(throws: EncodingError.self) { _ = try JSONValueEncoder.encodeBytes(Silent()) }
        #expect(throws: EncodingError.self) { _ = try JSONCoding.makeEncoder().encode(Silent()) }
        #expect(throws: EncodingError.self) { try JSONValueEncoder.encodeBytes([UInt64.max]) }
    }
}

/// Uses every kind of container the encoder offers.
private struct Nested: Encodable {
    var values: [Int]
    var name: String

    enum Keys: String, CodingKey { case values, inner, list, name, parent, `super` }
    enum InnerKeys: String, CodingKey { case deep, count }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(name, forKey: .name)
        var inner = container.nestedContainer(keyedBy: InnerKeys.self, forKey: .inner)
        try inner.encode(values.count, forKey: .count)
        var deep = inner.nestedUnkeyedContainer(forKey: .deep)
        for value in values {
            var pair = deep.nestedContainer(keyedBy: InnerKeys.self)
            try pair.encode(value, forKey: .count)
            var list = deep.nestedUnkeyedContainer()
            try list.encode(value)
            try list.encodeNil()
            try deep.encode(Double(value) / 2)
        }
        var list = container.nestedUnkeyedContainer(forKey: .list)
        try list.encode(name)
        try ["super": values].encode(to: list.superEncoder())
        try values.encode(to: container.superEncoder())
        try name.encode(to: container.superEncoder(forKey: .parent))
        // A second request for the keyed container continues the same object.
        var again = encoder.container(keyedBy: Keys.self)
        try again.encode(values, forKey: .values)
    }
}

/// Encodes nothing: `{}` when nested, an error at the top level.
private struct Silent: Encodable {
    func encode(to encoder: Encoder) throws {}
}
