import DroverProtocol
import Foundation

/// The client side of the Agent Client Protocol (JSON-RPC 2.0, one message per line on the agent's
/// stdin and stdout): the reader of the `acp` driver. It both reads the agent and answers it, through
/// the attempt's `AgentInput`.
///
/// The conversation: `initialize` (the client offers `fs/read_text_file` and `fs/write_text_file`, no
/// terminals) → `session/new` in the working directory (or `session/load` of the step's earlier session
/// when the agent can) → `session/prompt` with the step's prompt → the prompt's `stopReason`, after which
/// stdin is closed so the agent exits. Meanwhile:
/// - `session/update`: `agent_message_chunk` text accumulates into the output and is logged line by line;
///   `tool_call` → its title; `tool_call_update` → "title → completed" / "→ failed"; `plan` → progress;
///   `usage_update` → the session's cost so far;
/// - `session/request_permission` → answered by the role's policy (`ACPPermissionPolicy`), logged; in
///   `ask` mode what the policy does not allow becomes `.permission` whose options are the agent's own
///   ("Always Allow", "Allow", "Reject": `ACPPermissionOptions`), answered with the option a person chose,
///   or `cancelled` (after `session/cancel`) when the run is cancelled;
/// - `fs/*` → served inside the working directory only (`WorkingDirectoryFiles`); a refusal is logged;
/// - anything else the agent asks (terminals, …) → "method not found".
/// An error answer to `session/prompt` (or a `stopReason` this client does not know) that speaks of a rate
/// limit, a 429 or an overloaded model is `.rateLimited` (`RateLimitText`), with the time its words name.
/// Non-JSON lines on stdout are shown as they are.
public final class ACPClientReader: AgentOutputReader {
    private let prompt: String
    private let workingDirectory: String
    private let files: WorkingDirectoryFiles
    private let policy: ACPPermissionPolicy
    private let allowsDenials: Bool
    private let asks: Bool
    private let model: String?
    private let resumeSessionId: String?
    private var input: AgentInput?
    private var collected = AgentCollectedOutput()

    /// Our requests awaiting a response, by id.
    private var pending: [Int: String] = [:]
    private var nextId = 0
    private var sessionId: String?
    private var agentName: String?
    /// While `session/load` replays the conversation, its updates are history, not news.
    private var replaying = false

    /// The agent message being streamed, and its last line not yet logged.
    private var message = ""
    private var unloggedLine = ""
    private var messages: [String] = []
    private var toolCalls: [String: (title: String, kind: String?, status: String?)] = [:]
    private var denials: [String] = []
    private var costAtStart: Double?
    private var cost: Double?
    private var stopReason: String?
    private var usage: JSONValue?
    /// The agent's error answer to one of our requests: the attempt fails with it.
    private var failure: String?
    /// The agent's error answer to the prompt said it was rate limited: the attempt waits and re-runs.
    private var rateLimit: String?
    private let now: @Sendable () -> Date

    /// `settings` is the agent block (`allowedTools`, `allowDenials`); `resumeSessionId` the
    /// session an earlier attempt of the step reported.
    public init(prompt: String, workingDirectory: String, model: String? = nil, settings: [String: JSONValue] = [:],
                resumeSessionId: String? = nil, now: @escaping @Sendable () -> Date = { Date() }) {
        let block = AgentSettings(settings)
        self.now = now
        self.prompt = prompt
        self.workingDirectory = workingDirectory
        files = WorkingDirectoryFiles(root: workingDirectory)
        policy = ACPPermissionPolicy(allowedTools: block.strings("allowedTools"))
        allowsDenials = block.flag("allowDenials")
        asks = block.string("permissionMode") == "ask"
        self.model = model
        self.resumeSessionId = resumeSessionId
    }

    public func attach(input: AgentInput) {
        self.input = input
        request("initialize", [
            "protocolVersion": .int(1),
            "clientCapabilities": .object([
                "fs": .object(["readTextFile": .bool(true), "writeTextFile": .bool(true)]),
                "terminal": .bool(false),
            ]),
            "clientInfo": .object(["name": .string("drover"), "version": .string(DroverVersion.string)]),
        ])
    }

