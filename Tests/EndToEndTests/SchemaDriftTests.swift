import DroverProtocol
import Foundation
import Testing

/// protocol/drover.schema.json is kept by hand; these tests fail when it drifts from the Swift wire types.
///
/// For every method, notification, event and shared object, a fully populated value is encoded and
/// its keys must equal the schema's `properties`; a value with every optional nil must encode to
/// exactly the schema's `required`. Enums must list the same cases. A new request type, event type
/// or field therefore fails here until the schema (and protocol/README.md) documents it.
/// Tests/Conformance/conformance.py checks the same schema against a live server.
@Suite struct SchemaDriftTests {
    // MARK: - Registry lists

    @Test func requestsMatchTheMethodRegistry() throws {
        let schema = try Schema.load()
        let documented = schema.entries("requests").map { $0["method"] as? String ?? "?" }
        #expect(documented.sorted() == MethodRegistry.methodNames.sorted())
        #expect(Set(documented).count == documented.count, "duplicate methods in the schema")
    }

    @Test func notificationsMatchTheRegistry() throws {
        let schema = try Schema.load()
        func methods(_ direction: String) -> [String] {
            schema.entries("notifications").filter { $0["direction"] as? String == direction }.compactMap { $0["method"] as? String }
        }
        #expect(methods("serverToClient").sorted() == MethodRegistry.notifications.sorted())
        #expect(methods("clientToServer").sorted() == MethodRegistry.clientNotifications.sorted())
    }

    @Test func eventTypesMatch() throws {
        let schema = try Schema.load()
        #expect(schema.entries("events").compactMap { $0["type"] as? String } == EventBody.allTypes)
        let branches = (schema.def("Event")["oneOf"] as? [[String: Any]] ?? []).compactMap {
            (($0["properties"] as? [String: Any])?["type"] as? [String: Any])?["const"] as? String
        }
        #expect(branches == EventBody.allTypes, "the Event oneOf must have one branch per event type")
    }

    @Test func enumsMatch() throws {
        let schema = try Schema.load()
        func cases(_ name: String) -> [String] { schema.def(name)["enum"] as? [String] ?? [] }
        #expect(cases("RunStatus") == RunStatus.allCases.map(\.rawValue))
        #expect(cases("StepState") == StepState.allCases.map(\.rawValue))
        #expect(cases("StepKind") == StepKind.allCases.map(\.rawValue))
        #expect(cases("ApprovalStatus") == ApprovalStatus.allCases.map(\.rawValue))
        #expect(cases("FailureKind") == Failure.Kind.allCases.map(\.rawValue))
        #expect(cases("LogStream") == LogStream.allCases.map(\.rawValue))
        #expect(cases("IsolationMode") == IsolationMode.allCases.map(\.rawValue))
        #expect(cases("PriceSource") == PriceSource.allCases.map(\.rawValue))
        #expect(cases("ApplyStrategy") == ApplyStrategy.allCases.map(\.rawValue))
        #expect(cases("ChangedFileStatus") == ChangedFile.Status.allCases.map(\.rawValue))
        #expect(cases("PermissionOptionKind") == PermissionOptionKind.allCases.map(\.rawValue))
        #expect(cases("ChildMergeOutcome") == ChildMergeOutcome.allCases.map(\.rawValue))
        let codes = schema.def("ErrorCode")["enum"] as? [Int] ?? []
        let known: [ErrorCode] = [.parseError, .invalidRequest, .methodNotFound, .invalidParams, .internalError,
                                  .serverNotInitialized, .requestCancelled, .notFound, .conflict, .untrusted]
        #expect(codes.sorted() == known.map(\.rawValue).sorted())
    }

    // MARK: - Fields

    @Test func sharedObjectsMatch() throws {
        let schema = try Schema.load()
        for sample in Samples.objects {
            try check(sample.full, sample.minimal, against: schema.def(sample.def), name: sample.def)
        }
    }

