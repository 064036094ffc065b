@testable import DroverEngine
import DroverProtocol
import Foundation
import Testing

/// Rate limits as the drivers read them — when to try again from the agents' words (Claude's transcript
/// lines, Codex's messages, an ACP agent's error, the line protocol) — and as the engine keeps them: the
/// backoff, the reducer's `queued` run, the re-run context that says "continue".
@Suite("Rate limits")
struct RateLimitTests {
    private static let utc = TimeZone(identifier: "UTC")!

    /// 2026-11-29 (or another day) at `hour`:`minute` UTC.
    private static func at(_ hour: Int, _ minute: Int, day: Int = 29, month: Int = 11) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = utc
        return calendar.date(from: DateComponents(year: 2026, month: month, day: day, hour: hour, minute: minute))!
    }

    // MARK: - What the agents say

    @Test("rate-limit messages are told from other errors")
    func recognises() {
        for message in ["exceeded retry limit, last status: 429 Too Many Requests", "Rate limit reached for gpt-5.4",
                        "You've hit your usage limit. Try again later.", "API Error: Repeated 529 Overloaded errors",
                        "rate_limit_exceeded", "Too many requests", "status 429."] {
            #expect(RateLimitText.isRateLimit(message), "\(message)")
        }
        for message in ["Incorrect API key provided", "unexpected status 500", "line 4290 of main.swift", "took 1429 ms", ""] {
            #expect(!RateLimitText.isRateLimit(message), "\(message)")
        }
    }

    @Test("\"try again in …\" is read as a wait from now, in any of the units the APIs use")
    func tryAgainIn() {
        let now = Self.at(9, 0)
        let cases: [(String, Double)] = [
            ("Rate limit reached for gpt-5.4. Please try again in 1.5s.", 1.5),
            ("Please try again in 434ms.", 0.434),
            ("Please try again in 6m0s.", 360),
            ("try again in 20 seconds", 20),
            ("Retry after 2 minutes", 120),
            ("try again in 1h30m", 5400),
        ]
        for (message, seconds) in cases {
            let retryAt = RateLimitText.retryAt(in: message, now: now, timeZone: Self.utc)
            #expect(retryAt.map { abs($0.timeIntervalSince(now) - seconds) < 0.001 } == true, "\(message) → \(String(describing: retryAt))")
        }
    }

    @Test("\"try again at 9:20 AM\" is the nearest such time on the local clock, across midnight too; a date is that date")
    func tryAgainAt() {
        let limit = "You've hit your usage limit. Upgrade to Pro or try again at "
        #expect(RateLimitText.retryAt(in: limit + "9:20 AM.", now: Self.at(8, 0), timeZone: Self.utc) == Self.at(9, 20))
        #expect(RateLimitText.retryAt(in: limit + "9:20 PM.", now: Self.at(8, 0), timeZone: Self.utc) == Self.at(21, 20))
        // Said just before midnight, a time just after it is tomorrow's.
        #expect(RateLimitText.retryAt(in: limit + "12:05 AM.", now: Self.at(23, 50), timeZone: Self.utc) == Self.at(0, 5, day: 30))
        // A time a minute gone (a slow clock, a late read) is today's, not tomorrow's: the engine goes at once.
        #expect(RateLimitText.retryAt(in: limit + "9:20 AM.", now: Self.at(9, 21), timeZone: Self.utc) == Self.at(9, 20))
        // Read just after midnight, a time said just before it is yesterday's.
        #expect(RateLimitText.retryAt(in: limit + "11:58 PM.", now: Self.at(0, 1, day: 30), timeZone: Self.utc) == Self.at(23, 58))
        #expect(RateLimitText.retryAt(in: limit + "Dec 1st, 2026 10:15 PM.", now: Self.at(8, 0), timeZone: Self.utc)
                == Self.at(22, 15, day: 1, month: 12))
        // The local clock is the agent's: 9:20 AM in Berlin is 8:20 UTC in winter.
        let berlin = TimeZone(identifier: "Europe/Berlin")!
        #expect(RateLimitText.retryAt(in: limit + "9:20 AM.", now: Self.at(7, 0), timeZone: berlin) == Self.at(8, 20))
    }

    @Test("garbage names no time")
    func garbage() {
        let now = Self.at(9, 0)
        for message in ["try again later", "try again at 25:99", "try again at 13:00 PM", "try again in soon", "try again at Foo 99th, 2026 1:00 AM",
                        "try again in 5 fortnights", "", "429"] {
            #expect(RateLimitText.retryAt(in: message, now: now, timeZone: Self.utc) == nil, "\(message)")
        }
    }

    @Test("claude: a 429 the CLI gave up on is a rate limit, retried after the last retry-after it was told")
    func claudeGaveUp() throws {
        let now = Self.at(9, 0)
        let reader = ClaudeStreamReader(workingDirectory: "/home/dev/work", now: { now })
        let events = try PackageRoot.transcript("rate-limit.jsonl").flatMap { reader.readStdout($0) }
        let logs = events.compactMap { if case .log(.agent, let text) = $0 { text } else { nil } }
        #expect(logs.contains("API error 429 (rate_limit), retrying in 1.2 s (1/1)"), "the CLI's own retry is a line: \(logs)")
        let outcome = reader.outcome(exit: .exited(1))
        #expect(outcome == .rateLimited(retryAt: now.addingTimeInterval(1.238), message: "API Error: Request rejected (429) · slow down again"))
    }

    @Test("claude: a rejected rate_limit_event gives the reset time; allowed ones say nothing; a 500 stays a failure")
    func claudeLimitEvent() throws {
        let reader = ClaudeStreamReader(workingDirectory: "/w", now: { Self.at(9, 0) })
        #expect(reader.readStdout(#"{"type":"rate_limit_event","rate_limit_info":{"status":"allowed","resetsAt":1764500000}}"#).isEmpty)
        let reset = Self.at(14, 0)
        let line = #"{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":\#(Int(reset.timeIntervalSince1970)),"rateLimitType":"five_hour"}}"#
        #expect(reader.readStdout(line) == [.log(.agent, "rate limit reached (five_hour), resets at 2026-11-29T14:00:00Z")])
        _ = reader.readStdout(#"{"type":"result","subtype":"success","is_error":true,"result":"Claude AI usage limit reached"}"#)
        #expect(reader.outcome(exit: .exited(1)) == .rateLimited(retryAt: reset, message: "Claude AI usage limit reached"))

        let overloaded = ClaudeStreamReader(workingDirectory: "/w")
        _ = overloaded.readStdout(#"{"type":"result","subtype":"success","is_error":true,"api_error_status":529,"result":"Overloaded"}"#)
        #expect(overloaded.outcome(exit: .exited(1)) == .rateLimited(retryAt: nil, message: "Overloaded"))

        let outage = ClaudeStreamReader(workingDirectory: "/w")
        _ = outage.readStdout(#"{"type":"result","subtype":"success","is_error":true,"api_error_status":500,"result":"boom"}"#)
        #expect(outage.outcome(exit: .exited(1)) == .failed(message: "boom (API status 500)", exitCode: 1))
    }

    @Test("codex: a rate limit it retried in vain waits for \"try again in\"; a usage limit without a time, for the backoff")
    func codex() throws {
        let now = Self.at(9, 0)
        let read = { (name: String) in
            let reader = CodexEventReader(workingDirectory: "/home/dev/work", model: "gpt-5.4", now: { now })
            let events = try PackageRoot.transcript(name).flatMap { reader.readStdout($0) }
            return (events, reader.outcome(exit: .exited(1)))
        }
        let (events, streamed) = try read("codex-rate-limit.jsonl")
        let logs = events.compactMap { if case .log(.agent, let text) = $0 { text } else { nil } }
        #expect(logs.first?.hasPrefix("codex: Reconnecting... 1/1 (stream disconnected before completion: Rate limit reached") == true,
                "codex's own retry is a log line: \(logs)")
        #expect(streamed == .rateLimited(retryAt: now.addingTimeInterval(1.5),
                                         message: "stream disconnected before completion: Rate limit reached for gpt-5.4. Please try again in 1.5s."))
        #expect(try read("codex-usage-limit.jsonl").1 == .rateLimited(retryAt: nil, message: "You've hit your usage limit. Try again later."))

        let reader = CodexEventReader(workingDirectory: "/w", model: nil, now: { now })
        _ = reader.readStdout(#"{"type":"turn.failed","error":{"message":"You've hit your usage limit. Upgrade to Pro or try again at 9:20 AM."}}"#)
        let outcome = reader.outcome(exit: .exited(1))
        guard case .rateLimited(let retryAt?, _) = outcome else { Issue.record("\(outcome)"); return }
        let local = Calendar.current.dateComponents([.hour, .minute], from: retryAt)
        #expect(local.hour == 9 && local.minute == 20, "on the local clock, as codex printed it: \(retryAt)")
    }

    @Test("acp: an error answer to the prompt that speaks of a rate limit waits; other errors fail")
    func acp() throws {
        let limited = ACPClientReader(prompt: "p", workingDirectory: "/w")
        limited.attach(input: try AgentInput())
        _ = limited.readStdout(#"{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":1,"agentCapabilities":{}}}"#)
        _ = limited.readStdout(#"{"jsonrpc":"2.0","id":1,"result":{"sessionId":"s-1"}}"#)
        _ = limited.readStdout(#"{"jsonrpc":"2.0","id":2,"error":{"code":-32603,"message":"Internal error","data":"API Error: 429 rate_limit_error"}}"#)
        #expect(limited.outcome(exit: .exited(0)) == .rateLimited(retryAt: nil, message: "Internal error: API Error: 429 rate_limit_error"))

        let broken = ACPClientReader(prompt: "p", workingDirectory: "/w")
        broken.attach(input: try AgentInput())
        _ = broken.readStdout(#"{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":1,"agentCapabilities":{}}}"#)
        _ = broken.readStdout(#"{"jsonrpc":"2.0","id":1,"result":{"sessionId":"s-1"}}"#)
        _ = broken.readStdout(#"{"jsonrpc":"2.0","id":2,"error":{"code":-32603,"message":"Internal error","data":"disk full"}}"#)
        guard case .failed = broken.outcome(exit: .exited(0)) else { Issue.record("an unrelated error fails"); return }
    }

    @Test("the line protocol's rate_limited line: retryAfterSeconds from now, or the backoff; malformed is a log line")
    func lineProtocol() {
        let now = Self.at(9, 0)
        let line = #"{"type":"rate_limited","message":"slow down","retryAfterSeconds":2.5}"#
        #expect(AgentLine.parse(line) == .rateLimited(message: "slow down", retryAfterSeconds: 2.5))
        #expect(AgentLine.parse(AgentLine.rateLimited(message: "slow down", retryAfterSeconds: 2.5).encoded)
                == .rateLimited(message: "slow down", retryAfterSeconds: 2.5))
        #expect(AgentLine.parse(#"{"type":"rate_limited"}"#) == .rateLimited(message: nil, retryAfterSeconds: nil))
        for bad in [#"{"type":"rate_limited","retryAfterSeconds":-1}"#, #"{"type":"rate_limited","retryAfterSeconds":"soon"}"#] {
            #expect(AgentLine.parse(bad) == .log(bad))
        }
        let reader = LineProtocolReader(now: { now })
        _ = reader.readStdout(line)
        #expect(reader.outcome(exit: .exited(0)) == .rateLimited(retryAt: now.addingTimeInterval(2.5), message: "slow down"))
    }

    // MARK: - What the engine keeps

    @Test("the backoff doubles per rate limit in a row from its first wait, up to its cap")
    func backoff() {
        let standard = RateLimitBackoff()
        #expect((1...7).map { standard.seconds(consecutive: $0) } == [30, 60, 120, 240, 480, 900, 900])
        #expect(standard.seconds(consecutive: 1000) == 900)
        #expect(RateLimitBackoff(firstSeconds: 1, maxSeconds: 3).seconds(consecutive: 3) == 3)
    }

    @Test("run.queued rate_limit queues a started run, its step back to pending; run.started clears the wait")
    func reducer() throws {
        var events: [Event] = []
        func add(_ body: EventBody) { events.append(Event(runId: "r-1", seq: events.count + 1, at: "2026-11-29T09:00:0\(events.count).000Z", body: body)) }
        add(.runCreated(.init(pipelineId: "p", task: "t", steps: [StepInfo(id: "work", kind: .agent)])))
        add(.runStarted)
        add(.stepStarted(.init(stepId: "work", attempt: 1)))
        add(.runQueued(.init(reason: .rateLimit, retryAt: "2026-11-29T09:01:00.000Z", stepId: "work", message: "429")))
        let waiting = try #require(try RunReducer.fold(events))
        #expect(waiting.status == .queued && waiting.queueReason == .rateLimit && waiting.retryAt == "2026-11-29T09:01:00.000Z")
        #expect(waiting.step("work")?.state == .pending && waiting.step("work")?.attempts == 1)
        #expect(NextAction.of(waiting) == .startRun)
        #expect(waiting.failure == nil)

        var history = RunHistory(events: events)
        #expect(history.consecutiveRateLimits(stepId: "work") == 1)
        let context = history.rerunContext(stepId: "work")
        #expect(context.rateLimited == "429")
        #expect(context.renderedForResume() == "Continue the same task. Since your last turn:\n"
                + "You were rate limited by the model API (429); the limit has passed: continue where you left off.")

        add(.runStarted)
        add(.stepStarted(.init(stepId: "work", attempt: 2)))
        let running = try #require(try RunReducer.fold(events))
        #expect(running.status == .running && running.queueReason == nil && running.retryAt == nil)
        add(.stepCompleted(.init(stepId: "work", attempt: 2, output: "ok")))
        history = RunHistory(events: events)
        #expect(history.consecutiveRateLimits(stepId: "work") == 0)
        #expect(history.rerunContext(stepId: "work").isEmpty)
    }

    @Test("config rateLimits sets the backoff; wrong values are errors naming the field")
    func config() throws {
        let workspace = try TempDir()
        let configDirectory = try TempDir()
        let file = workspace.url.appendingPathComponent(".drover/config.json")
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(#"{"rateLimits": {"backoffSeconds": 2, "maxBackoffSeconds": 60}}"#.utf8).write(to: file)
        let config = EngineConfig.load(workspace: workspace.url, configDirectory: configDirectory.url)
        #expect(config.errors.isEmpty && config.rateLimitBackoff == RateLimitBackoff(firstSeconds: 2, maxSeconds: 60))

        try Data(#"{"rateLimits": {"backoffSeconds": -1, "every": 3}}"#.utf8).write(to: file)
        let broken = EngineConfig.load(workspace: workspace.url, configDirectory: configDirectory.url)
        #expect(broken.errors == [
            "\(file.path): unknown field 'rateLimits.every' (allowed: backoffSeconds, maxBackoffSeconds)",
            "\(file.path): field 'rateLimits.backoffSeconds' must be a positive number of seconds",
        ])
    }
}
