import Foundation
import DroverProtocol
import Testing
@testable import DroverEngine

@Suite("FanOutRules")
struct FanOutRulesTests {
    @Test("subtasks: a JSON list of texts or {task} objects, fenced or after prose; anything else says what was expected")
    func subtasks() throws {
        #expect(try FanOutRules.subtasks(from: #"["a", " b "]"#, limit: 8).get() == ["a", "b"])
        #expect(try FanOutRules.subtasks(from: "Plan:\n```json\n[{\"task\": \"x\"}, \"y\"]\n```", limit: 8).get() == ["x", "y"])
        #expect(try FanOutRules.subtasks(from: "[]", limit: 8).get() == [])
        for (output, problem) in [("no list here", "holds no JSON list"), (#"["a", 3]"#, "item 2 is neither"),
                                  (#"["a", "b", "c"]"#, "listed 3 subtasks, more than its fanOut.maxChildren (2)")] {
            guard case .failure(let error) = FanOutRules.subtasks(from: output, limit: 2) else {
                Issue.record("\(output) was accepted")
                continue
            }
            #expect(error.message.contains(problem), "\(error.message)")
        }
    }

    @Test("{{children}}: each child in merge order with its status, last output, failure and merge outcome")
    func childrenJSON() throws {
        var fanOut = RunHistory.FanOut(attempt: 1, output: "[]", children: [ChildRun(runId: "r-1", task: "a"), ChildRun(runId: "r-2", task: "b")])
        fanOut.settled["r-1"] = .merged
        let done = Run(id: "r-1", pipelineId: "p", task: "a", status: .done, createdAt: "t", updatedAt: "t",
                       steps: [Step(id: "s", kind: .agent, state: .done, output: "did a")])
        let text = FanOutRules.childrenJSON(fanOut, runs: ["r-1": done])
        let items = try #require(try JSONParser().parse(Array(text.utf8)).arrayValue)
        #expect(items.count == 2)
        #expect(items[0].objectValue?["output"]?.stringValue == "did a" && items[0].objectValue?["merge"]?.stringValue == "merged")
        #expect(items[0].objectValue?["status"]?.stringValue == "done")
        #expect(items[1].objectValue?["task"]?.stringValue == "b" && items[1].objectValue?["status"] == nil)
    }

    @Test("config fanOut.maxDepth: 3 unless a file says otherwise (the workspace's wins); wrong values are errors naming the field and its range")
    func maxDepthConfig() throws {
        let workspace = try TempDir()
        let configDirectory = try TempDir()
        #expect(EngineConfig.load(workspace: workspace.url, configDirectory: configDirectory.url).maxFanOutDepth == 3)
        let file = workspace.url.appendingPathComponent(".drover/config.json")
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(#"{"fanOut": {"maxDepth": 1}}"#.utf8).write(to: configDirectory.url.appendingPathComponent("config.json"))
        try Data(#"{"fanOut": {"maxDepth": 5}}"#.utf8).write(to: file)
        let config = EngineConfig.load(workspace: workspace.url, configDirectory: configDirectory.url)
        #expect(config.errors.isEmpty && config.maxFanOutDepth == 5)

        try Data(#"{"fanOut": {"maxDepth": 0, "width": 2}}"#.utf8).write(to: file)
        let broken = EngineConfig.load(workspace: workspace.url, configDirectory: configDirectory.url)
        #expect(broken.errors == [
            "\(file.path): unknown field 'fanOut.width' (allowed: maxDepth)",
            "\(file.path): field 'fanOut.maxDepth' must be a whole number from 1 to 10: how many levels of child runs fan-out steps may nest",
        ])
        #expect(broken.maxFanOutDepth == 1, "the user's file still counts")
    }
}
