import Foundation
import Testing

private func errorCode(_ response: [String: Any]) -> Int? {
    (response["error"] as? [String: Any])?["code"] as? Int
}

private func errorMessage(_ response: [String: Any]) -> String {
    (response["error"] as? [String: Any])?["message"] as? String ?? ""
}

@Suite("End to end: framing")
struct FramingEndToEndTests {
    @Test("the server answers in the framing the client used", arguments: [DroverProcess.Framing.lsp, .ndjson])
    func answersInKind(framing: DroverProcess.Framing) async throws {
        let drover = try DroverProcess(framing: framing)
        let result = try await drover.initialize()
        #expect((result["capabilities"] as? [String: Any])?["framing"] as? String == framing.rawValue)
        #expect((result["serverInfo"] as? [String: Any])?["name"] as? String == "drover")
        #expect(result["protocolVersion"] as? Int == 1)
        #expect(result["workspace"] as? String == drover.directory.path)
        let methods = (result["capabilities"] as? [String: Any])?["methods"] as? [String] ?? []
        #expect(methods.contains("run/start") && methods.contains("shutdown"))
        #expect(drover.outputFraming == framing)
        let expectedStart = framing == .lsp ? "Content-Length: " : "{"
        #expect(String(decoding: drover.stdoutBytes.prefix(16), as: UTF8.self).hasPrefix(expectedStart))
        #expect(try await drover.shutdownAndExit() == 0)
        #expect(drover.protocolViolations.isEmpty, "\(drover.protocolViolations)")
    }

