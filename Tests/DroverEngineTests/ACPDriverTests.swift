@testable import DroverEngine
import DroverProtocol
import Foundation
import Testing

/// The `acp` driver's client on what a real ACP agent sent (Tests/Agents/transcripts/acp-*, recorded from
/// Tests/Agents/scripted_acp_agent.py, which the ACP Python SDK runs; `$WORKDIR` stands for the working
/// directory), what it answers, garbage, and the driver's settings and command line.
@Suite("ACP driver")
struct ACPDriverTests {
    /// A reader in a fresh working directory, its input, and what it reported.
    private final class Session {
        let directory: TempDir
        let input: AgentInput
        let reader: ACPClientReader
        var events: [AgentEvent] = []

        init(settings: [String: JSONValue] = ["allowedTools": .array([.string("edit"), .string("read")])],
             resume: String? = nil) throws {
            directory = try TempDir()
            input = try AgentInput()
            reader = ACPClientReader(prompt: "Write hello.txt", workingDirectory: directory.url.path, settings: settings,
                                     resumeSessionId: resume)
            reader.attach(input: input)
        }

        func play(_ transcript: String) throws {
            for line in try PackageRoot.transcript(transcript) {
                events += reader.readStdout(line.replacingOccurrences(of: "$WORKDIR", with: directory.url.path))
            }
        }

        /// The messages sent to the agent so far, and whether its stdin is to be closed.
        func sent() -> (messages: [JSONValue], closed: Bool) {
            let (bytes, closed) = input.take()
            let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
            return (lines.compactMap { try? JSONParser().parse(Array($0.utf8)) }, closed)
        }

        var logs: [String] { events.compactMap { if case .log(.agent, let text) = $0 { text } else { nil } } }
    }

