import DroverEngine
import DroverFakeAgent
import DroverProtocol
import Foundation
import Testing

/// Runs the real `drover agent-fake` through the real launcher, as the engine will.
@Suite("FakeAgent")
struct FakeAgentTests {
    typealias Support = LaunchTestSupport

    /// `DROVER_BIN`, else `.build/debug/drover` at the package root (found from this file's path).
    static let droverBinary: String = {
        if let path = ProcessInfo.processInfo.environment["DROVER_BIN"], !path.isEmpty { return path }
        return PackageRoot.url.appendingPathComponent(".build/debug/drover").path
    }()

    static func run(_ script: String, prompt: String = "", attempt: Int? = nil, arguments: [String] = [],
                    environment: [String: String] = [:], directory: URL? = nil,
                    timeout: Duration? = nil) throws -> LaunchTestSupport.Launched {
        #expect(FileManager.default.isExecutableFile(atPath: droverBinary),
                "build the executable first (swift build) or set DROVER_BIN; looked at \(droverBinary)")
        var environment = environment
        if !script.isEmpty { environment[FakeAgent.scriptEnvironmentKey] = script }
        if let attempt { environment["DROVER_ATTEMPT"] = String(attempt) }
        return try Support.launch(executable: droverBinary, arguments: [FakeAgent.subcommand] + arguments, prompt: prompt,
                                  environment: environment, directory: directory, timeout: timeout)
    }

    @Test("say lines are log events, and without a result they are the output")
    func say() async throws {
        let run = try Self.run(#"[[{"say": "hello"}, {"say": "world"}]]"#)
        #expect(await Support.outcome(of: run.handle) == .completed(output: "hello\nworld"))
        #expect(run.recorder.all == [.log(.agent, "hello"), .log(.agent, "world")])
    }

    @Test("usage and progress become events")
    func usageAndProgress() async throws {
        let run = try Self.run("""
            [[{"usage": {"model": "fake-1", "input": 120, "output": 30, "costUSD": 0.5}},
              {"usage": {"model": "fake-2", "input": 1, "output": 2}},
              {"progress": {"fraction": 0.5, "message": "half"}},
              {"result": "ok"}]]
            """)
        #expect(await Support.outcome(of: run.handle) == .completed(output: "ok"))
        #expect(run.recorder.all == [
            .usage(AgentUsage(model: "fake-1", inputTokens: 120, outputTokens: 30, reportedCostUSD: 0.5)),
            .usage(AgentUsage(model: "fake-2", inputTokens: 1, outputTokens: 2, reportedCostUSD: nil)),
            .progress(fraction: 0.5, message: "half"),
        ])
    }

    @Test("ask raises a decision and ends the turn")
    func ask() async throws {
        let run = try Self.run(#"[[{"ask": {"question": "Which DB?", "options": ["sqlite", "postgres"]}}, {"say": "never"}]]"#)
        #expect(await Support.outcome(of: run.handle) == .decision(question: "Which DB?", options: ["sqlite", "postgres"]))
        #expect(run.recorder.agentLines.isEmpty)
    }

    @Test("result fills in the prompt, the attempt and environment variables")
    func resultTemplates() async throws {
        let run = try Self.run(#"[[{"result": "got: {{prompt}} / #{{attempt}} / {{env.DROVER_STEP_ID}} / {{unknown}}"}]]"#,
                               prompt: "Plan {{attempt}}", environment: ["DROVER_STEP_ID": "plan"])
        #expect(await Support.outcome(of: run.handle) == .completed(output: "got: Plan {{attempt}} / #1 / plan / {{unknown}}"))
    }

    @Test("a huge prompt is read entirely")
    func hugePrompt() async throws {
        let prompt = String(repeating: "0123456789abcdef", count: 1 << 16)
        let run = try Self.run(#"[[{"result": "{{prompt}}"}]]"#, prompt: prompt)
        #expect(await Support.outcome(of: run.handle) == .completed(output: prompt))
    }

    @Test("fail exits 1 with its text on stderr")
    func fail() async throws {
        let run = try Self.run(#"[[{"say": "trying"}, {"fail": "compiler exploded"}, {"result": "never"}]]"#)
        #expect(await Support.outcome(of: run.handle) == .failed(message: "compiler exploded", exitCode: 1))
        #expect(run.recorder.stderrLines == ["compiler exploded"])
    }

    @Test("hang never ends; terminate kills it")
    func hangThenTerminate() async throws {
        let run = try Self.run(#"[[{"say": "about to hang"}, {"hang": true}]]"#)
        #expect(await run.recorder.waitFor { $0 == .log(.agent, "about to hang") })
        run.handle.terminate(grace: .seconds(2))
        #expect(await Support.outcome(of: run.handle) == .terminated)
        #expect(await Support.groupIsGone(run.handle.pid))
    }

    @Test("hang runs into the timeout")
    func hangTimesOut() async throws {
        let run = try Self.run(#"[[{"hang": true}]]"#, timeout: .milliseconds(300))
        #expect(await Support.outcome(of: run.handle) == .timedOut)
    }

    @Test("sleep takes fractions of a second")
    func sleep() async throws {
        let start = ContinuousClock.now
        let run = try Self.run(#"[[{"sleep": 0.2}, {"result": "rested"}]]"#)
        #expect(await Support.outcome(of: run.handle) == .completed(output: "rested"))
        #expect(ContinuousClock.now - start >= .milliseconds(200))
    }

    @Test("spam prints that many lines, in order")
    func spam() async throws {
        let run = try Self.run(#"[[{"spam": 10000}, {"result": "spammed"}]]"#)
        #expect(await Support.outcome(of: run.handle) == .completed(output: "spammed"))
        #expect(run.recorder.agentLines == (1...10000).map { "spam \($0)/10000" })
    }

    @Test("write creates a file under the working directory")
    func write() async throws {
        let run = try Self.run(#"[[{"write": {"path": "src/new/file.txt", "text": "for {{prompt}}"}}, {"result": "wrote"}]]"#,
                               prompt: "task")
        #expect(await Support.outcome(of: run.handle) == .completed(output: "wrote"))
        let written = try String(contentsOf: run.directory.appendingPathComponent("src/new/file.txt"), encoding: .utf8)
        #expect(written == "for task")
    }

    @Test("write refuses paths outside the working directory", arguments: ["../x", "a/../../x", "/tmp/x", "link/x"])
    func writeRefuses(path: String) async throws {
        let scratch = try TempDir()
        let outer = scratch.url
        let directory = outer.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: directory.appendingPathComponent("link"), withDestinationURL: outer)
        let run = try Self.run(#"[[{"write": {"path": "\#(path)", "text": "nope"}}, {"result": "wrote"}]]"#, directory: directory)
        guard case .failed(let message, 1)? = await Support.outcome(of: run.handle) else {
            Issue.record("expected exit 1")
            return
        }
        #expect(message.contains("refusing to write \(path)"))
        #expect(!FileManager.default.fileExists(atPath: outer.appendingPathComponent("x").path))
    }

    @Test("attempt N plays turn N, and the last turn repeats", arguments: [(1, "first"), (2, "second"), (3, "last"), (7, "last")])
    func turnSelection(attempt: Int, expected: String) async throws {
        let run = try Self.run(#"[[{"result": "first"}], [{"result": "second"}], [{"result": "last"}]]"#, attempt: attempt)
        #expect(await Support.outcome(of: run.handle) == .completed(output: expected))
    }

    @Test("without DROVER_ATTEMPT the first turn plays")
    func defaultAttempt() async throws {
        let run = try Self.run(#"[[{"result": "first {{attempt}}"}], [{"result": "second"}]]"#)
        #expect(await Support.outcome(of: run.handle) == .completed(output: "first 1"))
    }

    @Test("an empty turn exits 0 with empty output")
    func emptyTurn() async throws {
        let run = try Self.run(#"[[]]"#)
        #expect(await Support.outcome(of: run.handle) == .completed(output: ""))
    }

    @Test("the script can come from a file")
    func scriptFile() async throws {
        let scratch = try TempDir()
        let directory = scratch.url
        let file = directory.appendingPathComponent("script.json")
        try Data(#"[[{"result": "from the file"}]]"#.utf8).write(to: file)
        let run = try Self.run("", arguments: ["--script", file.path], directory: directory)
        #expect(await Support.outcome(of: run.handle) == .completed(output: "from the file"))
    }

    static let badInvocations: [(script: String, arguments: [String], attempt: String?, message: String)] = [
        ("[[{\"say\": ", [], nil, "is not valid JSON"),
        (#"[{"say": "not wrapped in a turn"}]"#, [], nil, "wrap the actions in another list"),
        (#"[[{"sleep": "long"}]]"#, [], nil, #"turn 1, action 1: "sleep" needs a number of seconds"#),
        (#"[[{"dance": true}]]"#, [], nil, #"unknown action "dance""#),
        (#"[]"#, [], nil, "no turns"),
        ("", [], nil, "no script"),
        (#"[[{"result": "x"}]]"#, ["--bogus"], nil, "unknown argument --bogus"),
        (#"[[{"result": "x"}]]"#, [], "zero", "DROVER_ATTEMPT must be a positive integer"),
    ]

    @Test("a bad script or invocation exits 2 and says what is wrong", arguments: badInvocations)
    func badScript(_ c: (script: String, arguments: [String], attempt: String?, message: String)) async throws {
        var environment: [String: String] = [:]
        if let attempt = c.attempt { environment["DROVER_ATTEMPT"] = attempt }
        let run = try Self.run(c.script, arguments: c.arguments, environment: environment)
        guard case .failed(let message, 2)? = await Support.outcome(of: run.handle) else {
            Issue.record("expected exit 2")
            return
        }
        #expect(message.contains(c.message), "\(message)")
    }
}

@Suite("FakeScript")
struct FakeScriptTests {
    static func json(_ text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    @Test("a good script validates and parses")
    func good() throws {
        let json = try Self.json("""
            [[{"say": "hi"}, {"sleep": 1}, {"sleep": 0.5}, {"usage": {"model": "m", "input": 1, "output": 2}},
              {"ask": {"question": "q", "options": ["a", "b"]}}],
             [{"write": {"path": "a.txt", "text": "t"}}, {"spam": 3}, {"progress": {"message": "m"}},
              {"hang": true}, {"fail": "f"}, {"result": "r"}]]
            """)
        let script = try FakeScript(json: json)
        #expect(script.turns.count == 2)
        #expect(script.turn(forAttempt: 1).first == .say("hi"))
        #expect(script.turn(forAttempt: 9).last == .result("r"))
        #expect(script.turn(forAttempt: 1)[2] == .sleep(seconds: 0.5))
        // The JSON form reads back to the same script.
        #expect(try FakeScript(json: script.json) == script)
        #expect(try FakeScript(json: Self.json(script.jsonText)) == script)
    }

    @Test("every problem is reported with its place")
    func problems() throws {
        let json = try Self.json("""
            [[{"say": 1}, {"usage": {"model": "m"}}, {"ask": {"question": "q", "options": []}}, "text",
              {"say": "a", "result": "b"}],
             {"say": "not a list"},
             [{"spam": -1}, {"hang": false}, {"write": {"path": "x"}}, {"progress": {"fraction": "half"}}]]
            """)
        let error = #expect(throws: FakeScriptError.self) { try FakeScript(json: json) }
        #expect(error?.problems == [
            #"turn 1, action 1: "say" needs a text, got 1"#,
            #"turn 1, action 2: "usage" needs {"model": text, "input": tokens, "output": tokens, "costUSD"?: number}, got an object"#,
            #"turn 1, action 3: "ask" needs {"question": text, "options": [text, ...]} with at least one option, got an object"#,
            #"turn 1, action 4: an action is an object with one key (expected one of say, sleep, usage, ask, write, result, fail, hang, spam, progress, session, rateLimit), got "text""#,
            "turn 1, action 5: an action has exactly one key, got {result, say}",
            "turn 2: must be a list of actions, got an object",
            #"turn 3, action 1: "spam" needs a number of lines (0 or more), got -1"#,
            #"turn 3, action 2: "hang" must be true, got false"#,
            #"turn 3, action 3: "write" needs {"path": relative path, "text": text}, got an object"#,
            #"turn 3, action 4: "progress" has a fraction that is not a number, got an object"#,
        ])
    }

    @Test("scripts decode through Codable, as inside a pipeline file")
    func codable() throws {
        let script = try JSONDecoder().decode(FakeScript.self, from: Data(#"[[{"result": "done"}]]"#.utf8))
        #expect(script == FakeScript(turns: [[.result("done")]]))
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(FakeScript.self, from: Data(#"[[{"result": 1}]]"#.utf8))
        }
    }
}