    @Test("auto-detection copes with leading whitespace and lowercase headers")
    func detectionVariants() async throws {
        let lsp = try DroverProcess(framing: .lsp)
        let body = Array(#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#.utf8)
        lsp.sendRaw(Array("\r\n  content-length: \(body.count)\r\ncontent-type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n".utf8) + body)
        #expect(try await lsp.response(to: 1)["result"] != nil)
        #expect(lsp.outputFraming == .lsp)

        let ndjson = try DroverProcess(framing: .ndjson)
        ndjson.sendRaw(Array("\n \t\r\n".utf8) + body + Array("\r\n".utf8))
        #expect(try await ndjson.response(to: 1)["result"] != nil)
        #expect(ndjson.outputFraming == .ndjson)
    }

    @Test("--framing lsp forces LSP framing")
    func forcedLSP() async throws {
        let drover = try DroverProcess(arguments: ["serve", "--framing", "lsp"], framing: .lsp)
        let result = try await drover.initialize()
        #expect((result["capabilities"] as? [String: Any])?["framing"] as? String == "lsp")
        #expect(drover.outputFraming == .lsp)
    }

    @Test("--framing ndjson forces NDJSON: an LSP header is just a bad line")
    func forcedNDJSON() async throws {
        let drover = try DroverProcess(arguments: ["serve", "--framing=ndjson"], framing: .ndjson)
        let body = Array(#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#.utf8)
        drover.sendRaw(Array("Content-Length: \(body.count)\r\n\r\n".utf8) + body + [0x0A])
        let parseError = try await drover.nextMessage() as? [String: Any] ?? [:]
        #expect(errorCode(parseError) == -32700)
        #expect(parseError["id"] is NSNull)
        let response = try await drover.response(to: 1)
        #expect(((response["result"] as? [String: Any])?["capabilities"] as? [String: Any])?["framing"] as? String == "ndjson")
        #expect(drover.outputFraming == .ndjson)
        #expect(drover.protocolViolations.isEmpty)
    }

    @Test("many messages in one write and a message split across writes", arguments: [DroverProcess.Framing.lsp, .ndjson])
    func chunking(framing: DroverProcess.Framing) async throws {
        let drover = try DroverProcess(framing: framing)
        try await drover.initialize()
        func frame(_ text: String) -> [UInt8] {
            let body = Array(text.utf8)
            return framing == .lsp ? Array("Content-Length: \(body.count)\r\n\r\n".utf8) + body : body + [0x0A]
        }
        var stream: [UInt8] = []
        for id in 100..<300 {
            stream += frame(#"{"jsonrpc":"2.0","id":\#(id),"method":"no/such","params":{"t":"é🐑"}}"#)
        }
        drover.sendRaw(stream)
        for id in 100..<300 {
            #expect(errorCode(try await drover.response(to: id)) == -32601)
        }
        let split = frame(#"{"jsonrpc":"2.0","id":"split","method":"x/ü","params":{}}"#)
        for byte in split { drover.sendRaw([byte]) }
        #expect(errorMessage(try await drover.response(to: "split")).contains("x/ü"))
    }

    @Test("a bad LSP header is -32700 and the next message is still answered")
    func badLSPHeader() async throws {
        let drover = try DroverProcess(framing: .lsp)
        try await drover.initialize()
        drover.sendRaw(Array("Content-Type: application/json\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"a\"}".utf8))
        drover.sendRaw(Array("Content-Length: abc\r\n\r\n{}".utf8))
        drover.send(["jsonrpc": "2.0", "id": 6, "method": "no/such"])
        let first = try await drover.waitFor { $0["id"] is NSNull }
        #expect(errorCode(first) == -32700)
        #expect(errorMessage(first).contains("Content-Length"))
        let second = try await drover.waitFor { $0["id"] is NSNull }
        #expect(errorCode(second) == -32700)
        #expect(errorCode(try await drover.response(to: 6)) == -32601)
        #expect(try await drover.shutdownAndExit() == 0)
        #expect(drover.protocolViolations.isEmpty)
    }

    @Test("--max-message-bytes: a bigger message is -32600 and the next request is answered", arguments: [DroverProcess.Framing.lsp, .ndjson])
    func maxMessageBytes(framing: DroverProcess.Framing) async throws {
        let drover = try DroverProcess(arguments: ["serve", "--max-message-bytes", "1000"], framing: framing)
        try await drover.initialize()
        drover.send(["jsonrpc": "2.0", "id": 1, "method": "no/such", "params": ["blob": String(repeating: "x", count: 5000)]])
        let tooLarge = try await drover.nextMessage() as? [String: Any] ?? [:]
        #expect(errorCode(tooLarge) == -32600)
        #expect(tooLarge["id"] is NSNull)
        #expect(errorMessage(tooLarge).contains("--max-message-bytes"))
        // Just under the limit is fine.
        drover.send(["jsonrpc": "2.0", "id": 2, "method": "no/such", "params": ["blob": String(repeating: "y", count: 900)]])
        #expect(errorCode(try await drover.response(to: 2)) == -32601)
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("batches over the wire", arguments: [DroverProcess.Framing.lsp, .ndjson])
    func batches(framing: DroverProcess.Framing) async throws {
        let drover = try DroverProcess(framing: framing)
        try await drover.initialize()
        drover.send([
            ["jsonrpc": "2.0", "id": 1, "method": "no/such"],
            ["jsonrpc": "2.0", "method": "some/notification"],
            42,
            ["jsonrpc": "2.0", "id": "b", "method": "initialize", "params": [String: Any]()],
        ] as [Any])
        let answer = try await drover.nextMessage() as? [[String: Any]] ?? []
        #expect(answer.map { DroverProcess.idKey($0["id"]) } == ["n:1", "null", "s:b"])
        #expect(answer.map(errorCode) == [-32601, -32600, -32600])
        drover.send([["jsonrpc": "2.0", "method": "a"], ["jsonrpc": "2.0", "method": "b"]] as [Any])
        drover.send([] as [Any])
        let empty = try await drover.nextMessage() as? [String: Any] ?? [:]
        #expect(errorCode(empty) == -32600)  // and nothing came for the all-notification batch before it
        #expect(drover.protocolViolations.isEmpty)
    }
}

@Suite("End to end: lifecycle")
struct LifecycleEndToEndTests {
    @Test("lifecycle over pipes: -32002, initialize, -32601, shutdown, -32600, exit 0")
    func lifecycle() async throws {
        let drover = try DroverProcess()
        let early = try await drover.request("pipeline/list", [String: Any]())
        #expect(errorCode(early) == -32002)
        drover.notify("initialized")  // dropped before initialize
        let result = try await drover.initialize(["rootUri": drover.directory.absoluteString, "capabilities": [String: Any](), "processId": NSNull()])
        #expect(result["protocolVersion"] as? Int == 1)
        #expect(errorCode(try await drover.request("initialize", [String: Any]())) == -32600)
        #expect(errorCode(try await drover.request("no/such/method")) == -32601)
        let shutdown = try await drover.request("shutdown")
        #expect(shutdown.keys.contains("result") && shutdown["result"] is NSNull)
        #expect(errorCode(try await drover.request("no/such/method")) == -32600)
        drover.notify("exit")
        #expect(try await drover.waitForExit() == 0)
        #expect(drover.queuedCount == 0)
        #expect(drover.protocolViolations.isEmpty)
    }

    @Test("an unsupported protocolVersion is -32602 with data.supported")
    func unsupportedVersion() async throws {
        let drover = try DroverProcess()
        let response = try await drover.request("initialize", ["protocolVersion": 2])
        #expect(errorCode(response) == -32602)
        let data = (response["error"] as? [String: Any])?["data"] as? [String: Any]
        #expect(data?["supported"] as? [Int] == [1])
        #expect(data?["requested"] as? Int == 2)
    }

    struct EndingCase: Sendable, CustomTestStringConvertible {
        let shutdown: Bool
        let exitNotification: Bool
        let code: Int32
        var testDescription: String { "shutdown=\(shutdown) \(exitNotification ? "exit" : "stdin EOF") → \(code)" }
    }

    @Test("exit code: 0 after shutdown, else 1; stdin EOF acts like exit", arguments: [
        EndingCase(shutdown: true, exitNotification: true, code: 0),
        EndingCase(shutdown: false, exitNotification: true, code: 1),
        EndingCase(shutdown: true, exitNotification: false, code: 0),
        EndingCase(shutdown: false, exitNotification: false, code: 1),
    ])
    func ending(_ testCase: EndingCase) async throws {
        let drover = try DroverProcess()
        try await drover.initialize()
        if testCase.shutdown { _ = try await drover.request("shutdown") }
        if testCase.exitNotification {
            drover.notify("exit")
        } else {
            drover.closeStdin()
        }
        #expect(try await drover.waitForExit() == testCase.code)
    }

    @Test("stdin EOF before anything else exits 1")
    func immediateEOF() async throws {
        let drover = try DroverProcess()
        drover.closeStdin()
        #expect(try await drover.waitForExit() == 1)
        #expect(drover.stdoutBytes.isEmpty)
    }

    @Test("nothing but protocol on stdout, logs on stderr")
    func stdoutIsProtocol() async throws {
        let drover = try DroverProcess(arguments: ["serve", "--log-level", "debug"], framing: .lsp)
        try await drover.initialize()
        drover.sendBody(Array("{oops".utf8))
        drover.sendBody(Array("[]".utf8))
        drover.sendBody(Array(#"[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","method":"n"}]"#.utf8))
        _ = try await drover.request("no/such")
        drover.sendRaw(Array("Content-Length: x\r\n\r\n".utf8))
        #expect(try await drover.shutdownAndExit() == 0)
        #expect(drover.protocolViolations.isEmpty, "\(drover.protocolViolations)")
        // Every byte of stdout was consumed by the strict frame parser: count the frames.
        let text = String(decoding: drover.stdoutBytes, as: UTF8.self)
        #expect(text.components(separatedBy: "Content-Length: ").count - 1 == 7)
        #expect(drover.stderrText.contains("drover [info]"))
    }
}

@Suite("End to end: command line")
struct CommandLineEndToEndTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let arguments: [String]
        let code: Int32
        var stdout: String? = nil
        var stderr: String? = nil
        var testDescription: String { "drover " + arguments.joined(separator: " ") }
    }

    @Test("exit codes and messages", arguments: [
        Case(arguments: ["--help"], code: 0, stdout: "serve"),
        Case(arguments: ["-h"], code: 0, stdout: "Commands:"),
        Case(arguments: [], code: 0, stdout: "Usage: drover"),
        Case(arguments: ["--version"], code: 0, stdout: "drover "),
        Case(arguments: ["serve", "--help"], code: 0, stdout: "--max-message-bytes"),
        Case(arguments: ["frobnicate"], code: 2, stderr: "unknown command 'frobnicate'"),
        Case(arguments: ["--frobnicate"], code: 2, stderr: "unknown command '--frobnicate'"),
        Case(arguments: ["serve", "--bogus"], code: 2, stderr: "unknown option '--bogus'"),
        Case(arguments: ["serve", "--framing", "xml"], code: 2, stderr: "--framing must be lsp, ndjson or auto"),
        Case(arguments: ["serve", "--framing"], code: 2, stderr: "needs a value"),
        Case(arguments: ["serve", "--max-message-bytes", "-5"], code: 2, stderr: "--max-message-bytes must be a positive number"),
        Case(arguments: ["serve", "--max-message-bytes", "lots"], code: 2, stderr: "--max-message-bytes must be a positive number"),
        Case(arguments: ["serve", "--max-backlog-bytes", "0"], code: 2, stderr: "--max-backlog-bytes must be a positive number"),
        Case(arguments: ["serve", "--log-level", "loud"], code: 2, stderr: "--log-level must be"),
        Case(arguments: ["serve", "--stdio=yes"], code: 2, stderr: "takes no value"),
        Case(arguments: ["serve", "extra"], code: 2, stderr: "takes no arguments"),
    ])
    func commandLine(_ testCase: Case) async throws {
        let drover = try DroverProcess(arguments: testCase.arguments)
        drover.closeStdin()
        let code = try await drover.waitForExit()
        let stdout = String(decoding: drover.stdoutBytes, as: UTF8.self)
        #expect(code == testCase.code, "stdout: \(stdout) stderr: \(drover.stderrText)")
        if let expected = testCase.stdout { #expect(stdout.contains(expected), "\(stdout)") }
        if let expected = testCase.stderr {
            #expect(drover.stderrText.hasPrefix("drover: "), "\(drover.stderrText)")
            #expect(drover.stderrText.contains(expected), "\(drover.stderrText)")
            #expect(stdout.isEmpty)
        }
    }

    @Test("--version prints one line with the version")
    func version() async throws {
        let drover = try DroverProcess(arguments: ["--version"])
        #expect(try await drover.waitForExit() == 0)
        let text = String(decoding: drover.stdoutBytes, as: UTF8.self)
        #expect(text.range(of: #"^drover \d+\.\d+\.\d+.*\n$"#, options: .regularExpression) != nil, "\(text)")
    }
}
