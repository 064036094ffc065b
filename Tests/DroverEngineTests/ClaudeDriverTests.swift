@testable import DroverEngine
import DroverProtocol
import Foundation
import Testing

/// The `claude` driver's reader on stream-json transcripts recorded from the real CLI
/// (Tests/Agents/transcripts, made against Tests/Agents/fake_anthropic.py), on garbage, and the
/// driver's settings and command line.
@Suite("Claude driver")
struct ClaudeDriverTests {
    private static let workingDirectory = "/home/dev/work"

    /// Every event the reader reports for a transcript's lines, and its outcome for `exit`.
    private static func read(_ lines: [String], exit: AgentExitStatus, stderr: [String] = [],
                             allowsDenials: Bool = false) -> ([AgentEvent], AgentOutcome) {
        let reader = ClaudeStreamReader(workingDirectory: workingDirectory, allowsDenials: allowsDenials)
        var events = lines.flatMap { reader.readStdout($0) }
        events += stderr.flatMap { reader.readStderr($0) }
        return (events, reader.outcome(exit: exit))
    }

    private static func transcript(_ name: String) throws -> [String] {
        try PackageRoot.transcript("\(name).jsonl")
    }

    private static func logs(_ events: [AgentEvent]) -> [String] {
        events.compactMap { if case .log(.agent, let text) = $0 { text } else { nil } }
    }

