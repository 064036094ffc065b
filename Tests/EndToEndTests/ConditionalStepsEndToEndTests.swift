import Foundation
import Testing

/// `when` over the real binary with fake agents: the step runs or is skipped by an earlier step's JSON
/// output, and a condition that cannot be evaluated fails the run naming the step and the path.
@Suite("End to end: conditional steps")
struct ConditionalStepsEndToEndTests {
    /// estimate (replies `{"size": <input>}`) → arch (only when medium or large) → impl (sees the previous output).
    static var pipeline: [String: Any] { FakePipeline.pipeline([
        FakePipeline.step("estimate", prompt: #"{"size": "{{inputs.size}}"}"#, turns: [[["result": "{{prompt}}"]]]),
        {
            var arch = FakePipeline.step("arch", prompt: "Review the design", turns: [[["result": "ARCH REVIEWED"]]])
            arch["when"] = ["step": "estimate", "path": "size", "in": ["medium", "large"]]
            return arch
        }(),
        FakePipeline.step("impl", prompt: "{{previous.output}}", turns: [[["result": "IMPL AFTER: {{prompt}}"]]]),
    ]) }

    func start(_ drover: DroverProcess, size: String) async throws -> String {
        let result = try await drover.call("run/start", ["pipelineId": "sized", "task": "t", "inputs": ["size": size]])
        return (result["run"] as? [String: Any] ?? [:]).string("id")
    }

    @Test("a small estimate skips the architecture review (step.skipped with the reason) and the run goes on; a large one runs it")
    func bothBranches() async throws {
        let workspace = try EngineWorkspace(pipelines: ["sized": Self.pipeline])
        let drover = try await workspace.server()

        let small = try await start(drover, size: "small")
        let skipped = try await drover.event(small, "step.skipped").data
        #expect(skipped.string("stepId") == "arch")
        #expect(skipped.string("reason").contains(#"estimate.size is "small""#), "\(skipped)")
        try await drover.event(small, "run.completed")
        let smallRun = try await drover.getRun(small)
        #expect(smallRun.step("arch").string("state") == "skipped" && smallRun.step("arch")["attempts"] as? Int == 0)
        #expect(smallRun.step("impl").string("output") == #"IMPL AFTER: {"size": "small"}"#, "previous.output skips the skipped step")

        let large = try await start(drover, size: "large")
        try await drover.event(large, "run.completed")
        let largeRun = try await drover.getRun(large)
        #expect(largeRun.step("arch").string("state") == "done" && largeRun.step("arch").string("output") == "ARCH REVIEWED")
        #expect(!(try await drover.storedEvents(large)).contains { $0.string("type") == "step.skipped" })
    }

    @Test("an estimate that is not JSON fails the run with a message naming the step and the path")
    func unevaluable() async throws {
        let workspace = try EngineWorkspace(pipelines: ["sized": Self.pipeline])
        let drover = try await workspace.server()
        let runId = try await start(drover, size: "\"oops")
        try await drover.event(runId, "run.failed")
        let run = try await drover.getRun(runId)
        let failure = run.object("failure")
        #expect(failure.string("stepId") == "arch")
        #expect(failure.string("message").contains("Step 'arch'") && failure.string("message").contains("reads 'size' of step 'estimate'")
                && failure.string("message").contains("not JSON"), "\(failure)")
        #expect(failure.string("hint").contains("drover restart \(runId) --from estimate"), "\(failure)")
        #expect(run.step("arch").string("state") == "pending" && run.step("impl").string("state") == "pending")
    }

    @Test("pipeline/list lists a 'when' that names an unknown or later step, with the step and field")
    func validationErrors() async throws {
        let broken = FakePipeline.pipeline([
            {
                var first = FakePipeline.step("first", prompt: "p", turns: [[["result": "x"]]])
                first["when"] = ["step": "second", "equals": true]
                return first
            }(),
            FakePipeline.step("second", prompt: "p", turns: [[["result": "x"]]]),
            {
                var third = FakePipeline.step("third", prompt: "p", turns: [[["result": "x"]]])
                third["when"] = ["step": "secnd", "equals": true]
                return third
            }(),
        ])
        let workspace = try EngineWorkspace(pipelines: ["broken": broken])
        let drover = try await workspace.server()
        let pipelines = try await drover.call("pipeline/list")["pipelines"] as? [[String: Any]] ?? []
        let errors = pipelines.first { $0.string("id") == "broken" }?["errors"] as? [String] ?? []
        #expect(errors.contains { $0.hasPrefix("step 1 ('first'): field 'when.step': 'second' is not an earlier step") }, "\(errors)")
        #expect(errors.contains { $0.hasPrefix("step 3 ('third'): field 'when.step': 'secnd' is not an earlier step of this pipeline (earlier steps: first, second)") }, "\(errors)")
        let refused = try await drover.callError("run/start", ["pipelineId": "broken", "task": "t"])
        #expect(refused.code == -32602 && refused.message.contains("'secnd'"))
    }
}
