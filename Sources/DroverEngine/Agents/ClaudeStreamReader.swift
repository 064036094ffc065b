import DroverProtocol
import Foundation

/// Reads Claude Code's `--output-format stream-json` (one JSON message per line): the reader of the
/// `claude` driver.
///
/// - `system/init` → `.session(id:)` and one line saying the model, permission mode and CLI version;
/// - `assistant` text → its lines; `tool_use` → "Edit Sources/x.swift", "Bash: swift test";
/// - `user` `tool_result` → "Bash: swift test → Exit code 1" (failures, and commands' successes: a
///   file tool's success adds nothing a person needs);
/// - `system/api_retry` → "API error 429 (rate_limit), retrying in 1.1 s (1/10)";
/// - `rate_limit_event` (subscription limits) → a line when it is not `allowed`;
/// - `system/permission_denied` → "denied: …";
/// - `result` → usage per model (tokens and cost), and the outcome: the `result` text, or a failure when
///   `is_error` is set or tools were denied by the rules (unless the role allows denials); when the CLI gave
///   up on a 429/529 or a rejected `rate_limit_event`, `.rateLimited` with when to try again: the event's
///   `resetsAt`, else the last retry delay the CLI was told (`retry-after`), else nil (the engine's backoff);
/// - `control_request` `can_use_tool` (stdin stays open in every mode) → for `AskUserQuestion`, one
///   `.permission` per question with its options (`ClaudeQuestions`), answered together once a person
///   chose; for any other tool, in `ask` mode `.permission`, answered with a `control_response` when a person
///   decides (`ClaudeControl`) — a person's deny is an answer, not a failure — and in other modes a deny,
///   as the CLI would have (it lists it in the result's `permission_denials`).
/// Anything else — non-JSON text, message types this build does not know — is shown as it is, never fatal.
public final class ClaudeStreamReader: AgentOutputReader {
    private let workingDirectory: String
    private let allowsDenials: Bool
    /// The role's permission mode; in `ask` a tool the rules do not allow becomes a decision, in any
    /// other it is denied, as the CLI would have.
    private let permissionMode: String
    private var collected = AgentCollectedOutput()
    private var model: String?
    private var sessionReported = false
    /// Tool-use summaries by id, so a tool's result can say which call it answers.
    private var toolUses: [String: (name: String, summary: String)] = [:]
    private var result: [String: JSONValue]?
    private var input: AgentInput?
    private let personDenials = PersonDenials()
    private let now: @Sendable () -> Date
    /// The delay of the CLI's last retry of a failed API request, in seconds.
    private var lastRetryDelay: Double?
    /// A `rate_limit_event` said `rejected`; with its `resetsAt` when it gave one.
    private var limitRejected = false
    private var limitResetsAt: Date?

    /// `workingDirectory` shortens the paths in tool lines; `allowsDenials` keeps tools denied by policy
    /// from failing the step; `permissionMode` is the role's (`ask` or one of the CLI's).
    public init(workingDirectory: String, allowsDenials: Bool = false,
                permissionMode: String = ClaudeDriver.defaultPermissionMode, now: @escaping @Sendable () -> Date = { Date() }) {
        self.workingDirectory = workingDirectory
        self.allowsDenials = allowsDenials
        self.permissionMode = permissionMode
        self.now = now
    }

    public func attach(input: AgentInput) {
        self.input = input
    }

    public func readStdout(_ line: String) -> [AgentEvent] {
        guard let message = JSONLine.object(line), let type = message["type"]?.stringValue else {
            return line.isEmpty ? [] : [.log(.agent, line)]
        }
        switch type {
        case "system":
            return readSystem(message, line: line)
        case "assistant":
            return readAssistant(message)
        case "user":
            return readToolResults(message)
        case "result":
            result = message
            input?.close()  // the turn is over: with stdin closed the CLI exits
            return usageEvents(message) + denialLines(message)
        case "control_request":
            return readControlRequest(message)
        case "rate_limit_event":
            return readRateLimit(message)
        case "control_cancel_request":
            return []  // the CLI gave up on a request (interrupted); its decision stays for the person
        case "stream_event":
            // Partial chunks (`--include-partial-messages`): the whole message follows as `assistant`.
            return []
        default:
            return [.log(.agent, line)]
        }
    }