    @Test("a whole session: the handshake, streamed text joined, tool calls, the policy's answers, files served inside the directory only")
    func session() throws {
        let session = try Session()
        try session.play("acp-session.jsonl")
        let (sent, closed) = session.sent()
        #expect(sent.map { $0["method"]?.stringValue ?? "response \($0["id"]?.integerValue ?? -1)" } == [
            "initialize", "session/new", "session/prompt",
            "response 0", "response 1", "response 2", "response 3", "response 4", "response 5",
        ])
        #expect(sent[0]["params"]?["clientCapabilities"]?["fs"]?["writeTextFile"] == .bool(true))
        #expect(sent[0]["params"]?["clientCapabilities"]?["terminal"] == .bool(false))
        #expect(sent[1]["params"]?["cwd"]?.stringValue == session.directory.url.path)
        #expect(sent[2]["params"]?["prompt"]?.arrayValue?.first?["text"]?.stringValue == "Write hello.txt")
        #expect(sent[3]["result"]?["outcome"] == .object(["outcome": .string("selected"), "optionId": .string("allow")]),
                "edit is allowed: Allow once, not Always Allow")
        #expect(sent[4]["result"] == .null, "the write was served")
        #expect(sent[5]["result"]?["content"]?.stringValue == "hello from acp\n")
        #expect(sent[6]["result"]?["outcome"] == .object(["outcome": .string("selected"), "optionId": .string("reject")]),
                "execute is not listed: rejected")
        #expect(sent[8]["error"]?["message"]?.stringValue == "refused to write /etc/drover-outside.txt: /etc/drover-outside.txt is outside the working directory")
        #expect(closed, "stdin closes once the prompt is answered")
        #expect(try String(contentsOf: session.directory.url.appendingPathComponent("hello.txt"), encoding: .utf8) == "hello from acp\n")
        #expect(!FileManager.default.fileExists(atPath: "/etc/drover-outside.txt"))

        #expect(session.events.contains(.session(id: "sess-e5f1a4a4")))
        #expect(session.events.contains(.progress(fraction: 0.5, message: "check it")))
        #expect(session.logs == [
            "acp agent started",
            "I will write hello.txt.",
            "Write hello.txt",
            "permission for Write hello.txt: allowed (Allow)",
            "Write hello.txt → completed",
            "Read hello.txt",
            "Read hello.txt → completed",
            "\(session.directory.url.path)/hello.txt says: hello from acp",
            "git push origin main",
            "permission for git push origin main: rejected (Reject), not in the role's allowedTools",
            "git push origin main → failed",
            "Not allowed to run git push origin main.",
            "Write /etc/drover-outside.txt",
            "permission for Write /etc/drover-outside.txt: allowed (Allow)",
            "refused to write /etc/drover-outside.txt: /etc/drover-outside.txt is outside the working directory",
            "Write /etc/drover-outside.txt → failed",
            // No tool call between two messages: ACP streams them as one (the usage update is no boundary).
            "Could not write /etc/drover-outside.txt: outside the working directory.Done.",
        ])
        #expect(session.events.contains(.usage(AgentUsage(model: "acp", inputTokens: 120, outputTokens: 30, reportedCostUSD: 0.0042))))
        // The rejected command fails the step, listed; allowDenials accepts it.
        guard case .failed(let message, 0) = session.reader.outcome(exit: .exited(0)) else { Issue.record("not a failure"); return }
        #expect(message == "the agent was refused a tool by the role's permissions: git push origin main"
                    + " (allow them in the role's allowedTools, or set allowDenials)")
    }

    @Test("with allowDenials the output is every message of the turn, in order")
    func output() throws {
        let session = try Session(settings: ["allowedTools": .array([.string("edit")]), "allowDenials": .bool(true)])
        try session.play("acp-session.jsonl")
        #expect(session.reader.outcome(exit: .exited(0)) == .completed(output: [
            "I will write hello.txt.", "\(session.directory.url.path)/hello.txt says: hello from acp",
            "Not allowed to run git push origin main.",
            "Could not write /etc/drover-outside.txt: outside the working directory.Done.",
        ].joined(separator: "\n")))
    }

    @Test("stop reasons other than end_turn fail the step, saying which")
    func refusal() throws {
        let session = try Session()
        try session.play("acp-refusal.jsonl")
        #expect(session.logs.contains("I cannot help with that."))
        #expect(session.reader.outcome(exit: .exited(0)) == .failed(message: "the agent refused to go on (refusal)", exitCode: 0))
    }

    @Test("an agent that dies mid-turn fails with its stderr; one that answers with an error fails with it")
    func deathAndErrors() throws {
        let dying = try Session()
        _ = dying.reader.readStdout(#"{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":1,"agentCapabilities":{}}}"#)
        _ = dying.reader.readStderr("agent crashed: out of memory")
        #expect(dying.reader.outcome(exit: .exited(3)) == .failed(message: "agent crashed: out of memory", exitCode: 3))

        let refusing = try Session()
        _ = refusing.reader.readStdout(#"{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":1,"agentCapabilities":{}}}"#)
        _ = refusing.reader.readStdout(#"{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"Authentication required"}}"#)
        #expect(refusing.sent().closed)
        #expect(refusing.reader.outcome(exit: .exited(0)) == .failed(
            message: "the agent answered session/new with an error: Authentication required (the agent needs to be logged in first)", exitCode: 0))
    }

    @Test("a session the agent can load is resumed; one it forgot starts afresh")
    func resume() throws {
        let loading = try Session(resume: "sess-1")
        _ = loading.reader.readStdout(#"{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":1,"agentCapabilities":{"loadSession":true}}}"#)
        // Replayed history is not news.
        let replayed = loading.reader.readStdout(#"{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"sess-1","update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"old\n"}}}}"#)
        #expect(replayed.isEmpty)
        _ = loading.reader.readStdout(#"{"jsonrpc":"2.0","id":1,"result":{}}"#)
        let sent = loading.sent().messages
        #expect(sent.map { $0["method"]?.stringValue } == ["initialize", "session/load", "session/prompt"])
        #expect(sent[1]["params"]?["sessionId"]?.stringValue == "sess-1")
        #expect(sent[2]["params"]?["sessionId"]?.stringValue == "sess-1")

        let forgotten = try Session(resume: "sess-1")
        _ = forgotten.reader.readStdout(#"{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":1,"agentCapabilities":{"loadSession":true}}}"#)
        let events = forgotten.reader.readStdout(#"{"jsonrpc":"2.0","id":1,"error":{"code":-32002,"message":"Session not found"}}"#)
        #expect(events == [.log(.agent, "cannot resume session sess-1: Session not found; starting a new one")])
        #expect(forgotten.sent().messages.map { $0["method"]?.stringValue } == ["initialize", "session/load", "session/new"])
    }

    @Test("garbage and unknown messages are shown or ignored, never fatal; unknown requests are answered 'method not found'")
    func garbage() throws {
        let session = try Session()
        let truncated = #"{"jsonrpc":"2.0","method":"session/upd"#
        for line in ["plain text", truncated, "[1,2]", "",
                     #"{"jsonrpc":"2.0","method":"session/update","params":{"update":{"sessionUpdate":"brand_new"}}}"#,
                     #"{"jsonrpc":"2.0","method":"_zed/telemetry","params":{}}"#] {
            session.events += session.reader.readStdout(line)
        }
        #expect(session.logs == ["plain text", truncated, "[1,2]"])
        let events = session.reader.readStdout(#"{"jsonrpc":"2.0","id":"t1","method":"terminal/create","params":{"command":"ls"}}"#)
        #expect(events == [.log(.agent, "the agent asked for terminal/create, which drover does not offer")])
        let answer = session.sent().messages.last
        #expect(answer?["id"] == .string("t1"))
        #expect(answer?["error"]?["code"] == .int(-32601))
        #expect(session.reader.outcome(exit: .exited(0)) == .failed(message: "the agent exited before it finished the prompt", exitCode: 0))
    }

    @Test("file requests: relative paths, .. and symbolic links out of the directory are refused")
    func files() throws {
        let directory = try TempDir()
        try directory.write("inside.txt", "one\ntwo\nthree\n")
        let outside = try TempDir()
        try FileManager.default.createSymbolicLink(atPath: directory.url.path + "/link", withDestinationPath: outside.url.path)
        let files = WorkingDirectoryFiles(root: directory.url.path)
        #expect(try files.read(directory.url.path + "/inside.txt", line: 2, limit: 1) == "two")
        #expect(throws: FileRefusal.self) { try files.read("inside.txt") }
        #expect(throws: FileRefusal.self) { try files.write(directory.url.path + "/../escape.txt", content: "x") }
        #expect(throws: FileRefusal.self) { try files.write(directory.url.path + "/link/escape.txt", content: "x") }
        #expect(!FileManager.default.fileExists(atPath: outside.url.path + "/escape.txt"))
        try files.write(directory.url.path + "/new/deep.txt", content: "made")
        #expect(try String(contentsOfFile: directory.url.path + "/new/deep.txt", encoding: .utf8) == "made")
    }

    @Test("settings are validated with the field's path; the command line is the role's, stdin kept for JSON-RPC")
    func settingsAndCommandLine() throws {
        let driver = ACPDriver()
        #expect(driver.validate(["command": .string("gemini")], field: "agents.a").isEmpty)
        #expect(driver.validate(["allowedTools": .string("edit"), "allowDenials": .int(1)], field: "agents.a").sorted() == [
            "field 'agents.a.allowDenials' must be true or false",
            "field 'agents.a.allowedTools' must be an array of non-empty strings",
            "field 'agents.a.command' is required (the ACP agent to run, e.g. \"gemini\")",
        ])
        let invocation = try driverInvocation(driver, ["command": .string("gemini"), "args": .array([.string("--experimental-acp")])])
        #expect(invocation.executable == "gemini")
        #expect(invocation.arguments == ["--experimental-acp"])
        #expect(invocation.prompt == "", "the prompt travels in session/prompt")
        #expect(invocation.keepsStdinOpen)
        #expect(AgentDrivers.names == ["fake", "command", "claude", "codex", "acp"])
    }

    @Test("a permission's options are the agent's: names made unique, unknown kinds left out; the choice answers its optionId, a withdrawal `cancelled`")
    func permissionOptions() {
        func option(_ id: String, _ name: String?, _ kind: String) -> JSONValue {
            var fields: [String: JSONValue] = ["optionId": .string(id), "kind": .string(kind)]
            if let name { fields["name"] = .string(name) }
            return .object(fields)
        }
        let offered = ACPPermissionOptions([
            option("always", "Always Allow", "allow_always"), option("once", "Allow", "allow_once"),
            option("again", "Allow", "allow_once"), option("maybe", "Perhaps", "ask_later"), option("no", nil, "reject_once"),
        ])
        #expect(offered.names == ["Always Allow", "Allow", "Allow (2)", "no"])
        #expect(offered.kinds == [.allowAlways, .allowOnce, .allowOnce, .rejectOnce])
        #expect(offered.outcome(for: .chosen("Allow (2)", reason: nil)) == .object(["outcome": .string("selected"), "optionId": .string("again")]))
        #expect(offered.outcome(for: .chosen("Perhaps", reason: nil)) == .object(["outcome": .string("cancelled")]))
        #expect(offered.outcome(for: .withdrawn(reason: "the run was cancelled")) == .object(["outcome": .string("cancelled")]))
        #expect(ACPPermissionOptions([option("x", "X", "unknown")]).isEmpty)
    }

    @Test("a choice's kind: the agent's own options by their kinds; decisions recorded without kinds read drover's options")
    func choiceKinds() {
        let acp = ToolPermission(tool: "execute", input: "make", optionKinds: [.allowAlways, .allowOnce, .rejectOnce])
        #expect(acp.kind(of: "Always Allow", options: ["Always Allow", "Allow", "Reject"]) == .allowAlways)
        #expect(acp.kind(of: "Reject", options: ["Always Allow", "Allow", "Reject"]) == .rejectOnce)
        #expect(acp.kind(of: "maybe", options: ["Always Allow", "Allow", "Reject"]) == nil)
        let recordedBefore = ToolPermission(tool: "Bash", input: "ls")
        #expect(recordedBefore.kind(of: ToolPermission.allowForRun, options: ToolPermission.options) == .allowAlways)
        #expect(PermissionAnswer(.chosen("allow for this run", reason: nil)) == .allowForRun)
        #expect(PermissionAnswer(.chosen("deny", reason: "no")) == .deny(reason: "no"))
        #expect(PermissionAnswer(.withdrawn(reason: "the run was cancelled")) == .deny(reason: "the run was cancelled"))
    }
}
