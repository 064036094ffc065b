import DroverProtocol
import Testing

/// A comparable summary of one decoded entry.
enum Outcome: Equatable, Sendable, CustomStringConvertible {
    case request(RequestID, String)
    case notification(String)
    case invalid(RequestID?, ErrorCode)
    case response

    init(_ entry: IncomingEntry) {
        switch entry {
        case .message(let message):
            switch message.kind {
            case .request(let id): self = .request(id, message.method)
            case .notification: self = .notification(message.method)
            }
        case .invalid(let id, let error): self = .invalid(id, error.code)
        case .response: self = .response
        }
    }

    var description: String {
        switch self {
        case .request(let id, let method): "request(\(id), \(method))"
        case .notification(let method): "notification(\(method))"
        case .invalid(let id, let code): "invalid(\(id.map(\.description) ?? "null"), \(code.rawValue))"
        case .response: "response"
        }
    }
}

private let decoder = MessageDecoder()

private func decodeSingle(_ text: String) -> (Outcome, IncomingEntry)? {
    guard case .single(let entry) = decoder.decode(Array(text.utf8)) else { return nil }
    return (Outcome(entry), entry)
}

private func errorMessage(_ entry: IncomingEntry) -> String? {
    if case .invalid(_, let error) = entry { return error.message }
    return nil
}

