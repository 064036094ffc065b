import DroverProtocol
import Foundation

/// Reads `codex exec --json` (one JSON event per line): the reader of the `codex` driver.
///
/// - `thread.started` → `.session` (the thread, with the usage totals a resume starts from);
/// - `item.completed` `agent_message` → its lines (the last one is the step's output);
///   `command_execution` → "$ swift test" when it starts, "$ swift test → exit 1: first output line" when it ends;
///   `file_change` → "patched: add hello.txt, update b.swift" (or "patch failed: …");
///   `error` items and top-level `error` events (Codex's own retries: "Reconnecting... 1/5") → a line each;
///   `todo_list` → progress; `reasoning` is not for the log;
/// - `turn.completed` → usage: this attempt's share of the thread's running totals (cached input as cache
///   reads; Codex reports no cost, the engine prices it), and `.session` again with the new totals;
/// - `turn.failed` → the step fails with Codex's message and a hint for the kinds a person can act on; a
///   rate or usage limit (an HTTP 429 Codex does not retry, "usage limit … try again at 9:20 AM", a streamed
///   `rate_limit_exceeded` it retried in vain) is `.rateLimited`, with the time its message names, if any.
/// A patch Codex could not apply (its `file_change` reads `failed`; the run still ends well) fails the step
/// unless a later change to the same files succeeded or the role sets `allowFailedPatches`.
/// Anything else — non-JSON text, events this build does not know — is shown as it is, never fatal.
public final class CodexEventReader: AgentOutputReader {
    private let workingDirectory: String
    private let model: String?
    private let allowsFailedPatches: Bool
    private var collected = AgentCollectedOutput()
    private var session: CodexSession?
    private var lastMessage: String?
    private var turnCompleted = false
    private var turnFailure: String?
    /// The last `error` event's message: `turn.failed` repeats it, and the log need not.
    private var lastError: String?
    /// Paths whose last change failed, in the order they failed.
    private var failedPatches: [String] = []
    private let now: @Sendable () -> Date

    /// `settings` is the agent block (its `allowFailedPatches`); `resumeSessionId` the session
    /// this attempt continues, as an earlier attempt reported it.
    public init(workingDirectory: String, model: String?, settings: [String: JSONValue] = [:], resumeSessionId: String? = nil,
                now: @escaping @Sendable () -> Date = { Date() }) {
        let block = AgentSettings(settings)
        self.now = now
        self.workingDirectory = workingDirectory
        self.model = model
        allowsFailedPatches = block.flag("allowFailedPatches")
        session = resumeSessionId.flatMap(CodexSession.init(token:))
    }

    public func readStdout(_ line: String) -> [AgentEvent] {
        guard let event = JSONLine.object(line), let type = event["type"]?.stringValue else {
            return line.isEmpty ? [] : [.log(.agent, line)]
        }
        switch type {
        case "thread.started":
            guard let thread = event["thread_id"]?.stringValue else { return [] }
            // A resumed thread keeps its totals; a new one (or a different one) starts from zero.
            if session?.thread != thread { session = CodexSession(thread: thread) }
            return [.session(id: session!.token)]
        case "turn.started":
            return []
        case "item.started":
            return readStarted(event["item"] ?? .null)
        case "item.updated":
            return readTodoList(event["item"] ?? .null)
        case "item.completed":
            return readCompleted(event["item"] ?? .null)
        case "turn.completed":
            turnCompleted = true
            return usageEvents(event["usage"] ?? .null)
        case "turn.failed":
            let message = event["error"]?["message"]?.stringValue ?? "the turn failed"
            turnFailure = message
            return message == lastError ? [] : [.log(.agent, "codex: " + message)]
        case "error":
            let message = event["message"]?.stringValue ?? line
            lastError = message
            return [.log(.agent, "codex: " + message)]
        default:
            return [.log(.agent, line)]
        }
    }

    public func readStderr(_ line: String) -> [AgentEvent] {
        collected.appendStderr(line)
        return [.log(.stderr, line)]
    }

    public func outcome(exit status: AgentExitStatus) -> AgentOutcome {
        let exitCode = status.exitCode
        if let turnFailure {
            if RateLimitText.isRateLimit(turnFailure) {
                return .rateLimited(retryAt: RateLimitText.retryAt(in: turnFailure, now: now()), message: turnFailure)
            }
            return .failed(message: Self.failureMessage(turnFailure), exitCode: exitCode)
        }
        guard turnCompleted else {
            // No turn ended: the CLI refused its arguments or died; its stderr says why.
            if let failure = collected.failure(status) { return failure }
            return .failed(message: "codex ended without finishing its turn", exitCode: exitCode)
        }
        if let failure = collected.failure(status) { return failure }
        if !failedPatches.isEmpty && !allowsFailedPatches {
            let paths = failedPatches.map { ToolLineText.relative($0, to: workingDirectory) }.joined(separator: ", ")
            return .failed(message: "codex could not apply its changes to \(paths) (the sandbox refused the write:"
                               + " on Linux it needs bubblewrap, and read-only allows no edits; set allowFailedPatches to accept this)",
                           exitCode: exitCode)
        }
        return .completed(output: (lastMessage ?? "").trimmingCharacters(in: .whitespacesAndNewlines))
    }