    @Test func eventDataMatches() throws {
        let schema = try Schema.load()
        let samples = Samples.eventData
        #expect(Set(samples.keys) == Set(EventBody.allTypes), "a sample per event type")
        for entry in schema.entries("events") {
            let type = entry["type"] as? String ?? "?"
            guard let sample = samples[type] else { continue }
            let data = schema.resolve(entry["data"])
            try check(sample.full, sample.minimal, against: data, name: "event \(type)")
            // The event's encoded data is exactly the payload.
            let event = Event(runId: "r-1", seq: 1, at: Samples.at, body: sample.body)
            let encoded = try Schema.object(event)
            let payload = Set(try Schema.object(sample.full).keys)
            #expect(encoded["type"] as? String == type)
            #expect(Set((encoded["data"] as? [String: Any] ?? [:]).keys) == payload, "event \(type): data")
        }
    }

    @Test func requestParamsAndResultsMatch() throws {
        let schema = try Schema.load()
        let samples = Samples.requests
        #expect(Set(samples.keys) == Set(MethodRegistry.methodNames), "a sample per method")
        for entry in schema.entries("requests") {
            let method = entry["method"] as? String ?? "?"
            guard let sample = samples[method] else { continue }
            try check(sample.params.full, sample.params.minimal, against: schema.resolve(entry["params"]), name: "\(method) params")
            let result = schema.resolve(entry["result"])
            if let full = sample.result?.full, let minimal = sample.result?.minimal {
                try check(full, minimal, against: result, name: "\(method) result")
            } else {
                #expect(result["type"] as? String == "null", "\(method): a null result")
            }
        }
    }

    @Test func notificationParamsMatch() throws {
        let schema = try Schema.load()
        let log = RunLogNotification(runId: "r-1", stepId: "plan", attempt: 1, stream: .agent, text: "hi", offset: 0)
        try check(log, log, against: schema.def("RunLogParams"), name: "run/log params")
        let logsDropped = RunLogsDroppedNotification(runId: "r-1", stepId: "plan", attempt: 1, lines: 3, fromOffset: 12)
        try check(logsDropped, logsDropped, against: schema.def("RunLogsDroppedParams"), name: "run/logsDropped params")
        let eventsDropped = RunEventsDroppedNotification(runId: "r-1", afterSeq: 4)
        try check(eventsDropped, eventsDropped, against: schema.def("RunEventsDroppedParams"), name: "run/eventsDropped params")
    }

    @Test func initializeNestedObjectsMatch() throws {
        let schema = try Schema.load()
        let result = Samples.initializeResult
        let properties = schema.def("InitializeResult")["properties"] as? [String: Any] ?? [:]
        try check(result.serverInfo, result.serverInfo, against: properties["serverInfo"] as? [String: Any] ?? [:],
                  name: "serverInfo")
        try check(result.capabilities, result.capabilities, against: schema.def("ServerCapabilities"), name: "capabilities")
        #expect((properties["protocolVersion"] as? [String: Any])?["const"] as? Int == ProtocolVersion.current)
        let params = schema.def("InitializeParams")["properties"] as? [String: Any] ?? [:]
        let full: InitializeRequest = try Samples.decoded(
            #"{"clientInfo":{"name":"n","version":"1"},"capabilities":{"logs":true}}"#)
        try check(full.clientInfo!, full.clientInfo!, against: params["clientInfo"] as? [String: Any] ?? [:], name: "clientInfo",
                  requiredOverride: ["name"])
        try check(full.capabilities!, full.capabilities!, against: params["capabilities"] as? [String: Any] ?? [:],
                  name: "client capabilities", requiredOverride: [])
    }

    /// `full` must encode to the schema's properties, `minimal` to its required members.
    private func check(_ full: any Encodable, _ minimal: any Encodable, against schema: [String: Any], name: String,
                       requiredOverride: Set<String>? = nil) throws {
        let properties = Set((schema["properties"] as? [String: Any] ?? [:]).keys)
        let required = Set(schema["required"] as? [String] ?? [])
        let fullKeys = Set(try Schema.object(full).keys)
        let minimalKeys = try requiredOverride ?? Set(Schema.object(minimal).keys)
        #expect(fullKeys == properties,
                "\(name): Swift encodes \(fullKeys.subtracting(properties).sorted()) not in the schema; schema has \(properties.subtracting(fullKeys).sorted()) Swift does not")
        #expect(minimalKeys == required,
                "\(name): required in Swift \(minimalKeys.sorted()), in the schema \(required.sorted())")
    }
}

