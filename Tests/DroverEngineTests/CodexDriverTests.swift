import DroverEngine
import DroverProtocol
import Foundation
import Testing

/// The `codex` driver's reader on `codex exec --json` transcripts recorded from the real CLI (0.147,
/// Tests/Agents/transcripts/codex-*, made against Tests/Agents/fake_openai_responses.py), on garbage,
/// and the driver's settings and command line.
@Suite("Codex driver")
struct CodexDriverTests {
    private static let workingDirectory = "/home/dev/work"

    /// Every event the reader reports for a transcript's lines, and its outcome for `exit`.
    private static func read(_ lines: [String], exit: AgentExitStatus, stderr: [String] = [], model: String? = "gpt-5.4",
                             settings: [String: JSONValue] = [:], resume: String? = nil) -> ([AgentEvent], AgentOutcome) {
        let reader = CodexEventReader(workingDirectory: workingDirectory, model: model, settings: settings, resumeSessionId: resume)
        var events = lines.flatMap { reader.readStdout($0) }
        events += stderr.flatMap { reader.readStderr($0) }
        return (events, reader.outcome(exit: exit))
    }

    private static func transcript(_ name: String) throws -> [String] {
        try PackageRoot.transcript("codex-\(name).jsonl")
    }

    private static func logs(_ events: [AgentEvent]) -> [String] {
        events.compactMap { if case .log(.agent, let text) = $0 { text } else { nil } }
    }

    private static func sessions(_ events: [AgentEvent]) -> [String] {
        events.compactMap { if case .session(let id) = $0 { id } else { nil } }
    }

    private static func usage(_ events: [AgentEvent]) -> [AgentUsage] {
        events.compactMap { event in
            if case .usage(let used) = event { used } else { nil }
        }
    }

