import DroverProtocol
import Foundation
import Testing

private func tree(_ text: String) throws -> JSONValue {
    try JSONParser().parse(Array(text.utf8))
}

/// Decodes with both decoders; the result of each, or its error.
private func both<T: Decodable>(_ type: T.Type, _ text: String) throws -> (ours: Result<T, any Error>, theirs: Result<T, any Error>) {
    let value = try tree(text)
    return (Result { try JSONValueDecoder().decode(T.self, from: value) },
            Result { try JSONDecoder().decode(T.self, from: Data(text.utf8)) })
}

private func explanation<T>(_ result: Result<T, any Error>) -> String? {
    guard case .failure(let error) = result else { return nil }
    return (error as? DecodingError)?.explanation ?? "not a DecodingError: \(error)"
}

private func canonical<T: Encodable>(_ value: T) throws -> String {
    String(decoding: try JSONCoding.makeEncoder().encode(value), as: UTF8.self)
}

@Suite("JSONValueDecoder")
struct JSONValueDecoderTests {
    /// Params for every request, all members given and as few as allowed.
    static let fixtures: [String: [String]] = [
        "initialize": [
            #"{"protocolVersion":1,"clientInfo":{"name":"vscode","version":"1.2"},"workspace":"/w","rootUri":"file:///w","rootPath":"/w","capabilities":{"logs":false}}"#,
            #"{"processId":12,"rootUri":"file:///tmp/x","capabilities":{"textDocument":{}},"clientInfo":{"name":"nvim"},"trace":"off"}"#,
            #"{}"#,
        ],
        "shutdown": [#"{}"#],
        "pipeline/list": [#"{}"#],
        "run/start": [#"{"pipelineId":"demo","task":"fix it","inputs":{"a":"1","b":"é 🐑"}}"#, #"{"pipelineId":"demo","task":"t"}"#,
                      #"{"pipelineId":"demo","task":"t","isolation":"worktree","base":"main","includeUncommitted":true}"#],
        "run/list": [#"{"status":["queued","running","blocked","paused","done","failed","cancelled"],"limit":10,"cursor":"c"}"#, #"{}"#,
                     #"{"status":[],"limit":1.0,"cursor":null}"#],
        "run/get": [#"{"runId":"r-1"}"#],
        "run/events": [#"{"runId":"r-1","afterSeq":3,"limit":1e2}"#, #"{"runId":"r-1"}"#],
        "run/cancel": [#"{"runId":"r-1","reason":"no"}"#, #"{"runId":"r-1"}"#],
        "run/retry": [#"{"runId":"r-1"}"#],
        "run/resume": [#"{"runId":"r-1"}"#, #"{"runId":"r-1","budget":{"maxUSD":2.5,"maxTokens":1000}}"#],
        "run/restart": [#"{"runId":"r-1","fromStep":"plan"}"#],
        "decision/resolve": [#"{"runId":"r-1","decisionId":"d-1","choice":"sqlite"}"#,
                             #"{"runId":"r-1","decisionId":"d-1","choice":"deny","reason":"no"}"#],
        "step/approve": [#"{"runId":"r-1","approvalId":"a-1","proposal":"edited\ntext"}"#, #"{"runId":"r-1","approvalId":"a-1"}"#],
        "step/requestChanges": [#"{"runId":"r-1","approvalId":"a-1","feedback":"more tests"}"#],
        "step/reject": [#"{"runId":"r-1","approvalId":"a-1","reason":"no"}"#, #"{"runId":"r-1","approvalId":"a-1","reason":null}"#],
        "inbox/list": [#"{}"#, #"{"extra":[1,2]}"#],
        "step/log": [#"{"runId":"r-1","stepId":"plan","attempt":2,"offset":0,"limit":4096}"#, #"{"runId":"r-1","stepId":"plan"}"#],
        "workspace/trust": [#"{"trusted":true}"#, #"{"trusted":false}"#],
        "run/diff": [#"{"runId":"r-1"}"#, #"{"runId":"r-1","stepId":"impl"}"#],
        "run/apply": [#"{"runId":"r-1"}"#, #"{"runId":"r-1","strategy":"squash"}"#],
    ]

    private static func decodesLikeJSONDecoder<R: RequestType>(_: R.Type) throws {
        let fixtures = try #require(Self.fixtures[R.method], "no fixture for \(R.method)")
        for text in fixtures {
            let (ours, theirs) = try both(R.self, text)
            let expected = try canonical(theirs.get())
            #expect(try canonical(ours.get()) == expected, "\(R.method): \(text)")
        }
    }

    @Test("every request's params decode as with JSONDecoder")
    func everyRequest() throws {
        #expect(Set(Self.fixtures.keys) == Set(MethodRegistry.methodNames))
        for request in MethodRegistry.requests {
            try Self.decodesLikeJSONDecoder(request)
        }
    }

    struct Shape: Codable, Equatable, Sendable {
        enum Kind: String, Codable, Sendable { case a, b }
        struct Inner: Codable, Equatable, Sendable {
            var count: Int
            var ratio: Double?
        }
        var name: String
        var kind: Kind?
        var inner: Inner?
        var list: [Inner]?
        var grid: [[Int]]?
        var holes: [Int?]?
        var map: [String: Int]?
        var nested: [String: [Kind]]?
        var small: Int8?
        var unsigned: UInt?
        var float: Float?
        var flag: Bool?
        var id: RequestID?
    }

    @Test("the shapes the protocol uses decode as with JSONDecoder", arguments: [
        #"{"name":"n"}"#,
        #"{"name":"n","kind":"b","inner":{"count":2,"ratio":0.5},"list":[{"count":1},{"count":-2,"ratio":3}]}"#,
        #"{"name":"","grid":[[1,2],[],[3]],"holes":[1,null,3],"map":{"x":1,"y":-1},"nested":{"k":["a","b"],"e":[]}}"#,
        #"{"name":"n","small":-128,"unsigned":18,"float":1.5,"flag":false,"id":7}"#,
        #"{"name":"n","id":"x-1","kind":null,"inner":null,"list":null}"#,
        #"{"name":"n","inner":{"count":1.0},"small":1e2,"unsigned":0,"float":2,"id":-0.0}"#,
        #"{"name":"\ud83d\udc11 é \" \\ \/ \b\f\n\r\t","unknown":{"deep":[1,{"x":null}]}}"#,
    ])
    func shapes(_ text: String) throws {
        let (ours, theirs) = try both(Shape.self, text)
        #expect(try ours.get() == theirs.get())
    }

    struct ErrorCase: Sendable, CustomTestStringConvertible {
        let text: String
        let explanation: String
        var testDescription: String { text }
    }

    @Test("errors: the same kind and coding path as JSONDecoder", arguments: [
        ErrorCase(text: #"{}"#, explanation: "missing required field 'name'"),
        ErrorCase(text: #"{"name":5}"#, explanation: "'name' must be a string"),
        ErrorCase(text: #"{"name":null}"#, explanation: "'name' must be a string, not null"),
        ErrorCase(text: #"{"name":"n","inner":{}}"#, explanation: "missing required field 'count' in 'inner'"),
        ErrorCase(text: #"{"name":"n","inner":{"count":"2"}}"#, explanation: "'inner.count' must be a number"),
        ErrorCase(text: #"{"name":"n","inner":{"count":null}}"#, explanation: "'inner.count' must be a number, not null"),
        ErrorCase(text: #"{"name":"n","inner":{"count":1,"ratio":true}}"#, explanation: "'inner.ratio' must be a number"),
        ErrorCase(text: #"{"name":"n","inner":[]}"#, explanation: "'inner' must be an object"),
        ErrorCase(text: #"{"name":"n","inner":7}"#, explanation: "'inner' must be an object"),
        ErrorCase(text: #"{"name":"n","list":{}}"#, explanation: "'list' must be an array"),
        ErrorCase(text: #"{"name":"n","list":[{"count":1},{}]}"#, explanation: "missing required field 'count' in 'list[1]'"),
        ErrorCase(text: #"{"name":"n","list":[{"count":1},{"count":[]}]}"#, explanation: "'list[1].count' must be a number"),
        ErrorCase(text: #"{"name":"n","list":[null]}"#, explanation: "'list[0]' must be an object, not null"),
        ErrorCase(text: #"{"name":"n","grid":[[1],[2,"a"]]}"#, explanation: "'grid[1][1]' must be a number"),
        ErrorCase(text: #"{"name":"n","grid":[[1],null]}"#, explanation: "'grid[1]' must be an array, not null"),
        ErrorCase(text: #"{"name":"n","holes":[1,"x"]}"#, explanation: "'holes[1]' must be a number"),
        ErrorCase(text: #"{"name":"n","map":{"k":"v"}}"#, explanation: "'map.k' must be a number"),
        ErrorCase(text: #"{"name":"n","map":[]}"#, explanation: "'map' must be an object"),
        ErrorCase(text: #"{"name":"n","nested":{"k":["a","c"]}}"#, explanation: "'nested.k[1]': Cannot initialize Kind from invalid String value c"),
        ErrorCase(text: #"{"name":"n","kind":"c"}"#, explanation: "'kind': Cannot initialize Kind from invalid String value c"),
        ErrorCase(text: #"{"name":"n","kind":1}"#, explanation: "'kind' must be a string"),
        ErrorCase(text: #"{"name":"n","flag":"yes"}"#, explanation: "'flag' must be a boolean"),
        ErrorCase(text: #"{"name":"n","flag":1}"#, explanation: "'flag' must be a boolean"),
        ErrorCase(text: #"{"name":"n","id":true}"#, explanation: "'id' must be a string"),
        ErrorCase(text: #"["n"]"#, explanation: "'params' must be an object"),
        ErrorCase(text: #"null"#, explanation: "'params' must be an object, not null"),
    ])
    func errors(_ testCase: ErrorCase) throws {
        let (ours, theirs) = try both(Shape.self, testCase.text)
        #expect(explanation(ours) == testCase.explanation)
        #expect(explanation(theirs) == testCase.explanation)
    }

    @Test("an invalid RunStatus reads as with JSONDecoder")
    func invalidRunStatus() throws {
        let (ours, theirs) = try both(RunListRequest.self, #"{"status":["running","bogus"]}"#)
        #expect(explanation(ours) == "'status[1]': 'bogus' is not one of 'queued', 'running', 'blocked', 'paused', 'done', 'failed', 'cancelled'")
        #expect(explanation(ours) == explanation(theirs))
        guard case .failure(DecodingError.dataCorrupted(let context)) = ours else {
            Issue.record("not dataCorrupted: \(ours)")
            return
        }
        #expect(context.codingPath.map(\.stringValue) == ["status", "Index 1"])
        #expect(context.codingPath.last?.intValue == 1)
    }

    @Test("numbers: integral doubles are integers; others and out-of-range ones are dataCorrupted with their path")
    func numbers() throws {
        struct Numbers: Decodable {
            var int: Int?
            var small: Int8?
            var unsigned: UInt32?
            var double: Double?
            var float: Float?
        }
        let decoder = JSONValueDecoder()
        let good = try decoder.decode(Numbers.self, from: tree(#"{"int":1e5,"small":-1.0,"unsigned":4294967295,"double":7,"float":0.1}"#))
        #expect(good.int == 100_000 && good.small == -1 && good.unsigned == .max && good.double == 7 && good.float == 0.1)
        #expect(try decoder.decode(Numbers.self, from: tree(#"{"int":-9223372036854775808}"#)).int == .min)
        #expect(try decoder.decode(Numbers.self, from: tree(#"{"double":-0.0}"#)).double?.sign == .minus)
        let cases: [(String, String)] = [
            (#"{"int":1.5}"#, "'int': Parsed JSON number <1.5> does not fit in Int."),
            (#"{"int":9223372036854775808}"#, "'int': Parsed JSON number <9.223372036854776e+18> does not fit in Int."),
            (#"{"small":128}"#, "'small': Parsed JSON number <128> does not fit in Int8."),
            (#"{"unsigned":-1}"#, "'unsigned': Parsed JSON number <-1> does not fit in UInt32."),
            (#"{"float":1e300}"#, "'float': Parsed JSON number <1e+300> does not fit in Float."),
            (#"{"int":"1"}"#, "'int' must be a number"),
        ]
        for (text, expected) in cases {
            #expect(explanation(Result { try decoder.decode(Numbers.self, from: tree(text)) }) == expected, "\(text)")
        }
        // Beyond Double (only when the parser lets such numbers through, as MessageDecoder's does).
        let infinite = try JSONParser(allowsOutOfRangeNumbers: true).parse(Array(#"{"double":1e400,"int":-1e400}"#.utf8))
        struct OnlyDouble: Decodable { var double: Double }
        struct OnlyInt: Decodable { var int: Int }
        #expect(explanation(Result { try decoder.decode(OnlyDouble.self, from: infinite) }) == "'double': Parsed JSON number <inf> does not fit in Double.")
        #expect(explanation(Result { try decoder.decode(OnlyInt.self, from: infinite) }) == "'int': Parsed JSON number <-inf> does not fit in Int.")
    }

    @Test("decodeIfPresent and decodeNil: absent and null are nil, a wrong type still throws")
    func optionals() throws {
        struct Probe: Decodable {
            var absent: Bool
            var null: Bool
            var value: Int?
            init(from decoder: Decoder) throws {
                enum Key: String, CodingKey { case a, n, v, missing }
                let container = try decoder.container(keyedBy: Key.self)
                absent = try container.decodeIfPresent(Int.self, forKey: .a) == nil
                null = try container.decodeNil(forKey: .n)
                value = try container.decodeIfPresent(Int.self, forKey: .v)
                #expect(!container.contains(.missing))
                #expect(throws: DecodingError.self) { try container.decodeNil(forKey: .missing) }
                #expect(Set(container.allKeys.map(\.stringValue)) == ["n", "v"])
            }
        }
        let probe = try JSONValueDecoder().decode(Probe.self, from: tree(#"{"n":null,"v":3,"other":1}"#))
        #expect(probe.absent && probe.null && probe.value == 3)
        #expect(throws: DecodingError.self) { try JSONValueDecoder().decode(Shape.self, from: tree(#"{"name":"n","inner":{"count":1,"ratio":"x"}}"#)) }
    }

    @Test("unkeyed containers: count, nil elements and the end, with the index in the path")
    func unkeyed() throws {
        struct Pair: Decodable {
            var first: Int
            var second: Int?
            init(from decoder: Decoder) throws {
                var container = try decoder.unkeyedContainer()
                first = try container.decode(Int.self)
                second = try container.decodeIfPresent(Int.self)
                _ = try container.decode(Int.self)
            }
        }
        // (JSONDecoder says [2] here: its decodeIfPresent moves past the end.)
        let ours = Result { try JSONValueDecoder().decode(Pair.self, from: tree("[1]")) }
        guard case .failure(DecodingError.valueNotFound(_, let context)) = ours else {
            Issue.record("not valueNotFound: \(ours)")
            return
        }
        #expect(context.codingPath.map { $0.intValue } == [1], "\(context)")
        let nulls = Result { try JSONValueDecoder().decode(Pair.self, from: tree("[1, null, null]")) }
        #expect(explanation(nulls) == "'[2]' must be a number, not null")
        let full = Result { try JSONValueDecoder().decode(Pair.self, from: tree("[1, 2, 3]")) }
        #expect(try full.get().second == 2)
    }

    @Test("JSONValue and RequestID decode through it")
    func freeForm() throws {
        let text = #"{"a":[1,2.5,"s",true,null,{"b":{}}]}"#
        #expect(try JSONValueDecoder().decode(JSONValue.self, from: tree(text)) == JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)))
        #expect(try JSONValueDecoder().decode([RequestID].self, from: tree(#"[1,"x",2.0]"#)) == [.int(1), .string("x"), .int(2)])
    }
}

@Suite("MessageDecoder: one parse per message")
struct MessageDecoderOneParseTests {
    private let decoder = MessageDecoder()

    private func single(_ text: String) -> IncomingEntry? {
        guard case .single(let entry) = decoder.decode(Array(text.utf8)) else { return nil }
        return entry
    }

    @Test("a number beyond Double fails only where it is read, as with JSONDecoder")
    func outOfRangeNumbers() throws {
        guard case .invalid(let id, let error) = single(#"{"jsonrpc":1e400,"id":4,"method":"m"}"#) else {
            Issue.record("not invalid")
            return
        }
        #expect(id == .int(4) && error.code == .invalidRequest)
        guard case .invalid(nil, let idError) = single(#"{"jsonrpc":"2.0","id":1e400,"method":"m"}"#) else {
            Issue.record("not invalid with id null")
            return
        }
        #expect(idError.code == .invalidRequest)
        guard case .message(let message) = single(#"{"jsonrpc":"2.0","id":1,"method":"run/get","params":{"runId":"r","n":1e400}}"#) else {
            Issue.record("not a message")
            return
        }
        #expect(try decoder.params(RunGetRequest.self, from: message).runId == "r")
        // In a batch, each entry is classified on its own (JSONDecoder failed the whole batch).
        guard case .batch(let entries) = decoder.decode(Array(#"[{"jsonrpc":"2.0","id":1,"method":"m","params":[1e400]},{"jsonrpc":1e400,"id":2,"method":"m"}]"#.utf8)),
              entries.count == 2, case .message = entries[0], case .invalid(.int(2)?, _) = entries[1] else {
            Issue.record("batch not classified per entry")
            return
        }
    }

    @Test("an integral id written as a double is an Int, as with JSONDecoder")
    func integralID() {
        guard case .message(let message) = single(#"{"jsonrpc":"2.0","id":1.0,"method":"m"}"#) else {
            Issue.record("not a message")
            return
        }
        #expect(message.id == .int(1))
        guard case .message(let exponent) = single(#"{"jsonrpc":"2.0","id":2e3,"method":"m"}"#) else {
            Issue.record("not a message")
            return
        }
        #expect(exponent.id == .int(2000))
    }

    @Test("params are kept parsed; absent and null are nil")
    func params() {
        guard case .message(let message) = single(#"{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":[1,"b"]}}"#) else {
            Issue.record("not a message")
            return
        }
        #expect(message.params == .object(["a": .array([.int(1), .string("b")])]))
        #expect(message.hasParams)
        for text in [#"{"jsonrpc":"2.0","id":1,"method":"m"}"#, #"{"jsonrpc":"2.0","id":1,"method":"m","params":null}"#] {
            guard case .message(let bare) = single(text) else {
                Issue.record("not a message")
                continue
            }
            #expect(bare.params == nil && !bare.hasParams)
        }
    }

    @Test("parse errors say where; invalid UTF-8 says so wherever it is")
    func parseErrors() {
        guard case .invalid(nil, let error) = single(#"{"jsonrpc":"2.0","id":1,}"#) else {
            Issue.record("not invalid")
            return
        }
        #expect(error.code == .parseError)
        #expect(error.message.contains("not valid JSON") && error.message.contains("at byte 24"), "\(error.message)")
        // A syntax error before the bad byte still reports the encoding, as before.
        guard case .single(.invalid(nil, let utf8)) = decoder.decode(Array("{] \"".utf8) + [0xFF, 0x22]) else {
            Issue.record("not invalid")
            return
        }
        #expect(utf8.message.contains("not valid UTF-8"), "\(utf8.message)")
    }
}