/// The schema document, read with JSONSerialization.
private struct Schema {
    let root: [String: Any]

    static func load() throws -> Schema {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("protocol/drover.schema.json")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        return Schema(root: object as? [String: Any] ?? [:])
    }

    func entries(_ name: String) -> [[String: Any]] { root[name] as? [[String: Any]] ?? [] }

    func def(_ name: String) -> [String: Any] { (root["$defs"] as? [String: Any])?[name] as? [String: Any] ?? [:] }

    /// Follows a `{"$ref": "#/$defs/X"}`; other schemas are returned as they are.
    func resolve(_ schema: Any?) -> [String: Any] {
        let object = schema as? [String: Any] ?? [:]
        guard let ref = object["$ref"] as? String, ref.hasPrefix("#/$defs/") else { return object }
        return def(String(ref.dropFirst("#/$defs/".count)))
    }

    static func object(_ value: any Encodable) throws -> [String: Any] {
        let data = try JSONCoding.makeEncoder().encode(value)
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }
}

/// Values of every wire type: `full` sets every optional, `minimal` none.
private enum Samples {
    static let at = "2025-01-31T12:00:00.123Z"

    struct Pair {
        var full: any Encodable
        var minimal: any Encodable
    }

    static func decoded<T: Decodable>(_ json: String) throws -> T {
        try JSONCoding.makeDecoder().decode(T.self, from: Data(json.utf8))
    }

    static let failure = Failure(kind: .agent, message: "m", hint: "h", stepId: "plan")
    static let permission = ToolPermission(tool: "Bash", input: "ls", optionKinds: ToolPermission.kinds)
    static let fullStep = Step(
        id: "plan", kind: .agent, role: "planner", state: .done, attempts: 2, output: "o", startedAt: at, finishedAt: at,
        decision: Decision(id: "d-plan-1", question: "q", options: ["a", "b"], chosen: "a"),
        approval: Approval(id: "a-plan-1", status: .approved, proposal: "p", feedback: "f", review: review), children: ["r-2"])
    static let review = ReviewSummary(stepId: "review", round: 2, score: 0.9, threshold: 0.8, passed: true, findings: ["f"])
    static let fullRun: Run = {
        var run = Run(
            id: "r-1", pipelineId: "demo", task: "t", inputs: ["k": "v"], status: .failed, createdAt: at, updatedAt: at,
            currentStep: "plan", steps: [fullStep], failure: failure, usage: Usage(inputTokens: 1, outputTokens: 2, costUSD: 0.5),
            lastSeq: 9, dependsOn: ["r-0"], queueReason: .dependency, workspace: fullWorkspace, budget: budget,
            parentRunId: "r-0", parentStepId: "split")
        run.retryAt = at
        return run
    }()
    static let budget = RunBudget(maxUSD: 1, maxTokens: 10)
    static let fullWorkspace = RunWorkspace(
        isolation: .worktree, path: "/w/.drover/worktrees/r-1", branch: "drover/r-1", base: "HEAD", baseCommit: "abc", note: "n",
        applied: RunApplied(strategy: .merge, into: "main", commit: "def"), removed: true, discarded: true, branchDeleted: true,
        remote: "git@example.com:team/app.git")
    static let fullFile = ChangedFile(path: "b", oldPath: "a", status: .renamed, additions: 1, deletions: 0, binary: false, patch: "p")
    static let minimalRun = Run(id: "r-1", pipelineId: "demo", task: "t", status: .queued, createdAt: at, updatedAt: at, steps: [])
    static let initializeResult = InitializeResult(
        protocolVersion: 1, serverInfo: .init(name: "drover", version: "0"), workspace: "/w",
        capabilities: .init(framing: "ndjson", methods: [], notifications: [], eventTypes: [], drivers: []))