    @Test("a Write session: session id, readable lines, usage with cost from the result, and the result text as output")
    func writeFile() throws {
        let (events, outcome) = Self.read(try Self.transcript("write-file"), exit: .exited(0))
        #expect(events.first == .session(id: "0c073fbd-2f3c-4111-b662-d63d9a0d86c2"))
        #expect(events.filter { if case .session = $0 { true } else { false } }.count == 1, "reported once")
        #expect(Self.logs(events) == [
            "claude started: model claude-sonnet-4-5, permission mode acceptEdits, Claude Code 2.1.332",
            "I will write the file.",
            "Write hello.txt",
            "Done: wrote hello.txt",
        ])
        let usage = events.compactMap { event -> AgentUsage? in if case .usage(let used) = event { used } else { nil } }
        #expect(usage.count == 1)
        #expect(usage.first?.model == "claude-sonnet-4-5")
        // Claude counts 250 uncached input tokens, 5 read from the cache and 7 written to it: 262 in all.
        #expect(usage.first?.tokens == TokenUsage(input: 262, cacheRead: 5, cacheWrite: 7, output: 30))
        #expect(abs((usage.first?.reportedCostUSD ?? 0) - 0.00122775) < 1e-9)
        // The built-in price of claude-sonnet-4-5 gives the CLI's own figure.
        let recorded = try UsagePricing().recorded(#require(usage.first), stepId: "s")
        #expect(recorded.priceSource == .table && abs(recorded.costUSD - 0.00122775) < 1e-12, "\(recorded)")
        #expect(outcome == .completed(output: "Done: wrote hello.txt"))
    }

    @Test("retries and failed commands are log lines; an API error the CLI gave up on fails with its message and status")
    func apiError() throws {
        let (events, outcome) = Self.read(try Self.transcript("api-error"), exit: .exited(1))
        let logs = Self.logs(events)
        #expect(logs.contains { $0.hasPrefix("API error 429 (rate_limit), retrying in ") && $0.hasSuffix(" s (1/1)") }, "\(logs)")
        #expect(logs.contains { $0.hasPrefix("API error 529 (overloaded), retrying in ") }, "\(logs)")
        #expect(logs.contains("Bash: echo hi > b.txt; exit 3 → Exit code 3"), "\(logs)")
        guard case .failed(let message, let exitCode) = outcome else { Issue.record("\(outcome)"); return }
        #expect(message.hasPrefix("API Error: 500 boom."), "\(message)")
        #expect(message.hasSuffix("(API status 500)"), "\(message)")
        #expect(exitCode == 1)
    }

    @Test("tools denied by policy fail the step, listed; unless the role allows denials")
    func deniedTools() throws {
        let lines = try Self.transcript("denied")
        let (events, outcome) = Self.read(lines, exit: .exited(0))
        #expect(Self.logs(events).contains("denied: Bash: git push origin main"))
        #expect(Self.logs(events).contains("Bash: touch x.txt → ok"))
        guard case .failed(let message, _) = outcome else { Issue.record("\(outcome)"); return }
        #expect(message.contains("denied a tool") && message.contains("Bash: git push origin main"), "\(message)")
        #expect(Self.read(lines, exit: .exited(0), allowsDenials: true).1 == .completed(output: "gave up"))
    }

    @Test("a refused API key fails with the CLI's words and how to log in; nothing used, no usage reported")
    func authError() throws {
        let (events, outcome) = Self.read(try Self.transcript("auth-error"), exit: .exited(1))
        #expect(!events.contains { if case .usage = $0 { true } else { false } })
        #expect(outcome == .failed(message: "Invalid API key · Fix external API key (authentication failed: log in with `claude auth login`, or set ANTHROPIC_API_KEY)",
                                   exitCode: 1))
    }

    @Test("stopping at maxBudgetUSD says so; the usage is still reported (from modelUsage: usage reads zero then)")
    func budget() throws {
        let (events, outcome) = Self.read(try Self.transcript("budget"), exit: .exited(1))
        #expect(events.contains { event in
            if case .usage(let used) = event, used.model == "claude-sonnet-4-5", used.tokens.input == 100_000, used.tokens.output == 2_000,
               let cost = used.reportedCostUSD { abs(cost - 0.33) < 1e-9 } else { false }
        }, "\(events)")
        #expect(outcome == .failed(message: "claude stopped at its budget: Reached maximum budget ($0.1)", exitCode: 1))
    }

    @Test("stopping at maxTurns says so")
    func maxTurns() throws {
        let (_, outcome) = Self.read(try Self.transcript("max-turns"), exit: .exited(1))
        #expect(outcome == .failed(message: "claude stopped at the role's maxTurns: Reached maximum number of turns (1)", exitCode: 1))
    }

    @Test("garbage, truncated and unknown lines are shown as they are; no result is a failure explained by stderr")
    func garbage() {
        let truncated = #"{"type":"assistant","message":{"content":[{"type":"te"#
        let unknown = #"{"type":"auth_status","isAuthenticating":false}"#
        let lines = ["plain text", truncated, "{}", unknown, #"{"type":"system","subtype":"hook_started"}"#, "", "[1,2]"]
        let (events, outcome) = Self.read(lines, exit: .exited(0))
        #expect(Self.logs(events) == ["plain text", truncated, "{}", unknown, #"{"type":"system","subtype":"hook_started"}"#, "[1,2]"])
        #expect(outcome == .failed(message: "claude ended without a result", exitCode: nil))
        let (_, crashed) = Self.read([truncated], exit: .exited(1), stderr: ["Error: unknown option '--bogus'"])
        #expect(crashed == .failed(message: "Error: unknown option '--bogus'", exitCode: 1))
    }

    @Test("settings are validated with the field's path")
    func validation() {
        let driver = ClaudeDriver()
        #expect(driver.validate([:], field: "agents.coder").isEmpty)
        let errors = driver.validate([
            "command": .string(""), "permissionMode": .string("yolo"), "allowedTools": .array([.int(1)]),
            "disallowedTools": .string("Bash"), "maxTurns": .int(0), "appendSystemPrompt": .int(2), "maxBudgetUSD": .int(-1),
            "env": .object(["A": .int(1)]), "allowDenials": .string("yes"), "args": .array([.string("")]),
        ], field: "agents.coder")
        #expect(errors.sorted() == [
            "field 'agents.coder.allowDenials' must be true or false",
            "field 'agents.coder.allowedTools' must be an array of non-empty strings",
            "field 'agents.coder.appendSystemPrompt' must be a string",
            "field 'agents.coder.args' must be an array of non-empty strings",
            "field 'agents.coder.command' must be a non-empty string (the path of the claude program)",
            "field 'agents.coder.disallowedTools' must be an array of non-empty strings",
            "field 'agents.coder.env' must be an object of strings",
            "field 'agents.coder.maxBudgetUSD' must be a positive number (US dollars)",
            "field 'agents.coder.maxTurns' must be a positive integer",
            "field 'agents.coder.permissionMode' must be one of acceptEdits, ask, auto, bypassPermissions, default, dontAsk, manual, plan",
        ])
        #expect(AgentDrivers.names.contains("claude"))
    }

    @Test("the command line: headless stream-json, least privilege by default, the role's options, resume")
    func commandLine() throws {
        func invocation(_ settings: [String: JSONValue], model: String? = nil, resume: String? = nil) throws -> AgentInvocation {
            try driverInvocation(ClaudeDriver(), settings, model: model, resume: resume)
        }
        let plain = try invocation([:])
        #expect(plain.executable == "claude")
        #expect(plain.arguments == ["-p", "--output-format", "stream-json", "--verbose", "--input-format", "stream-json",
                                    "--permission-prompt-tool", "stdio", "--permission-mode", "acceptEdits",
                                    "--disallowedTools", "Bash(git push:*)"])
        #expect(plain.keepsStdinOpen, "the control channel: Claude's questions reach a person in every mode")
        #expect(plain.prompt.contains("\"content\":\"Do it\""), "the prompt as a stream-json user message: \(plain.prompt)")
        #expect(plain.workingDirectory == "/w")

        let full = try invocation([
            "command": .string("/opt/claude"), "permissionMode": .string("plan"),
            "allowedTools": .array([.string("Bash(swift test:*)"), .string("Edit")]),
            "disallowedTools": .array([.string("WebFetch")]), "maxTurns": .int(12), "maxBudgetUSD": .double(0.5),
            "appendSystemPrompt": .string("Be brief."), "env": .object(["ANTHROPIC_API_KEY": .string("k")]),
            "args": .array([.string("--effort"), .string("low")]),
        ], model: "claude-sonnet-4-5", resume: "session-1")
        #expect(full.executable == "/opt/claude")
        #expect(full.arguments == [
            "-p", "--output-format", "stream-json", "--verbose", "--input-format", "stream-json", "--permission-prompt-tool", "stdio",
            "--permission-mode", "plan", "--model", "claude-sonnet-4-5",
            "--allowedTools", "Bash(swift test:*)", "Edit", "--disallowedTools", "Bash(git push:*)", "WebFetch",
            "--max-turns", "12", "--max-budget-usd", "0.5", "--append-system-prompt", "Be brief.", "--resume", "session-1", "--effort", "low",
        ])
        #expect(full.environment["ANTHROPIC_API_KEY"] == "k")
        #expect(full.environment["PATH"] == "/bin")
    }

    @Test("the control channel: AskUserQuestion → one decision per question, answered together with `answers`; other tools outside ask mode are denied by the mode")
    func questionsAndPolicy() throws {
        let reader = ClaudeStreamReader(workingDirectory: Self.workingDirectory, permissionMode: "acceptEdits")
        let input = try AgentInput()
        reader.attach(input: input)
        func sent() -> [JSONValue] {
            String(decoding: input.take().bytes, as: UTF8.self).split(separator: "\n").compactMap { try? JSONParser().parse(Array($0.utf8)) }
        }
        func request(_ id: String, _ tool: String, _ toolInput: String) -> String {
            #"{"type":"control_request","request_id":"\#(id)","request":{"subtype":"can_use_tool","tool_name":"\#(tool)","input":\#(toolInput),"tool_use_id":"toolu_\#(id)"}}"#
        }
        #expect(reader.readStdout(request("r1", "Bash", #"{"command":"curl example.com"}"#)).isEmpty)
        let denial = sent()
        #expect(denial.first?["response"]?["response"]?["behavior"] == .string("deny"), "\(denial)")
        #expect(denial.first?["response"]?["response"]?["message"]?.stringValue?.contains("permission mode acceptEdits") == true)

        let questions = #"{"questions":[{"question":"Which color?","header":"Color","options":[{"label":"Red","description":"warm"},{"label":"Blue","description":"cool"}],"multiSelect":false},{"question":"Which sizes?","header":"Size","options":[{"label":"S"},{"label":"L"}],"multiSelect":true}]}"#
        let events = reader.readStdout(request("r2", "AskUserQuestion", questions))
        let asked = events.compactMap { if case .permission(let request) = $0 { request } else { nil } }
        #expect(Self.logs(events) == ["asks: Which color?", "asks: Which sizes?"])
        #expect(asked.map(\.options) == [["Red", "Blue"], ["S", "L"]])
        #expect(asked.first?.question == "Color: Which color?\n- Red: warm\n- Blue: cool")
        #expect(asked.last?.question.hasPrefix("Size: Which sizes?") == true)
        #expect(asked.allSatisfy { $0.permission == nil }, "a question, not a tool permission")
        asked[0].reply.send(.chosen("Blue", reason: nil))
        #expect(sent().isEmpty, "nothing goes back before every question is answered")
        asked[1].reply.send(.chosen("L", reason: nil))
        let answer = sent().first?["response"]?["response"]
        #expect(answer?["behavior"] == .string("allow"))
        #expect(answer?["updatedInput"]?["answers"] == .object(["Which color?": .string("Blue"), "Which sizes?": .string("L")]))
        #expect(answer?["updatedInput"]?["questions"]?.arrayValue?.count == 2, "the questions go back as they came")

        let withdrawn = reader.readStdout(request("r3", "AskUserQuestion", questions)).compactMap {
            if case .permission(let request) = $0 { request } else { nil }
        }
        withdrawn[1].reply.send(.withdrawn(reason: "the run was cancelled"))
        withdrawn[0].reply.send(.chosen("Red", reason: nil))
        let refused = sent()
        #expect(refused.count == 1 && refused.first?["response"]?["response"]?["behavior"] == .string("deny"), "\(refused)")

        #expect(reader.readStdout(request("r4", "AskUserQuestion", #"{"questions":[{"question":"Free text?","options":[]}]}"#))
            .allSatisfy { if case .permission = $0 { false } else { true } }, "a question without options cannot be a decision")
        #expect(sent().first?["response"]?["response"]?["behavior"] == .string("deny"))
    }
}
