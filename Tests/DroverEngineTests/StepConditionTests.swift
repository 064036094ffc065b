import DroverEngine
import DroverProtocol
import Foundation
import Testing

@Suite struct StepConditionTests {
    let large = StepCondition(step: "estimate", path: "size", test: .isIn([.string("medium"), .string("large")]))

    @Test func aMatchingValueRunsTheStepAndAnotherSkipsItWithTheValueInTheReason() throws {
        #expect(try large.evaluate(output: #"{"size": "large", "files": 9}"#).holds)
        let small = try large.evaluate(output: "Here is my estimate:\n```json\n{\"size\": \"small\"}\n```")
        #expect(!small.holds)
        #expect(small.reason.contains(#"estimate.size is "small""#) && small.reason.contains(#"in ["medium","large"]"#), "\(small.reason)")
    }

    @Test func pathsReachIntoListsAndNumbersCompareByValue() throws {
        let first = StepCondition(step: "plan", path: "files.0.lines", test: .equals(.int(2)))
        #expect(try first.evaluate(output: #"{"files": [{"lines": 2.0}]}"#).holds)
        let whole = StepCondition(step: "vote", test: .notIn([.bool(true)]))
        #expect(try whole.evaluate(output: "false").holds)
    }

    @Test(arguments: [
        (nil as String?, "step 'estimate' has no output (it was skipped or has not run)"),
        ("about medium, I think", "its output is not JSON: \"about medium, I think\""),
        (#"{"effort": "s"}"#, "the output has no member 'size' (it has 'effort')"),
        (#"["large"]"#, "the output is a list of 1; 'size' is not an index in it"),
    ])
    func whatCannotBeEvaluatedSaysWhyNamingTheStepAndPath(output: String?, problem: String) {
        #expect(throws: StepCondition.Unevaluable.self) { try large.evaluate(output: output) }
        do {
            _ = try large.evaluate(output: output)
        } catch {
            #expect(error.description.contains("reads 'size' of step 'estimate'") && error.description.contains(problem), "\(error)")
        }
    }

    static let estimate = #"{"id": "estimate", "kind": "command", "command": "echo '{}'"}"#

    @Test(arguments: [
        (#"{"id": "arch", "kind": "command", "command": "true", "when": {"step": "estimat", "path": "size", "equals": "large"}}"#,
         "step 2 ('arch'): field 'when.step': 'estimat' is not an earlier step of this pipeline (earlier steps: estimate)"),
        (#"{"id": "arch", "kind": "command", "command": "true", "when": {"step": "arch", "equals": 1}}"#,
         "step 2 ('arch'): field 'when.step': 'arch' is this step itself (a cycle)"),
        (#"{"id": "arch", "kind": "command", "command": "true", "when": {"step": "estimate", "path": "size"}}"#,
         "step 2 ('arch'): field 'when' needs exactly one of equals, notEquals, in, notIn (found none)"),
        (#"{"id": "arch", "kind": "command", "command": "true", "when": {"step": "estimate", "in": []}}"#,
         "step 2 ('arch'): field 'when.in' must be a non-empty list of values"),
        (#"{"id": "arch", "kind": "command", "command": "true", "when": {"step": "estimate", "path": "a..b", "equals": 1}}"#,
         "step 2 ('arch'): field 'when.path' must be a dotted path"),
        (#"{"id": "arch", "kind": "command", "command": "true", "when": {"step": "estimate", "equals": 1, "if": "x"}}"#,
         "step 2 ('arch'): field 'when.if' is unknown (allowed: step, path, equals, notEquals, in, notIn)"),
    ])
    func badConditionsAreListedWithTheStepAndField(step: String, message: String) {
        let json = #"{"name": "x", "steps": ["# + Self.estimate + ", " + step + "]}"
        let errors = PipelineValidator.validate(data: Data(json.utf8)).errors
        #expect(errors.contains { $0.hasPrefix(message) }, "\(errors)")
    }

    @Test func aLaterStepInWhenIsRefused() {
        let json = #"{"name": "x", "steps": [{"id": "a", "kind": "command", "command": "true", "when": {"step": "b", "equals": 1}}, {"id": "b", "kind": "command", "command": "true"}]}"#
        let errors = PipelineValidator.validate(data: Data(json.utf8)).errors
        #expect(errors == ["step 1 ('a'): field 'when.step': 'b' is not an earlier step of this pipeline (there are none before this step); a step can only depend on steps before it"])
    }
}