    static var objects: [(def: String, full: any Encodable, minimal: any Encodable)] { [
        ("Usage", Usage(), Usage()),
        ("Failure", failure, Failure(kind: .internal, message: "m", hint: "h")),
        ("Decision", Decision(id: "d", question: "q", options: [], chosen: "x", attempt: 1, permission: permission),
         Decision(id: "d", question: "q", options: [])),
        ("ToolPermission", permission, ToolPermission(tool: "Bash", input: "ls")),
        ("RunBudget", budget, RunBudget()),
        ("Approval", Approval(id: "a", status: .pending, proposal: "p", feedback: "f", review: review), Approval(id: "a", status: .pending, proposal: "p")),
        ("ReviewSummary", review, review),
        ("Step", fullStep, Step(id: "plan", kind: .agent)),
        ("Run", fullRun, minimalRun),
        ("StepInfo", StepInfo(id: "s", kind: .command, role: "r"), StepInfo(id: "s", kind: .command)),
        ("PipelineInfo",
         PipelineInfo(id: "p", name: "n", description: "d", source: .workspace, path: "/p.json", steps: [], errors: ["e"]),
         PipelineInfo(id: "p", name: "n", source: .builtin, steps: [])),
        ("InboxItem",
         InboxItem(runId: "r", stepId: "s", kind: .decision, id: "d", question: "q", options: ["a"], proposal: "p",
                   permission: permission, review: review, children: [.init(runId: "r-2", status: .running, task: "t")], since: at),
         InboxItem(runId: "r", stepId: "s", kind: .approval, id: "a", since: at)),
        ("InboxChild", InboxItem.Child(runId: "r-2", status: .running, task: "t"), InboxItem.Child(runId: "r-2", status: .queued)),
        ("Event", Event(runId: "r", seq: 1, at: at, body: .runStarted), Event(runId: "r", seq: 1, at: at, body: .runStarted)),
        ("ResponseError", ResponseError.conflict("c"), ResponseError(code: .internalError, message: "m")),
        ("RunWorkspace", fullWorkspace, RunWorkspace(isolation: .none, path: "/w")),
        ("RunApplied", RunApplied(strategy: .squash, into: "main", commit: "c"), RunApplied(strategy: .patch)),
        ("ChangedFile", fullFile, ChangedFile(path: "a", status: .added, additions: 1, deletions: 0, binary: false, patch: "p")),
    ] }

    struct EventSample {
        var body: EventBody
        var full: any Encodable
        var minimal: any Encodable
    }

    private static func same<T: Encodable>(_ body: EventBody, _ data: T) -> EventSample {
        EventSample(body: body, full: data, minimal: data)
    }