    @Test("a session that runs commands and writes a file: one line per command and change, usage, the last message as output")
    func writeFile() throws {
        let (events, outcome) = Self.read(try Self.transcript("write-file"), exit: .exited(0))
        #expect(Self.logs(events) == [
            "I will write the file.",
            "$ echo checking; exit 3",
            "$ echo checking; exit 3 → exit 3: checking",
            "patched: add hello.txt",
            "$ cat hello.txt",
            "$ cat hello.txt → exit 0",
            "Done: wrote hello.txt",
        ])
        let thread = "01a226d4-a7cc-7ab2-9330-c23bfae0f327"
        #expect(Self.sessions(events) == [thread, "\(thread);610,40,42,5"], "the thread, then its totals for a resume")
        let usage = Self.usage(events)
        #expect(usage.count == 1)
        #expect(usage.first?.model == "gpt-5.4")
        #expect(usage.first?.tokens == TokenUsage(input: 610, cacheRead: 40, output: 42, reasoningOutput: 5), "\(usage)")
        #expect(usage.first?.reportedCostUSD == nil, "Codex reports no cost")
        #expect(outcome == .completed(output: "Done: wrote hello.txt"))
    }

    @Test("prices in the block give the cost: cached input at its own price, reasoning billed inside output")
    func cost() throws {
        let prices: JSONValue = .object(["inputPerMTok": .double(1.25), "cachedInputPerMTok": .double(0.125), "outputPerMTok": .int(10)])
        let (events, _) = Self.read(try Self.transcript("write-file"), exit: .exited(0))
        let usage = try #require(Self.usage(events).first)
        let block = AgentSpec(driver: "codex", model: "gpt-5.4", settings: ["prices": prices])
        let recorded = UsagePricing(agent: block, configPrices: [:]).recorded(usage, stepId: "code")
        // 570 uncached input, 40 cached, 42 output.
        #expect(abs(recorded.costUSD - (570 * 1.25 + 40 * 0.125 + 42 * 10) / 1_000_000) < 1e-12)
        #expect(recorded.priceSource == PriceSource.config)
        #expect(recorded.cacheReadTokens == 40)
        #expect(recorded.reportedCostUSD == nil)
    }

    @Test("a resumed thread reports running totals: the attempt records only what it used itself")
    func resumeRecordsTheDifference() throws {
        let thread = "01a226d4-a7cc-7ab2-9330-c23bfae0f327"
        let (events, outcome) = Self.read(try Self.transcript("resume"), exit: .exited(0), resume: "\(thread);610,40,42,5")
        #expect(Self.sessions(events) == ["\(thread);610,40,42,5", "\(thread);2030,1340,58,5"])
        let usage = Self.usage(events)
        #expect(usage.count == 1)
        #expect(usage.first?.tokens.input == 1420)
        #expect(usage.first?.tokens.output == 16)
        #expect(Self.logs(events) == ["patched: update hello.txt", "Changed it."])
        #expect(outcome == .completed(output: "Changed it."))

        // Resumed without totals (a session from before this driver kept them): the whole total is this attempt's.
        let (plain, _) = Self.read(try Self.transcript("resume"), exit: .exited(0), resume: thread)
        #expect(Self.usage(plain).first?.tokens.input == 2030)
    }

    @Test("a patch the sandbox refused fails the step though codex exits 0 and claims success; unless allowed")
    func failedPatch() throws {
        let lines = try Self.transcript("failed-patch")
        let (events, outcome) = Self.read(lines, exit: .exited(0))
        #expect(Self.logs(events).contains("patch failed: add blocked.txt"))
        guard case .failed(let message, let exitCode) = outcome else { Issue.record("\(outcome)"); return }
        #expect(message.hasPrefix("codex could not apply its changes to blocked.txt"), "\(message)")
        #expect(message.contains("bubblewrap"), "\(message)")
        #expect(exitCode == 0)
        #expect(Self.read(lines, exit: .exited(0), settings: ["allowFailedPatches": .bool(true)]).1
                == .completed(output: "Wrote blocked.txt"))
        // A later successful change of the same file makes up for the failed one.
        let retried = lines.dropLast(2) + [
            #"{"type":"item.completed","item":{"id":"item_2","type":"file_change","changes":[{"path":"/home/dev/work/blocked.txt","kind":"add"}],"status":"completed"}}"#,
        ] + lines.suffix(2)
        #expect(Self.read(Array(retried), exit: .exited(0)).1 == .completed(output: "Wrote blocked.txt"))
    }

    @Test("API errors fail the step with codex's message, once in the log; auth failures say what to do (rate limits: RateLimitTests)")
    func turnFailed() throws {
        let (events, outcome) = Self.read(try Self.transcript("api-error"), exit: .exited(1))
        #expect(Self.logs(events) == ["codex: We're currently experiencing high demand, which may cause temporary errors."])
        #expect(Self.usage(events).isEmpty)
        #expect(outcome == .failed(message: "We're currently experiencing high demand, which may cause temporary errors.", exitCode: 1))

        let (_, auth) = Self.read(try Self.transcript("auth-error"), exit: .exited(1))
        guard case .failed(let authMessage, _) = auth else { Issue.record("\(auth)"); return }
        #expect(authMessage.hasPrefix("unexpected status 401 Unauthorized: Incorrect API key provided"))
        #expect(authMessage.hasSuffix("(authentication failed: log in with `codex login`, or set the provider's API key)"))
    }

    @Test("garbage, truncated and unknown lines are shown as they are; no finished turn is a failure explained by stderr")
    func garbage() throws {
        let truncated = #"{"type":"item.completed","item":{"type":"agent_mes"#
        let unknown = #"{"type":"turn.paused","why":"new in a later codex"}"#
        let lines = ["plain text", truncated, "{}", unknown, "", "[1,2]"]
        let (events, outcome) = Self.read(lines, exit: .exited(0))
        #expect(Self.logs(events) == ["plain text", truncated, "{}", unknown, "[1,2]"])
        #expect(outcome == .failed(message: "codex ended without finishing its turn", exitCode: 0))
        let stderr = try PackageRoot.transcript("codex-bad-args.stderr")
        let (_, refused) = Self.read([], exit: .exited(2), stderr: stderr)
        guard case .failed(let message, 2) = refused else { Issue.record("\(refused)"); return }
        #expect(message.hasPrefix("error: unexpected argument '--bogus-flag' found"), "\(message)")
    }

    @Test("settings are validated with the field's path")
    func validation() {
        let driver = CodexDriver()
        #expect(driver.validate([:], field: "agents.coder").isEmpty)
        let errors = driver.validate([
            "command": .string(""), "sandbox": .string("none"), "args": .array([.int(1)]), "env": .object(["A": .int(1)]),
            "allowFailedPatches": .string("yes"),
            "prices": .object(["inputPerMTok": .int(-1), "perCall": .int(1)]),
        ], field: "agents.coder")
        #expect(errors.sorted() == [
            "field 'agents.coder.allowFailedPatches' must be true or false",
            "field 'agents.coder.args' must be an array of non-empty strings",
            "field 'agents.coder.command' must be a non-empty string (the path of the codex program)",
            "field 'agents.coder.env' must be an object of strings",
            "field 'agents.coder.prices' needs inputPerMTok and outputPerMTok",
            "field 'agents.coder.prices.inputPerMTok' must be a number ≥ 0 (US dollars per million tokens)",
            "field 'agents.coder.prices.perCall' is not a price (expected one of inputPerMTok, outputPerMTok, cacheReadPerMTok, cacheWritePerMTok, cachedInputPerMTok)",
            "field 'agents.coder.sandbox' must be one of danger-full-access, read-only, workspace-write",
        ])
        #expect(driver.validate(["prices": .int(3)], field: "f") == [
            "field 'f.prices' must be an object of prices in US dollars per million tokens (inputPerMTok, outputPerMTok, cacheReadPerMTok, cacheWritePerMTok, cachedInputPerMTok)",
        ])
        #expect(AgentDrivers.names.contains("codex"))
    }

    @Test("the command line: exec --json in a sandbox without network, the role's options after ours, resume by thread")
    func commandLine() throws {
        func invocation(_ settings: [String: JSONValue], model: String? = nil, resume: String? = nil) throws -> AgentInvocation {
            try driverInvocation(CodexDriver(), settings, model: model, resume: resume)
        }
        let locked = ["-c", #"sandbox_mode="workspace-write""#, "-c", #"approval_policy="never""#, "-c", #"web_search="disabled""#,
                      "-c", "analytics.enabled=false", "-c", "sandbox_workspace_write.network_access=false",
                      "-c", "sandbox_workspace_write.exclude_slash_tmp=true", "-c", "sandbox_workspace_write.exclude_tmpdir_env_var=true",
                      "--disable", "plugins"]
        let plain = try invocation([:])
        #expect(plain.executable == "codex")
        #expect(plain.arguments == ["exec", "--json", "--skip-git-repo-check"] + locked + ["-"])
        #expect(plain.prompt == "Do it")
        #expect(plain.workingDirectory == "/w")

        let full = try invocation([
            "command": .string("/opt/codex"), "sandbox": .string("read-only"), "env": .object(["OPENAI_API_KEY": .string("k")]),
            "args": .array([.string("-c"), .string("model_reasoning_effort=\"low\"")]),
        ], model: "gpt-5.4", resume: "thread-1;10,0,2,0")
        #expect(full.executable == "/opt/codex")
        #expect(full.arguments == [
            "exec", "resume", "--json", "--skip-git-repo-check", "--model", "gpt-5.4",
            "-c", #"sandbox_mode="read-only""#, "-c", #"approval_policy="never""#, "-c", #"web_search="disabled""#,
            "-c", "analytics.enabled=false", "--disable", "plugins",
            "-c", "model_reasoning_effort=\"low\"", "thread-1", "-",
        ])
        #expect(full.environment["OPENAI_API_KEY"] == "k")
        #expect(full.environment["PATH"] == "/bin")
    }
}