    // MARK: - Items

    private func readStarted(_ item: JSONValue) -> [AgentEvent] {
        switch item["type"]?.stringValue {
        case "command_execution":
            return [.log(.agent, "$ " + command(item))]
        case "todo_list":
            return readTodoList(item)
        default:
            return []  // the rest is shown once it completes
        }
    }

    private func readCompleted(_ item: JSONValue) -> [AgentEvent] {
        switch item["type"]?.stringValue {
        case "agent_message":
            let text = item["text"]?.stringValue ?? ""
            lastMessage = text
            return text.split(separator: "\n", omittingEmptySubsequences: false).map { .log(.agent, String($0)) }
        case "reasoning":
            return []
        case "command_execution":
            return [.log(.agent, "$ " + command(item) + " → " + commandResult(item))]
        case "file_change":
            return [.log(.agent, fileChange(item))]
        case "todo_list":
            return readTodoList(item)
        case "error":
            return [.log(.agent, "codex: " + (item["message"]?.stringValue ?? "error"))]
        case "mcp_tool_call":
            let name = [item["server"]?.stringValue, item["tool"]?.stringValue].compactMap { $0 }.joined(separator: ".")
            return [.log(.agent, "MCP \(name) → \(item["status"]?.stringValue ?? "done")")]
        case "web_search":
            return [.log(.agent, "web search: " + ToolLineText.firstLine(item["query"]?.stringValue ?? ""))]
        default:
            return [.log(.agent, ToolLineText.firstLine(String(decoding: JSONValueEncoder.encodeBytes(item), as: UTF8.self)))]
        }
    }

    /// The command as the model wrote it: Codex runs each through `/bin/bash -lc '…'`, which says nothing.
    private func command(_ item: JSONValue) -> String {
        var text = item["command"]?.stringValue ?? ""
        for shell in ["/bin/bash -lc ", "bash -lc ", "/bin/sh -c ", "/bin/zsh -lc "] where text.hasPrefix(shell) {
            text = String(text.dropFirst(shell.count))
            if text.count >= 2, text.hasPrefix("'"), text.hasSuffix("'") {
                text = String(text.dropFirst().dropLast()).replacingOccurrences(of: #"'\''"#, with: "'")
            }
            break
        }
        return ToolLineText.firstLine(text)
    }

    /// "exit 0", or "exit 3: first line of its output" for a failure; Codex leaves the output empty at times.
    private func commandResult(_ item: JSONValue) -> String {
        let status = item["exit_code"]?.integerValue.map { "exit \($0)" } ?? (item["status"]?.stringValue ?? "done")
        guard item["status"]?.stringValue != "completed" || item["exit_code"]?.integerValue != 0 else { return status }
        let output = ToolLineText.firstLine(item["aggregated_output"]?.stringValue ?? "", limit: 300)
        return output.isEmpty ? status : status + ": " + output
    }

    private func fileChange(_ item: JSONValue) -> String {
        let changes = item["changes"]?.arrayValue ?? []
        let paths = changes.compactMap { $0["path"]?.stringValue }
        let listed = changes.map { change in
            let path = ToolLineText.relative(change["path"]?.stringValue ?? "?", to: workingDirectory)
            return (change["kind"]?.stringValue).map { "\($0) \(path)" } ?? path
        }.joined(separator: ", ")
        if item["status"]?.stringValue == "failed" {
            failedPatches.removeAll { paths.contains($0) }
            failedPatches += paths
            return "patch failed: " + listed
        }
        failedPatches.removeAll { paths.contains($0) }
        return "patched: " + listed
    }

    private func readTodoList(_ item: JSONValue) -> [AgentEvent] {
        guard item["type"]?.stringValue == "todo_list", let items = item["items"]?.arrayValue, !items.isEmpty else { return [] }
        let done = items.filter { $0["completed"] == .bool(true) }.count
        let next = items.first { $0["completed"] != .bool(true) }?["text"]?.stringValue
        return [.progress(fraction: Double(done) / Double(items.count), message: next)]
    }

    // MARK: - Usage

    /// This attempt's usage: the thread's totals less what earlier attempts of the thread recorded.
    private func usageEvents(_ usage: JSONValue) -> [AgentEvent] {
        let totals = TokenUsage(input: usage["input_tokens"]?.integerValue ?? 0,
                                cacheRead: usage["cached_input_tokens"]?.integerValue ?? 0,
                                output: usage["output_tokens"]?.integerValue ?? 0,
                                reasoningOutput: usage["reasoning_output_tokens"]?.integerValue ?? 0)
        let used = totals.since(session?.totals ?? TokenUsage())
        var events: [AgentEvent] = []
        if var session {
            session.totals = totals
            self.session = session
            events.append(.session(id: session.token))
        }
        guard !used.isEmpty else { return events }
        events.append(.usage(AgentUsage(model: model ?? "codex", tokens: used)))
        return events
    }

    /// Codex's message, with what to do about the kinds a person can act on.
    static func failureMessage(_ message: String) -> String {
        let lowered = message.lowercased()
        if lowered.contains("401") || lowered.contains("unauthorized") || lowered.contains("403") {
            return message + " (authentication failed: log in with `codex login`, or set the provider's API key)"
        }
        return message
    }
}