    static var eventData: [String: EventSample] {
        typealias B = EventBody
        let created = B.RunCreated(pipelineId: "p", task: "t", inputs: ["k": "v"], steps: [], dependsOn: ["r-0"], budget: budget,
                                   parentRunId: "r-0", parentStepId: "split", notice: "n")
        let children = B.Children(stepId: "s", attempt: 1, output: "[\"x\"]", children: [ChildRun(runId: "r-2", task: "x", replaces: "r-1")])
        let childMerged = B.ChildMerged(stepId: "s", childRunId: "r-2", outcome: .merged, commit: "c")
        let queued = B.RunQueued(reason: .rateLimit, waitingFor: ["r-0"], retryAt: at, stepId: "plan", message: "429")
        let attempt = B.StepAttempt(stepId: "s", attempt: 1)
        let fixing = B.StepAttempt(stepId: "s", attempt: 2, role: "fixer")
        let priced = B.UsageRecorded(stepId: "s", model: "m", inputTokens: 3, outputTokens: 1, cacheReadTokens: 1, cacheWriteTokens: 1,
                                     costUSD: 0.1, reportedCostUSD: 0.2, priceSource: .table)
        let requested = B.DecisionRequested(stepId: "s", decisionId: "d", question: "q", options: [], attempt: 1, permission: permission)
        let answered = B.DecisionResolved(stepId: "s", decisionId: "d", choice: "c", reason: "r", attempt: 1)
        let workspace = B.WorkspaceRecorded(isolation: .worktree, path: "/w/x", branch: "drover/r", base: "HEAD", baseCommit: "a", note: "n",
                                            remote: "git@example.com:team/app.git")
        let tests = B.TestsFinished(stepId: "s", attempt: 1, passed: false, summary: "x", exitCode: 1, fixesLeft: 1)
        let applied = B.Applied(strategy: .merge, into: "main", commit: "c", worktreeRemoved: true)
        let resolved = B.ApprovalResolved(stepId: "s", approvalId: "a", status: .approved, feedback: "f", proposal: "p")
        let decided = B.ConsensusDecided(stepId: "s", strategy: .judge, winner: "r", reasons: "why", output: "o", changesFrom: "r")
        let candidate = B.ConsensusCandidate(stepId: "s", attempt: 1, role: "r", output: "", failure: failure, commit: "abc")
        let samples: [EventSample] = [
            EventSample(body: .runCreated(created), full: created, minimal: B.RunCreated(pipelineId: "p", task: "t", steps: [])),
            EventSample(body: .runQueued(queued), full: queued, minimal: B.RunQueued(reason: .capacity)),
            EventSample(body: .runStarted, full: Empty(), minimal: Empty()),
            EventSample(body: .stepStarted(fixing), full: fixing, minimal: attempt),
            same(.stepCompleted(.init(stepId: "s", attempt: 1, output: "o")), B.StepCompleted(stepId: "s", attempt: 1, output: "o")),
            same(.stepFailed(.init(stepId: "s", attempt: 1, failure: failure)), B.StepFailed(stepId: "s", attempt: 1, failure: failure)),
            EventSample(body: .stepInterrupted(fixing), full: fixing, minimal: attempt),
            same(.stepSkipped(.init(stepId: "s", reason: "r")), B.StepSkipped(stepId: "s", reason: "r")),
            same(.reviewVerdict(.init(stepId: "s", reviews: "i", round: 1, attempt: 1, score: 0.5, threshold: 0.8, passed: false, findings: ["f"])),
                 B.ReviewVerdict(stepId: "s", reviews: "i", round: 1, attempt: 1, score: 0.5, threshold: 0.8, passed: false, findings: ["f"])),
            same(.reviewRework(.init(stepId: "s", reviews: "i", round: 2)), B.ReviewRework(stepId: "s", reviews: "i", round: 2)),
            same(.reviewMalformed(.init(stepId: "s", attempt: 1, problem: "p", text: "t")),
                 B.ReviewMalformed(stepId: "s", attempt: 1, problem: "p", text: "t")),
            EventSample(body: .decisionRequested(requested), full: requested,
                        minimal: B.DecisionRequested(stepId: "s", decisionId: "d", question: "q", options: [])),
            EventSample(body: .decisionResolved(answered), full: answered,
                        minimal: B.DecisionResolved(stepId: "s", decisionId: "d", choice: "c")),
            EventSample(body: .approvalRequested(.init(stepId: "s", approvalId: "a", proposal: "p", review: review)),
                        full: B.ApprovalRequested(stepId: "s", approvalId: "a", proposal: "p", review: review),
                        minimal: B.ApprovalRequested(stepId: "s", approvalId: "a", proposal: "p")),
            EventSample(body: .approvalResolved(resolved), full: resolved,
                        minimal: B.ApprovalResolved(stepId: "s", approvalId: "a", status: .rejected)),
            EventSample(body: .usageRecorded(priced), full: priced,
                        minimal: B.UsageRecorded(stepId: "s", model: "m", inputTokens: 1, outputTokens: 1, costUSD: 0)),
            same(.agentSession(.init(stepId: "s", attempt: 1, sessionId: "x")), B.AgentSession(stepId: "s", attempt: 1, sessionId: "x")),
            same(.runRetried(.init(fromStep: "s")), B.FromStep(fromStep: "s")),
            same(.runRestarted(.init(fromStep: "s")), B.FromStep(fromStep: "s")),
            EventSample(body: .runCompleted, full: Empty(), minimal: Empty()),
            same(.runFailed(.init(failure: failure)), B.RunFailed(failure: failure)),
            same(.runCancelled(.init(reason: "r")), B.RunCancelled(reason: "r")),
            same(.runPaused(.init(reason: "budget", spent: Usage(), limit: budget)), B.RunPaused(reason: "budget", spent: Usage(), limit: budget)),
            EventSample(body: .runResumed(.init(budget: budget)), full: B.RunResumed(budget: budget), minimal: B.RunResumed()),
            EventSample(body: .runWorkspace(workspace), full: workspace,
                        minimal: B.WorkspaceRecorded(isolation: .none, path: "/w")),
            same(.stepCommitted(.init(stepId: "s", attempt: 1, sha: "a", files: 1, insertions: 1, deletions: 0)),
                 B.StepCommitted(stepId: "s", attempt: 1, sha: "a", files: 1, insertions: 1, deletions: 0)),
            EventSample(body: .testsFinished(tests), full: tests,
                        minimal: B.TestsFinished(stepId: "s", attempt: 1, passed: true, summary: "")),
            EventSample(body: .runApplied(applied), full: applied,
                        minimal: B.Applied(strategy: .patch, worktreeRemoved: false)),
            same(.runDiscarded(.init(worktreeRemoved: true, branchDeleted: false)), B.Discarded(worktreeRemoved: true, branchDeleted: false)),
            EventSample(body: .consensusCandidate(candidate), full: candidate,
                        minimal: B.ConsensusCandidate(stepId: "s", attempt: 1, role: "r", output: "o")),
            EventSample(body: .consensusDecided(decided), full: decided,
                        minimal: B.ConsensusDecided(stepId: "s", strategy: .vote, winner: "r", output: "o")),
            EventSample(body: .runChildren(children), full: children, minimal: B.Children(stepId: "s", attempt: 1, output: "[]", children: [])),
            EventSample(body: .childMerged(childMerged), full: childMerged,
                        minimal: B.ChildMerged(stepId: "s", childRunId: "r-2", outcome: .skipped)),
        ]
        return Dictionary(uniqueKeysWithValues: samples.map { ($0.body.type, $0) })
    }