    public func readStdout(_ line: String) -> [AgentEvent] {
        guard let message = JSONLine.object(line) else { return line.isEmpty ? [] : [.log(.agent, line)] }
        let params = message["params"] ?? .null
        switch (message["method"]?.stringValue, message["id"]) {
        case (let method?, let id?):
            return answer(id: id, method: method, params: params)
        case ("session/update"?, nil):
            return replaying ? readReplayed(params["update"] ?? .null) : readUpdate(params["update"] ?? .null)
        case (_?, nil):
            return []  // notifications this client does not know
        case (nil, let id?):
            guard let number = id.integerValue, let method = pending.removeValue(forKey: number) else { return [.log(.agent, line)] }
            return readResponse(to: method, message)
        case (nil, nil):
            return [.log(.agent, line)]
        }
    }

    public func readStderr(_ line: String) -> [AgentEvent] {
        collected.appendStderr(line)
        return [.log(.stderr, line)]
    }

    public func outcome(exit status: AgentExitStatus) -> AgentOutcome {
        let exitCode = status.exitCode
        if let rateLimit { return .rateLimited(retryAt: RateLimitText.retryAt(in: rateLimit, now: now()), message: rateLimit) }
        if let failure { return .failed(message: failure, exitCode: exitCode) }
        guard let stopReason else {
            // The agent ended before answering the prompt: its stderr says why, when it says anything.
            if let failure = collected.failure(status) { return failure }
            return .failed(message: "the agent exited before it finished the prompt", exitCode: exitCode)
        }
        switch stopReason {
        case "end_turn":
            if !denials.isEmpty && !allowsDenials {
                let what = denials.count == 1 ? "a tool" : "\(denials.count) tools"
                return .failed(message: "the agent was refused \(what) by the role's permissions: "
                                   + denials.joined(separator: "; ") + " (allow them in the role's allowedTools, or set allowDenials)",
                               exitCode: exitCode)
            }
            return .completed(output: messages.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines))
        case "max_tokens":
            return .failed(message: "the agent stopped at its token limit (max_tokens)", exitCode: exitCode)
        case "max_turn_requests":
            return .failed(message: "the agent stopped at its limit of model requests for one prompt (max_turn_requests)", exitCode: exitCode)
        case "refusal":
            return .failed(message: "the agent refused to go on (refusal)", exitCode: exitCode)
        case "cancelled":
            return .failed(message: "the agent cancelled the prompt", exitCode: exitCode)
        default:
            if RateLimitText.isRateLimit(stopReason) {
                return .rateLimited(retryAt: RateLimitText.retryAt(in: stopReason, now: now()), message: "the agent stopped: \(stopReason)")
            }
            return .failed(message: "the agent stopped: \(stopReason)", exitCode: exitCode)
        }
    }

    // MARK: - Our requests and their responses

    private func request(_ method: String, _ params: [String: JSONValue]) {
        pending[nextId] = method
        send(["id": .int(nextId), "method": .string(method), "params": .object(params)])
        nextId += 1
    }

    private func send(_ message: [String: JSONValue]) {
        input?.send(Self.line(message.merging(["jsonrpc": .string("2.0")]) { current, _ in current }))
    }

    /// One JSON-RPC message as a line.
    private static func line(_ message: [String: JSONValue]) -> String {
        var bytes: [UInt8] = []
        JSONWriter.append(.object(message), to: &bytes)
        bytes.append(UInt8(ascii: "\n"))
        return String(decoding: bytes, as: UTF8.self)
    }

    private func readResponse(to method: String, _ response: [String: JSONValue]) -> [AgentEvent] {
        let result = response["result"] ?? .null
        if let error = response["error"] {
            let text = error["message"]?.stringValue ?? "error \(error["code"]?.integerValue ?? 0)"
            if method == "session/load" {
                // The agent forgot the session (most keep them in memory only): start afresh.
                replaying = false
                openSession()
                return [.log(.agent, "cannot resume session \(resumeSessionId ?? ""): \(text); starting a new one")]
            }
            let data = error["data"].flatMap { $0.stringValue ?? String(decoding: JSONValueEncoder.encodeBytes($0), as: UTF8.self) }
            if method == "session/prompt", RateLimitText.isRateLimit(text + " " + (data ?? "")) {
                rateLimit = data.map { "\(text): \($0)" } ?? text
            }
            return fail("the agent answered \(method) with an error: \(text)" + Self.hint(for: method, error: error))
        }
        switch method {
        case "initialize":
            agentName = result["agentInfo"]?["name"]?.stringValue
            if let resumeSessionId, result["agentCapabilities"]?["loadSession"] == .bool(true) {
                replaying = true
                request("session/load", ["sessionId": .string(resumeSessionId), "cwd": .string(workingDirectory),
                                         "mcpServers": .array([])])
            } else {
                openSession()
            }
            let version = result["agentInfo"]?["version"]?.stringValue
            let name = [agentName, version].compactMap { $0 }.joined(separator: " ")
            return [.log(.agent, "acp agent started" + (name.isEmpty ? "" : ": \(name)"))]
        case "session/new":
            guard let id = result["sessionId"]?.stringValue else { return fail("the agent's session/new answer has no sessionId") }
            sessionId = id
            sendPrompt()
            return [.session(id: id)]
        case "session/load":
            replaying = false
            sessionId = resumeSessionId
            sendPrompt()
            return [.log(.agent, "resumed session \(resumeSessionId ?? "")")]
        case "session/prompt":
            let events = endMessage()
            stopReason = result["stopReason"]?.stringValue ?? "end_turn"
            usage = result["usage"]
            input?.close()  // the turn is over: an ACP agent exits when its input ends
            return events + usageEvents()
        default:
            return []
        }
    }

    private func openSession() {
        request("session/new", ["cwd": .string(workingDirectory), "mcpServers": .array([])])
    }

    private func sendPrompt() {
        request("session/prompt", ["sessionId": .string(sessionId ?? ""),
                                   "prompt": .array([.object(["type": .string("text"), "text": .string(prompt)])])])
    }

    private func fail(_ message: String) -> [AgentEvent] {
        failure = message
        input?.close()
        return [.log(.agent, message)]
    }

    private static func hint(for method: String, error: JSONValue) -> String {
        if error["code"]?.integerValue == -32000 { return " (the agent needs to be logged in first)" }
        if method == "initialize" { return " (is the role's command an ACP agent?)" }
        return ""
    }

    // MARK: - The agent's requests

    private func answer(id: JSONValue, method: String, params: JSONValue) -> [AgentEvent] {
        switch method {
        case "session/request_permission":
            return answerPermission(id: id, params)
        case "fs/read_text_file":
            let path = params["path"]?.stringValue ?? ""
            do {
                let text = try files.read(path, line: params["line"]?.integerValue, limit: params["limit"]?.integerValue)
                send(["id": id, "result": .object(["content": .string(text)])])
                return []
            } catch {
                return refuse(id: id, "refused to read \(display(path)): \(error)")
            }
        case "fs/write_text_file":
            let path = params["path"]?.stringValue ?? ""
            do {
                try files.write(path, content: params["content"]?.stringValue ?? "")
                send(["id": id, "result": .null])
                return []
            } catch {
                return refuse(id: id, "refused to write \(display(path)): \(error)")
            }
        default:
            send(["id": id, "error": .object(["code": .int(-32601), "message": .string("Method not found: drover does not offer \(method)")])])
            return [.log(.agent, "the agent asked for \(method), which drover does not offer")]
        }
    }

    private func answerPermission(id: JSONValue, _ params: JSONValue) -> [AgentEvent] {
        let call = params["toolCall"] ?? .null
        let known = call["toolCallId"]?.stringValue.flatMap { toolCalls[$0] }
        let title = display(call["title"]?.stringValue ?? known?.title ?? "a tool")
        let kind = call["kind"]?.stringValue ?? known?.kind
        let options = params["options"]?.arrayValue ?? []
        let offered = ACPPermissionOptions(options)
        if asks, let input, !offered.isEmpty, !policy.allows(kind: kind, title: title) {
            let session = params["sessionId"] ?? .string(sessionId ?? "")
            let reply = AgentReply { answer in
                if case .withdrawn = answer {
                    // The run was cancelled: ACP's order is session/cancel, then `cancelled` for what waits.
                    input.send(Self.line(["jsonrpc": .string("2.0"), "method": .string("session/cancel"),
                                          "params": .object(["sessionId": session])]))
                }
                input.send(Self.line(["jsonrpc": .string("2.0"), "id": id, "result": .object(["outcome": offered.outcome(for: answer)])]))
            }
            let permission = ToolPermission(tool: kind ?? title, input: title, optionKinds: offered.kinds)
            return [.log(.agent, "asks permission: \(title)"),
                    .permission(AgentPermissionRequest(permission: permission, options: offered.names, reply: reply))]
        }
        let answer = policy.answer(kind: kind, title: title, options: options)
        send(["id": id, "result": .object(["outcome": answer.outcome])])
        let chosen = answer.optionName.map { " (\($0))" } ?? " (no option fits: cancelled)"
        if answer.allowed { return [.log(.agent, "permission for \(title): allowed\(chosen)")] }
        denials.append(title)
        return [.log(.agent, "permission for \(title): rejected\(chosen), not in the role's allowedTools")]
    }

    private func refuse(id: JSONValue, _ reason: String) -> [AgentEvent] {
        send(["id": id, "error": .object(["code": .int(-32602), "message": .string(reason)])])
        return [.log(.agent, reason)]
    }

    // MARK: - Session updates

    private func readUpdate(_ update: JSONValue) -> [AgentEvent] {
        switch update["sessionUpdate"]?.stringValue {
        case "agent_message_chunk":
            guard update["content"]?["type"]?.stringValue == "text", let text = update["content"]?["text"]?.stringValue else { return [] }
            message += text
            unloggedLine += text
            var lines = unloggedLine.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            unloggedLine = lines.removeLast()
            return lines.map { .log(.agent, $0) }
        case "tool_call":
            let id = update["toolCallId"]?.stringValue ?? ""
            let title = display(update["title"]?.stringValue ?? "tool")
            toolCalls[id] = (title, update["kind"]?.stringValue, update["status"]?.stringValue)
            return endMessage() + [.log(.agent, title)]
        case "tool_call_update":
            let id = update["toolCallId"]?.stringValue ?? ""
            var call = toolCalls[id] ?? ("tool", nil, nil)
            if let title = update["title"]?.stringValue { call.title = display(title) }
            if let kind = update["kind"]?.stringValue { call.kind = kind }
            let status = update["status"]?.stringValue
            defer { if let status { call.status = status }; toolCalls[id] = call }
            guard let status, status != call.status, status == "completed" || status == "failed" else { return endMessage() }
            return endMessage() + [.log(.agent, "\(call.title) → \(status)")]
        case "plan":
            let entries = update["entries"]?.arrayValue ?? []
            guard !entries.isEmpty else { return [] }
            let done = entries.filter { $0["status"]?.stringValue == "completed" }.count
            let next = entries.first { $0["status"]?.stringValue != "completed" }?["content"]?.stringValue
            return [.progress(fraction: Double(done) / Double(entries.count), message: next)]
        case "usage_update":
            if let amount = update["cost"]?["amount"]?.numberValue, update["cost"]?["currency"]?.stringValue == "USD" {
                if costAtStart == nil { costAtStart = 0 }
                cost = amount
            }
            return []
        default:
            return []  // thoughts, the user's own message, commands and modes are not for the log
        }
    }

    /// What a replayed (resumed) session's updates still tell: the cost so far, to count from.
    private func readReplayed(_ update: JSONValue) -> [AgentEvent] {
        if update["sessionUpdate"]?.stringValue == "usage_update", let amount = update["cost"]?["amount"]?.numberValue {
            costAtStart = amount
            cost = amount
        }
        return []
    }

    /// Ends the streamed agent message: its last line is logged and the message joins the output.
    private func endMessage() -> [AgentEvent] {
        defer { message = ""; unloggedLine = "" }
        if !message.isEmpty { messages.append(message) }
        return unloggedLine.isEmpty ? [] : [.log(.agent, unloggedLine)]
    }

    /// The turn's usage: the prompt response's tokens (an unstable ACP field some agents send; its
    /// `inputTokens` leave the cache's out, which Drover counts as input), and the cost the agent reported
    /// (`usage_update`) for the engine to keep beside its own price.
    private func usageEvents() -> [AgentEvent] {
        let cacheRead = usage?["cachedReadTokens"]?.integerValue ?? 0
        let cacheWrite = usage?["cachedWriteTokens"]?.integerValue ?? 0
        let tokens = TokenUsage(input: (usage?["inputTokens"]?.integerValue ?? 0) + cacheRead + cacheWrite,
                                cacheRead: cacheRead, cacheWrite: cacheWrite,
                                output: usage?["outputTokens"]?.integerValue ?? 0)
        let spent = cost.map { $0 - (costAtStart ?? 0) }
        guard !tokens.isEmpty || (spent ?? 0) > 0 else { return [] }
        return [.usage(AgentUsage(model: model ?? agentName ?? "acp", tokens: tokens, reportedCostUSD: spent))]
    }

    /// `text` with the working directory's path taken out, so titles name files as the workspace does.
    private func display(_ text: String) -> String {
        let base = workingDirectory.hasSuffix("/") ? workingDirectory : workingDirectory + "/"
        return ToolLineText.firstLine(text.replacingOccurrences(of: base, with: ""))
    }
}