    public func readStderr(_ line: String) -> [AgentEvent] {
        collected.appendStderr(line)
        return [.log(.stderr, line)]
    }

    public func outcome(exit status: AgentExitStatus) -> AgentOutcome {
        guard let result else {
            // No result: the CLI died or refused its arguments; its stderr says why.
            if let failure = collected.failure(status) { return failure }
            return .failed(message: "claude ended without a result", exitCode: nil)
        }
        let text = result["result"]?.stringValue ?? ""
        let exitCode = status.exitCode
        if result["is_error"] == .bool(true) {
            if limitRejected || Self.isRateLimitStatus(result) {
                return .rateLimited(retryAt: limitResetsAt ?? lastRetryDelay.map { now().addingTimeInterval($0) },
                                    message: text.isEmpty ? Self.errorMessage(result, text: text) : text)
            }
            return .failed(message: Self.errorMessage(result, text: text), exitCode: exitCode)
        }
        let denials = (result["permission_denials"]?.arrayValue ?? []).filter { denial in
            !(denial["tool_use_id"]?.stringValue.map(personDenials.contains) ?? false)
        }
        if !denials.isEmpty && !allowsDenials {
            let listed = denials.map { describeDenial($0) }.joined(separator: "; ")
            let what = denials.count == 1 ? "a tool" : "\(denials.count) tools"
            return .failed(message: "claude was denied \(what) by the role's permissions: \(listed)"
                               + " (allow them in the role's allowedTools, or set allowDenials)",
                           exitCode: exitCode)
        }
        return .completed(output: text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    // MARK: - Message kinds

    private func readControlRequest(_ message: [String: JSONValue]) -> [AgentEvent] {
        guard let requestId = message["request_id"]?.stringValue, let input else { return [] }
        let request = message["request"] ?? .null
        guard request["subtype"]?.stringValue == "can_use_tool" else {
            let subtype = request["subtype"]?.stringValue ?? "?"
            input.send(ClaudeControl.errorResponse(requestId: requestId, message: "drover does not serve \(subtype) requests"))
            return [.log(.agent, "claude asked drover for \(subtype), which drover does not serve")]
        }
        let tool = request["tool_name"]?.stringValue ?? "tool"
        let toolInput = request["input"] ?? .object([:])
        if tool == ClaudeQuestions.toolName {
            return askQuestions(requestId: requestId, input: toolInput, to: input)
        }
        guard permissionMode == "ask" else {
            // Outside `ask` mode the control channel is there for questions; other tools keep the mode's rules.
            input.send(ClaudeControl.policyDenial(requestId: requestId, tool: tool, mode: permissionMode))
            return []
        }
        let summary = ClaudeToolSummary.describe(name: tool, input: toolInput, workingDirectory: workingDirectory)
        let detail = summary.hasPrefix(tool + ": ") ? String(summary.dropFirst(tool.count + 2))
            : summary.hasPrefix(tool + " ") ? String(summary.dropFirst(tool.count + 1)) : ""
        let toolUseId = request["tool_use_id"]?.stringValue
        let denials = personDenials
        let reply = AgentReply { reply in
            let answer = PermissionAnswer(reply)
            if case .deny = answer, let toolUseId { denials.insert(toolUseId) }
            input.send(ClaudeControl.permissionResponse(requestId: requestId, tool: tool, input: toolInput, answer: answer))
        }
        return [.log(.agent, "asks permission: \(summary)"),
                .permission(AgentPermissionRequest(permission: ToolPermission(tool: tool, input: detail), reply: reply))]
    }

    /// Claude's own questions, each a decision; the answers go back together (`ClaudeQuestions`).
    private func askQuestions(requestId: String, input toolInput: JSONValue, to input: AgentInput) -> [AgentEvent] {
        let requests = ClaudeQuestions.requests(input: toolInput) { answer in
            input.send(ClaudeControl.questionsResponse(requestId: requestId, input: toolInput, answer: answer))
        }
        guard !requests.isEmpty else {
            input.send(ClaudeControl.questionsResponse(requestId: requestId, input: toolInput,
                                                       answer: .withdrawn("drover cannot show a question without options to choose from")))
            return [.log(.agent, "claude asked a question drover cannot show (no options): denied")]
        }
        let texts = (toolInput["questions"]?.arrayValue ?? []).compactMap { $0["question"]?.stringValue }
        return texts.map { .log(.agent, "asks: \(ToolLineText.firstLine($0))") } + requests.map { .permission($0) }
    }

    private func readSystem(_ message: [String: JSONValue], line: String) -> [AgentEvent] {
        switch message["subtype"]?.stringValue {
        case "init":
            model = message["model"]?.stringValue
            var events: [AgentEvent] = []
            if let session = message["session_id"]?.stringValue, !sessionReported {
                sessionReported = true
                events.append(.session(id: session))
            }
            let facts = [
                model.map { "model \($0)" },
                message["permissionMode"]?.stringValue.map { "permission mode \($0)" },
                message["claude_code_version"]?.stringValue.map { "Claude Code \($0)" },
            ].compactMap { $0 }
            events.append(.log(.agent, "claude started: " + facts.joined(separator: ", ")))
            return events
        case "api_retry":
            if let delay = message["retry_delay_ms"]?.numberValue, delay >= 0 { lastRetryDelay = delay / 1000 }
            let status = message["error_status"]?.integerValue.map { "API error \($0)" } ?? "API request failed"
            let kind = message["error"]?.stringValue.map { " (\($0))" } ?? ""
            let delay = message["retry_delay_ms"]?.numberValue.map { String(format: ", retrying in %.1f s", $0 / 1000) } ?? ", retrying"
            let count = message["attempt"]?.integerValue.map { attempt in
                " (\(attempt)" + (message["max_retries"]?.integerValue.map { "/\($0)" } ?? "") + ")"
            } ?? ""
            return [.log(.agent, status + kind + delay + count)]
        case "permission_denied":
            let tool = message["tool_name"]?.stringValue ?? "a tool"
            let why = message["message"]?.stringValue ?? "denied by the permission rules"
            return [.log(.agent, "denied \(tool): \(why)")]
        default:
            return [.log(.agent, line)]
        }
    }

    /// `rate_limit_event`: `allowed` comes with every request and says nothing; a warning or a
    /// rejection is news, and a rejection's `resetsAt` (epoch seconds) is when to try again.
    private func readRateLimit(_ message: [String: JSONValue]) -> [AgentEvent] {
        let info = message["rate_limit_info"] ?? .object(message)
        let status = info["status"]?.stringValue ?? "unknown"
        guard status != "allowed" else { return [] }
        let resetsAt = info["resetsAt"]?.numberValue.map { Date(timeIntervalSince1970: $0) }
        let kind = info["rateLimitType"]?.stringValue.map { " (\($0))" } ?? ""
        let when = resetsAt.map { ", resets at " + ISO8601DateFormatter().string(from: $0) } ?? ""
        if status == "rejected" {
            limitRejected = true
            limitResetsAt = resetsAt ?? limitResetsAt
            return [.log(.agent, "rate limit reached\(kind)\(when)")]
        }
        return [.log(.agent, "rate limit \(status)\(kind)\(when)")]
    }

    private func readAssistant(_ message: [String: JSONValue]) -> [AgentEvent] {
        var events: [AgentEvent] = []
        for block in message["message"]?["content"]?.arrayValue ?? [] {
            switch block["type"]?.stringValue {
            case "text":
                for line in (block["text"]?.stringValue ?? "").split(separator: "\n", omittingEmptySubsequences: false) {
                    events.append(.log(.agent, String(line)))
                }
            case "tool_use":
                let name = block["name"]?.stringValue ?? "tool"
                let summary = ClaudeToolSummary.describe(name: name, input: block["input"] ?? .null,
                                                         workingDirectory: workingDirectory)
                if let id = block["id"]?.stringValue { toolUses[id] = (name, summary) }
                events.append(.log(.agent, summary))
            default:
                break  // thinking blocks and the like are not for the log
            }
        }
        return events
    }

    private func readToolResults(_ message: [String: JSONValue]) -> [AgentEvent] {
        var events: [AgentEvent] = []
        for block in message["message"]?["content"]?.arrayValue ?? [] where block["type"]?.stringValue == "tool_result" {
            let use = block["tool_use_id"]?.stringValue.flatMap { toolUses.removeValue(forKey: $0) }
            let summary = use?.summary ?? "tool"
            if block["is_error"] == .bool(true) {
                let text = ClaudeToolSummary.text(of: block["content"] ?? .null)
                events.append(.log(.agent, summary + " → " + ToolLineText.firstLine(text, limit: 300)))
            } else if use?.name == "Bash" {
                // A command's success is news (its failure reads "→ Exit code 1"); a file tool's is not.
                events.append(.log(.agent, summary + " → ok"))
            }
        }
        return events
    }

    // MARK: - Result

    /// One usage report per model, from `modelUsage` (whose figures stay right when `usage` reads zero,
    /// as it does after `--max-budget-usd` stops the agent); `usage` and `total_cost_usd` otherwise.
    /// Claude counts cache reads and writes apart from `input_tokens`; Drover's input includes them.
    private func usageEvents(_ result: [String: JSONValue]) -> [AgentEvent] {
        if let perModel = result["modelUsage"]?.objectValue, !perModel.isEmpty {
            return perModel.keys.sorted().compactMap { name in
                guard let usage = perModel[name]?.objectValue else { return nil }
                let tokens = Self.tokens(input: usage["inputTokens"], output: usage["outputTokens"],
                                         cacheRead: usage["cacheReadInputTokens"], cacheWrite: usage["cacheCreationInputTokens"])
                return .usage(AgentUsage(model: name, tokens: tokens, reportedCostUSD: usage["costUSD"]?.numberValue))
            }
        }
        guard let usage = result["usage"]?.objectValue else { return [] }
        let tokens = Self.tokens(input: usage["input_tokens"], output: usage["output_tokens"],
                                 cacheRead: usage["cache_read_input_tokens"], cacheWrite: usage["cache_creation_input_tokens"])
        let cost = result["total_cost_usd"]?.numberValue
        // A session that never reached the model (a refused key) used nothing worth an event.
        guard !tokens.isEmpty || (cost ?? 0) > 0 else { return [] }
        return [.usage(AgentUsage(model: model ?? "claude", tokens: tokens, reportedCostUSD: cost))]
    }

    private static func tokens(input: JSONValue?, output: JSONValue?, cacheRead: JSONValue?, cacheWrite: JSONValue?) -> TokenUsage {
        let read = cacheRead?.integerValue ?? 0
        let written = cacheWrite?.integerValue ?? 0
        return TokenUsage(input: (input?.integerValue ?? 0) + read + written, cacheRead: read, cacheWrite: written,
                          output: output?.integerValue ?? 0)
    }

    private func denialLines(_ result: [String: JSONValue]) -> [AgentEvent] {
        (result["permission_denials"]?.arrayValue ?? []).map { .log(.agent, "denied: " + describeDenial($0)) }
    }

    private func describeDenial(_ denial: JSONValue) -> String {
        ClaudeToolSummary.describe(name: denial["tool_name"]?.stringValue ?? "tool", input: denial["tool_input"] ?? .null,
                                   workingDirectory: workingDirectory)
    }

    /// The CLI gave up on a rate limit (429) or an overloaded API (529).
    static func isRateLimitStatus(_ result: [String: JSONValue]) -> Bool {
        if let status = result["api_error_status"]?.integerValue { return status == 429 || status == 529 }
        return ["rate_limit_error", "overloaded_error"].contains(result["api_error_type"]?.stringValue ?? "")
    }

    /// What went wrong, in the CLI's words when it has them, with the kind a person can act on.
    static func errorMessage(_ result: [String: JSONValue], text: String) -> String {
        let subtype = result["subtype"]?.stringValue ?? "error"
        let details = (result["errors"]?.arrayValue ?? []).compactMap(\.stringValue)
        var message = text.isEmpty ? (details.isEmpty ? "claude reported an error (\(subtype))" : details.joined(separator: "; ")) : text
        switch (subtype, result["api_error_status"]?.integerValue) {
        case ("error_max_turns", _):
            message = "claude stopped at the role's maxTurns: " + message
        case ("error_max_budget_usd", _):
            message = "claude stopped at its budget: " + message
        case (_, 401?), (_, 403?):
            message += " (authentication failed: log in with `claude auth login`, or set ANTHROPIC_API_KEY)"
        case (_, let status?):
            message += " (API status \(status))"
        default:
            break
        }
        return message
    }
}