    struct RequestSample {
        var params: Pair
        var result: Pair?
    }

    static var requests: [String: RequestSample] {
        let run = RunResult(run: fullRun)
        let runPair = Pair(full: run, minimal: run)
        func same(_ value: any Encodable) -> Pair { Pair(full: value, minimal: value) }
        // The initialize params are all optional; decode a full one so every member is set.
        let initialize: InitializeRequest = (try? decoded(
            #"{"protocolVersion":1,"clientInfo":{"name":"n"},"workspace":"/w","rootUri":"file:///w","rootPath":"/w","capabilities":{}}"#))
            ?? InitializeRequest()
        let shutdown: ShutdownRequest? = try? decoded("{}")
        return [
            InitializeRequest.method: RequestSample(params: Pair(full: initialize, minimal: InitializeRequest()),
                                                    result: same(initializeResult)),
            ShutdownRequest.method: RequestSample(params: same(shutdown.map { $0 as any Encodable } ?? Empty()), result: nil),
            PipelineListRequest.method: RequestSample(params: same(PipelineListRequest()),
                                                      result: same(PipelineListResult(pipelines: []))),
            RunStartRequest.method: RequestSample(
                params: Pair(full: RunStartRequest(pipelineId: "p", task: "t", inputs: [:], dependsOn: ["r-0"], isolation: .worktree,
                                                   base: "HEAD", includeUncommitted: true, budget: budget),
                             minimal: RunStartRequest(pipelineId: "p", task: "t")),
                result: runPair),
            RunListRequest.method: RequestSample(
                params: Pair(full: RunListRequest(status: [.done], limit: 1, cursor: "c"), minimal: RunListRequest()),
                result: Pair(full: RunListResult(runs: [], nextCursor: "c"), minimal: RunListResult(runs: [], nextCursor: nil))),
            RunGetRequest.method: RequestSample(params: same(RunGetRequest(runId: "r")), result: runPair),
            RunEventsRequest.method: RequestSample(
                params: Pair(full: RunEventsRequest(runId: "r", afterSeq: 0, limit: 1), minimal: RunEventsRequest(runId: "r")),
                result: same(RunEventsResult(events: [], lastSeq: 0, more: false))),
            RunCancelRequest.method: RequestSample(
                params: Pair(full: RunCancelRequest(runId: "r", reason: "x"), minimal: RunCancelRequest(runId: "r")), result: runPair),
            RunRetryRequest.method: RequestSample(params: same(RunRetryRequest(runId: "r")), result: runPair),
            RunResumeRequest.method: RequestSample(
                params: Pair(full: RunResumeRequest(runId: "r", budget: budget), minimal: RunResumeRequest(runId: "r")), result: runPair),
            RunRestartRequest.method: RequestSample(params: same(RunRestartRequest(runId: "r", fromStep: "s")), result: runPair),
            DecisionResolveRequest.method: RequestSample(
                params: Pair(full: DecisionResolveRequest(runId: "r", decisionId: "d", choice: "c", reason: "why"),
                             minimal: DecisionResolveRequest(runId: "r", decisionId: "d", choice: "c")), result: runPair),
            StepApproveRequest.method: RequestSample(
                params: Pair(full: StepApproveRequest(runId: "r", approvalId: "a", proposal: "p"),
                             minimal: StepApproveRequest(runId: "r", approvalId: "a")), result: runPair),
            StepRequestChangesRequest.method: RequestSample(
                params: same(StepRequestChangesRequest(runId: "r", approvalId: "a", feedback: "f")), result: runPair),
            StepRejectRequest.method: RequestSample(
                params: Pair(full: StepRejectRequest(runId: "r", approvalId: "a", reason: "x"),
                             minimal: StepRejectRequest(runId: "r", approvalId: "a")), result: runPair),
            InboxListRequest.method: RequestSample(params: same(InboxListRequest()), result: same(InboxListResult(items: []))),
            StepLogRequest.method: RequestSample(
                params: Pair(full: StepLogRequest(runId: "r", stepId: "s", attempt: 1, offset: 0, limit: 1),
                             minimal: StepLogRequest(runId: "r", stepId: "s")),
                result: same(StepLogResult(text: "", nextOffset: 0, eof: true))),
            RunDiffRequest.method: RequestSample(
                params: Pair(full: RunDiffRequest(runId: "r", stepId: "s"), minimal: RunDiffRequest(runId: "r")),
                result: same(RunDiffResult(runId: "r", from: "a", to: "b", files: [fullFile], patch: "p"))),
            RunApplyRequest.method: RequestSample(
                params: Pair(full: RunApplyRequest(runId: "r", strategy: .squash), minimal: RunApplyRequest(runId: "r")), result: runPair),
            RunReportRequest.method: RequestSample(
                params: same(RunReportRequest(runId: "r")),
                result: Pair(full: RunReportResult(runId: "r", markdown: "# Run", path: "/w/.drover/reports/r.md"),
                             minimal: RunReportResult(runId: "r", markdown: ""))),
            RunDiscardRequest.method: RequestSample(
                params: Pair(full: RunDiscardRequest(runId: "r", force: true), minimal: RunDiscardRequest(runId: "r")), result: runPair),
            WorkspaceTrustRequest.method: RequestSample(
                params: same(WorkspaceTrustRequest(trusted: true)), result: same(WorkspaceTrustResult(trusted: true))),
        ]
    }
}