@Suite("MessageDecoder: envelope classification")
struct MessageDecoderEnvelopeTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let json: String
        let expected: Outcome
        /// A fragment the error message must contain, for errors.
        var says: String? = nil
        var testDescription: String { json }
    }

    @Test("single messages", arguments: [
        // Parse errors: id is always null.
        Case(json: #"{"jsonrpc":"2.0","id":1,"method":"m""#, expected: .invalid(nil, .parseError), says: "not valid JSON"),
        Case(json: "{]", expected: .invalid(nil, .parseError)),
        Case(json: "", expected: .invalid(nil, .parseError), says: "empty"),
        Case(json: "   \t ", expected: .invalid(nil, .parseError), says: "empty"),
        Case(json: #"{"jsonrpc":"2.0","id":1,"method":"m"} trailing"#, expected: .invalid(nil, .parseError)),
        Case(json: "nul", expected: .invalid(nil, .parseError)),
        // Valid JSON but not an object.
        Case(json: "42", expected: .invalid(nil, .invalidRequest), says: "JSON object"),
        Case(json: #""text""#, expected: .invalid(nil, .invalidRequest)),
        Case(json: "null", expected: .invalid(nil, .invalidRequest)),
        Case(json: "true", expected: .invalid(nil, .invalidRequest)),
        // jsonrpc missing or wrong; the id is kept when it is valid.
        Case(json: #"{"id":1,"method":"m"}"#, expected: .invalid(.int(1), .invalidRequest), says: #""jsonrpc" must be "2.0""#),
        Case(json: #"{"jsonrpc":"1.0","id":"a","method":"m"}"#, expected: .invalid(.string("a"), .invalidRequest)),
        Case(json: #"{"jsonrpc":2.0,"id":1,"method":"m"}"#, expected: .invalid(.int(1), .invalidRequest)),
        Case(json: #"{"jsonrpc":null,"method":"m"}"#, expected: .invalid(nil, .invalidRequest)),
        // id types.
        Case(json: #"{"jsonrpc":"2.0","id":7,"method":"m"}"#, expected: .request(.int(7), "m")),
        Case(json: #"{"jsonrpc":"2.0","id":-3,"method":"m"}"#, expected: .request(.int(-3), "m")),
        Case(json: #"{"jsonrpc":"2.0","id":"x-1","method":"m"}"#, expected: .request(.string("x-1"), "m")),
        Case(json: #"{"jsonrpc":"2.0","id":"","method":"m"}"#, expected: .request(.string(""), "m")),
        Case(json: #"{"jsonrpc":"2.0","id":null,"method":"m"}"#, expected: .invalid(nil, .invalidRequest), says: "not null"),
        Case(json: #"{"jsonrpc":"2.0","id":1.5,"method":"m"}"#, expected: .invalid(nil, .invalidRequest), says: "number or a string"),
        Case(json: #"{"jsonrpc":"2.0","id":{"a":1},"method":"m"}"#, expected: .invalid(nil, .invalidRequest)),
        Case(json: #"{"jsonrpc":"2.0","id":[1],"method":"m"}"#, expected: .invalid(nil, .invalidRequest)),
        Case(json: #"{"jsonrpc":"2.0","id":true,"method":"m"}"#, expected: .invalid(nil, .invalidRequest)),
        Case(json: #"{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"m"}"#, expected: .invalid(nil, .invalidRequest)),
        // method missing or not a string.
        Case(json: #"{"jsonrpc":"2.0","id":1}"#, expected: .invalid(.int(1), .invalidRequest), says: #""method" is missing"#),
        Case(json: #"{"jsonrpc":"2.0","id":1,"method":5}"#, expected: .invalid(.int(1), .invalidRequest), says: #""method" must be a string"#),
        Case(json: #"{"jsonrpc":"2.0","id":1,"method":null}"#, expected: .invalid(.int(1), .invalidRequest)),
        Case(json: #"{"jsonrpc":"2.0","method":["a"]}"#, expected: .invalid(nil, .invalidRequest)),
        // params must be structured (absent and null are fine).
        Case(json: #"{"jsonrpc":"2.0","id":1,"method":"m","params":{}}"#, expected: .request(.int(1), "m")),
        Case(json: #"{"jsonrpc":"2.0","id":1,"method":"m","params":[1,2]}"#, expected: .request(.int(1), "m")),
        Case(json: #"{"jsonrpc":"2.0","id":1,"method":"m","params":null}"#, expected: .request(.int(1), "m")),
        Case(json: #"{"jsonrpc":"2.0","id":1,"method":"m","params":3}"#, expected: .invalid(.int(1), .invalidRequest), says: #""params" must be an object or an array"#),
        Case(json: #"{"jsonrpc":"2.0","id":1,"method":"m","params":"s"}"#, expected: .invalid(.int(1), .invalidRequest)),
        Case(json: #"{"jsonrpc":"2.0","id":1,"method":"m","params":false}"#, expected: .invalid(.int(1), .invalidRequest)),
        // Notifications.
        Case(json: #"{"jsonrpc":"2.0","method":"initialized","params":{}}"#, expected: .notification("initialized")),
        Case(json: #"{"jsonrpc":"2.0","method":"exit"}"#, expected: .notification("exit")),
        Case(json: #"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":3}}"#, expected: .notification("$/cancelRequest")),
        // Responses from the client are ignored.
        Case(json: #"{"jsonrpc":"2.0","id":1,"result":null}"#, expected: .response),
        Case(json: #"{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"x"}}"#, expected: .response),
        // Unknown members are ignored; whitespace around the message is fine.
        Case(json: " \n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"extra\":[1]}\n ", expected: .request(.int(1), "m")),
    ])
    func single(_ testCase: Case) {
        guard let (outcome, entry) = decodeSingle(testCase.json) else {
            Issue.record("decoded as a batch")
            return
        }
        #expect(outcome == testCase.expected)
        if let says = testCase.says {
            let message = errorMessage(entry) ?? ""
            #expect(message.contains(says), "\(message)")
        }
    }

    @Test("deep nesting is a parse error, not a crash")
    func deepNesting() {
        for text in [String(repeating: "[", count: 10_000), String(repeating: "{\"a\":", count: 10_000)] {
            guard let (outcome, _) = decodeSingle(text) else {
                Issue.record("decoded as a batch")
                continue
            }
            #expect(outcome == .invalid(nil, .parseError))
        }
        // Deep but complete: still only an invalid batch/message, never a crash.
        let closed = String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000)
        switch decoder.decode(Array(closed.utf8)) {
        case .single(let entry): #expect(Outcome(entry) == .invalid(nil, .parseError) || Outcome(entry) == .invalid(nil, .invalidRequest))
        case .batch(let entries): #expect(entries.allSatisfy { Outcome($0) == .invalid(nil, .invalidRequest) })
        }
    }

    @Test("invalid UTF-8 is a parse error")
    func invalidUTF8() {
        var bytes = Array(#"{"jsonrpc":"2.0","id":1,"method":"m","params":{"t":"#.utf8)
        bytes += [0x22, 0xC3, 0x28, 0xFF, 0x22, 0x7D, 0x7D]
        guard case .single(let entry) = decoder.decode(bytes) else {
            Issue.record("decoded as a batch")
            return
        }
        #expect(Outcome(entry) == .invalid(nil, .parseError))
    }
}

@Suite("MessageDecoder: batches")
struct MessageDecoderBatchTests {
    @Test("an empty batch is one -32600")
    func emptyBatch() {
        for text in ["[]", " [ ] "] {
            guard case .single(let entry) = decoder.decode(Array(text.utf8)) else {
                Issue.record("an empty batch decoded as a batch")
                continue
            }
            #expect(Outcome(entry) == .invalid(nil, .invalidRequest))
            #expect(errorMessage(entry)?.contains("empty batch") == true)
        }
    }

    @Test("a batch that is not valid JSON is one parse error")
    func brokenBatch() {
        guard case .single(let entry) = decoder.decode(Array(#"[{"jsonrpc":"2.0","method":"m"},"#.utf8)) else {
            Issue.record("decoded as a batch")
            return
        }
        #expect(Outcome(entry) == .invalid(nil, .parseError))
    }

    @Test("mixed valid, invalid, non-object, notification and response entries keep their order")
    func mixedBatch() {
        let text = """
        [{"jsonrpc":"2.0","id":1,"method":"a"},
         {"jsonrpc":"2.0","method":"n"},
         1, "s", null, [],
         {"jsonrpc":"1.0","id":2,"method":"b"},
         {"jsonrpc":"2.0","id":"x","method":"c","params":7},
         {"jsonrpc":"2.0","id":3,"result":{}},
         {"jsonrpc":"2.0","id":"4","method":"d","params":{"k":[1,{"z":null}]}}]
        """
        guard case .batch(let entries) = decoder.decode(Array(text.utf8)) else {
            Issue.record("not decoded as a batch")
            return
        }
        #expect(entries.map(Outcome.init) == [
            .request(.int(1), "a"),
            .notification("n"),
            .invalid(nil, .invalidRequest), .invalid(nil, .invalidRequest), .invalid(nil, .invalidRequest), .invalid(nil, .invalidRequest),
            .invalid(.int(2), .invalidRequest),
            .invalid(.string("x"), .invalidRequest),
            .response,
            .request(.string("4"), "d"),
        ])
        #expect(errorMessage(entries[2])?.contains("batch entry must be a JSON object") == true)
    }

    @Test("params of a batch entry decode like those of a single message")
    func batchEntryParams() throws {
        let text = #"[{"jsonrpc":"2.0","id":1,"method":"run/get","params":{"runId":"r-9"}}]"#
        guard case .batch(let entries) = decoder.decode(Array(text.utf8)), case .message(let message) = entries.first else {
            Issue.record("not decoded as a batch of one request")
            return
        }
        let params = try decoder.params(RunGetRequest.self, from: message)
        #expect(params.runId == "r-9")
    }
}

@Suite("MessageDecoder: typed params")
struct MessageDecoderParamsTests {
    private struct Params: Decodable, Sendable {
        struct Inner: Decodable, Sendable {
            var count: Int
        }
        var name: String
        var inner: Inner?
        var tags: [String]?
        var flag: Bool?
    }

    private func request(_ params: String?) -> IncomingMessage {
        let text = #"{"jsonrpc":"2.0","id":1,"method":"m""# + (params.map { #","params":\#($0)"# } ?? "") + "}"
        guard case .single(.message(let message)) = decoder.decode(Array(text.utf8)) else {
            fatalError("fixture is not a valid request: \(text)")
        }
        return message
    }

    @Test("valid params decode")
    func valid() throws {
        let params = try decoder.params(Params.self, from: request(#"{"name":"n","inner":{"count":2},"tags":["a"],"unknown":1}"#))
        #expect(params.name == "n")
        #expect(params.inner?.count == 2)
        #expect(params.tags == ["a"])
    }

    @Test("absent and null params decode as {}")
    func absentParams() throws {
        _ = try decoder.params(Empty.self, from: request(nil))
        _ = try decoder.params(Empty.self, from: request("null"))
        _ = try decoder.params(InitializeRequest.self, from: request(nil))
    }

    struct ErrorCase: Sendable, CustomTestStringConvertible {
        let params: String?
        let message: String
        var testDescription: String { params ?? "(absent)" }
    }

    @Test("wrong params give -32602 with a message naming the field", arguments: [
        ErrorCase(params: "{}", message: "Invalid params: missing required field 'name'"),
        ErrorCase(params: nil, message: "Invalid params: missing required field 'name'"),
        ErrorCase(params: #"{"name":5}"#, message: "Invalid params: 'name' must be a string"),
        ErrorCase(params: #"{"name":null}"#, message: "Invalid params: 'name' must be a string, not null"),
        ErrorCase(params: #"{"name":"n","inner":{}}"#, message: "Invalid params: missing required field 'count' in 'inner'"),
        ErrorCase(params: #"{"name":"n","inner":{"count":"2"}}"#, message: "Invalid params: 'inner.count' must be a number"),
        ErrorCase(params: #"{"name":"n","inner":[]}"#, message: "Invalid params: 'inner' must be an object"),
        ErrorCase(params: #"{"name":"n","tags":"a"}"#, message: "Invalid params: 'tags' must be an array"),
        ErrorCase(params: #"{"name":"n","tags":["a",3]}"#, message: "Invalid params: 'tags[1]' must be a string"),
        ErrorCase(params: #"{"name":"n","flag":"yes"}"#, message: "Invalid params: 'flag' must be a boolean"),
        ErrorCase(params: #"["n"]"#, message: "Invalid params: 'params' must be an object"),
    ])
    func wrongParams(_ testCase: ErrorCase) {
        #expect(throws: ResponseError.self) { try decoder.params(Params.self, from: request(testCase.params)) }
        do {
            _ = try decoder.params(Params.self, from: request(testCase.params))
        } catch {
            #expect(error.code == .invalidParams)
            #expect(error.message == testCase.message)
        }
    }

    @Test("initialize accepts a plain LSP client's params")
    func lspInitialize() throws {
        let params = try decoder.params(InitializeRequest.self, from: request(
            #"{"processId":1,"rootUri":"file:///tmp/x","capabilities":{"textDocument":{}},"clientInfo":{"name":"nvim"},"trace":"off"}"#))
        #expect(params.protocolVersion == nil)
        #expect(params.rootUri == "file:///tmp/x")
        #expect(params.clientInfo?.name == "nvim")
    }
}
