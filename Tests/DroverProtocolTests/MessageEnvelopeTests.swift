@testable import DroverProtocol
import Testing

/// `MessageDecoder` reads only a message's envelope and keeps `params` as text; these tests hold it to
/// what a whole parse into a tree said about every message: the same entries, errors (code and words,
/// the parse error's offset included), ids and params.
@Suite("MessageDecoder: the envelope read agrees with a whole parse")
struct MessageEnvelopeTests {
    /// What classifying a whole `JSONValue` tree gave (the decoder before params were kept as text).
    private static func reference(_ bytes: [UInt8]) -> [String] {
        guard bytes.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) else {
            return [line(nil, .parseError("empty message"))]
        }
        let value: JSONValue
        do {
            value = try JSONParser(maxDepth: 512, allowsOutOfRangeNumbers: true).parse(bytes)
        } catch {
            if bytes.contains(where: { $0 >= 0x80 }), String(validating: bytes, as: UTF8.self) == nil {
                return [line(nil, .parseError("the message is not valid UTF-8"))]
            }
            return [line(nil, .parseError("the message is not valid JSON (\(error))"))]
        }
        switch value {
        case .array(let elements):
            if elements.isEmpty { return [line(nil, .invalidRequest("an empty batch is not allowed"))] }
            return ["batch"] + elements.map { element in
                guard case .object(let members) = element else { return line(nil, .invalidRequest("a batch entry must be a JSON object")) }
                return classify(members)
            }
        case .object(let members):
            return [classify(members)]
        default:
            return [line(nil, .invalidRequest("a message must be a JSON object or an array of them"))]
        }
    }

    private static func classify(_ members: [String: JSONValue]) -> String {
        var id: RequestID?
        var idIsInvalid = false, idIsNull = false
        switch members["id"] {
        case nil: break
        case .null: idIsNull = true
        case .int(let value): id = .int(value)
        case .double(let value): if let int = Int(exactly: value) { id = .int(int) } else { idIsInvalid = true }
        case .string(let value): id = .string(value)
        default: idIsInvalid = true
        }
        func invalid(_ id: RequestID?, _ message: String) -> String { line(id, .invalidRequest(message)) }
        guard members["jsonrpc"]?.stringValue == "2.0" else { return invalid(id, #""jsonrpc" must be "2.0""#) }
        let method = members["method"]
        if method == nil && (members["result"] != nil || members["error"] != nil) { return "response" }
        if idIsInvalid { return invalid(nil, #""id" must be a number or a string"#) }
        if idIsNull { return invalid(nil, #""id" must be a number or a string, not null"#) }
        guard let method else { return invalid(id, #""method" is missing"#) }
        guard case .string(let name) = method else { return invalid(id, #""method" must be a string"#) }
        let params: JSONValue?
        switch members["params"] {
        case nil, .null?: params = nil
        case .object?, .array?: params = members["params"]
        default: return invalid(id, #""params" must be an object or an array"#)
        }
        return "message \(id.map(\.description) ?? "notification") \(name) \(params.map(canonical) ?? "no params")"
    }

    private static func described(_ entry: IncomingEntry) -> String {
        switch entry {
        case .response: return "response"
        case .invalid(let id, let error): return line(id, error)
        case .message(let message):
            return "message \(message.id.map(\.description) ?? "notification") \(message.method) \(message.params.map(canonical) ?? "no params")"
        }
    }

    private static func line(_ id: RequestID?, _ error: ResponseError) -> String {
        "invalid \(id.map(\.description) ?? "nil") \(error.code.rawValue) \(error.message)"
    }

    /// A tree as text with sorted keys, so equal trees print alike.
    private static func canonical(_ value: JSONValue) -> String {
        switch value {
        case .object(let members): "{" + members.keys.sorted().map { "\($0):\(canonical(members[$0]!))" }.joined(separator: ",") + "}"
        case .array(let elements): "[" + elements.map(canonical).joined(separator: ",") + "]"
        default: "\(value)"
        }
    }

    private static func decoded(_ bytes: [UInt8]) -> [String] {
        switch MessageDecoder().decode(bytes) {
        case .single(let entry): [described(entry)]
        case .batch(let entries): ["batch"] + entries.map(described)
        }
    }

    static let corpus: [String] = [
        #"{"jsonrpc":"2.0","id":1,"method":"bench/nonexistent","params":{"text":"hello","n":42}}"#,
        #"{"jsonrpc":"2.0","id":"a\"b\u00e9","method":"m","params":[1,2.5,-0,1e400,true,false,null,"x\ud83d\ude00"]}"#,
        #"{"jsonrpc":"2.0","id":1.0,"method":"m","params":{}}"#,
        #"{"jsonrpc":"2.0","id":1e3,"method":"m","params":[]}"#,
        #"{"jsonrpc":"2.0","id":-9223372036854775808,"method":"m"}"#,
        #"{"jsonrpc":"2.0","id":9223372036854775808,"method":"m"}"#,
        #"{"jsonrpc":"2.0","id":1.5,"method":"m"}"#,
        #"{"jsonrpc":"2.0","id":true,"method":"m"}"#,
        #"{"jsonrpc":"2.0","id":[1],"method":"m"}"#,
        #"{"jsonrpc":"2.0","id":null,"method":"m"}"#,
        #"{"jsonrpc":"2.0","method":"n","params":{"a":{"b":[{"c":null}]}}}"#,
        // Duplicate members: the last one wins, params included.
        #"{"jsonrpc":"2.0","id":1,"id":"two","method":"a","method":"b","params":{"x":1},"params":[2]}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"m","params":{"x":1},"params":null}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"m","params":[],"params":5}"#,
        #"{"jsonrpc":"1.0","jsonrpc":"2.0","id":1,"method":"m"}"#,
        // The version written otherwise than as the five bytes "2.0", or as a near miss of them.
        #"{"jsonrpc":"2\u002e0","id":1,"method":"m"}"#, #"{"jsonrpc":"2.00","id":1,"method":"m"}"#, #"{"jsonrpc":"2.0"#,
        #"{"jsonrpc":2.0,"id":1,"method":"m"}"#, #"{"jsonrpc":"2.0" ,"id":1,"method":"m"}"#, #"{"jsonrpc":"2.","id":1}"#,
        // Members written with escapes are the same members.
        #"{"\u006asonrpc":"2.0","\u0069d":7,"\u006dethod":"m","p\u0061rams":{"k":"v"}}"#,
        #"{"jsonrpc":"2.0","id":1,"r\u0065sult":null}"#, #"{"jsonrpc":"2.0","id":1,"\u0065rror":{}}"#,
        // Names that are near misses of members, or bad escapes in a name.
        #"{"jsonrpc":"2.0","id":1,"Method":"m","methods":"n","metho":"o"}"#, #"{"jsonrpc":"2.0","\u00zzd":1}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"m","params":"text"}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"m","params":3}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"m","params":false}"#,
        #"{"jsonrpc":"2.0","id":1,"method":7}"#,
        // A method name kept as its bytes (no escapes) or decoded (escapes), and duplicates of either kind.
        #"{"jsonrpc":"2.0","id":1,"method":"be\u006ech\/x"}"#, #"{"jsonrpc":"2.0","id":1,"method":"\"q\"\n"}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"é/🚀"}"#, #"{"jsonrpc":"2.0","id":1,"method":""}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"a","method":7}"#, #"{"jsonrpc":"2.0","id":1,"method":7,"method":"a"}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"a","method":"\u0062"}"#, #"{"jsonrpc":"2.0","id":1,"method":"\u0062","method":"c"}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"a","method":null,"result":1}"#, #"{"jsonrpc":"2.0","id":1,"method":"x\u0001"}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"x"#, #"{"jsonrpc":"2.0","id":1,"method":"\ud800"}"#,
        #"{"jsonrpc":"2.0","id\u0000":1,"method\u0000":"x","method":"m"}"#,
        #"{"jsonrpc":"2.0","id":1}"#,
        #"{"jsonrpc":"2.0","id":1,"result":null}"#,
        #"{"jsonrpc":"2.0","id":1,"error":{"code":1}}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"m","result":1}"#,
        #"{"jsonrpc":2,"id":"s","method":"m"}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"m","extra":{"deep":[[[[]]]]},"params":{"a":"\n\t\\"}}"#,
        #"  {"jsonrpc" : "2.0" , "id" : 3 , "method" : "m" , "params" : { "a" : [ 1 , 2 ] } }  "#,
        #"[{"jsonrpc":"2.0","id":1,"method":"a","params":{"p":1}},{"jsonrpc":"2.0","method":"n","params":[true]},1,"s",null,[],{}]"#,
        #"[{"jsonrpc":"2.0","id":1,"method":"a","params":7},{"jsonrpc":"2.0","id":2,"result":{}}]"#,
        #"[]"#, #"[1]"#, #"42"#, #""s""#, #"null"#, #"{}"#, "", " ",
        #"{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":"\ud800"}}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":"\x"}}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":01}}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":1.}}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"m","params":{"a" 1}}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":1,}}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"m","params":[1 2]}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":tru}}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"m"} x"#,
    ]

    @Test("member names: the envelope's own, and names that differ from them by a byte, a NUL or their length")
    func envelopeKeys() {
        func key(_ name: String) -> EnvelopeKey {
            var name = name
            return name.withUTF8 { EnvelopeKey($0) }
        }
        let own: [(String, EnvelopeKey)] = [("id", .id), ("error", .resultOrError), ("result", .resultOrError),
                                            ("method", .method), ("params", .params), ("jsonrpc", .jsonrpc)]
        for (name, expected) in own {
            #expect(key(name) == expected, "\(name)")
            for other in [name + "\u{0}", "\u{0}" + name, String(name.dropLast()), String(name.dropFirst()), name.uppercased(),
                          name + "s", String(name.dropLast()) + "\u{0}"] {
                #expect(key(other) == .other, "\(other.debugDescription)")
            }
        }
        for other in ["", "i", "d", "jsonrpc2", "idid", "\u{0}\u{0}", "é"] {
            #expect(key(other) == .other, "\(other.debugDescription)")
        }
    }

    @Test("every message of the corpus")
    func corpus() {
        for text in Self.corpus {
            let bytes = Array(text.utf8)
            #expect(Self.decoded(bytes) == Self.reference(bytes), "\(text)")
        }
    }

    @Test("invalid UTF-8, control characters and nesting at the limit, in params and elsewhere")
    func edges() {
        let head = Array(#"{"jsonrpc":"2.0","id":1,"method":"m","params":"#.utf8)
        var cases: [[UInt8]] = [
            head + Array(#"{"t":""#.utf8) + [0xC3, 0x28] + Array(#""}}"#.utf8),
            head + Array(#"{"t":""#.utf8) + [0xF0, 0x9F, 0x98] + Array(#""}}"#.utf8),
            head + Array(#"{"t":""#.utf8) + [0x01] + Array(#""}}"#.utf8),
            Array(#"{"jsonrpc":"2.0","id":1,"method":"m","x":""#.utf8) + [0xFF] + Array(#""}"#.utf8),
            // In a method name kept as its bytes.
            Array(#"{"jsonrpc":"2.0","id":1,"method":"m"#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8),
            Array(#"{"jsonrpc":"2.0","id":1,"method":""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}"#.utf8),
            Array(#"{"jsonrpc":"2.0","id":1,"method":"m"#.utf8) + [0x1F] + Array(#""}"#.utf8),
        ]
        // The parser allows 512 levels: the message is one, so params may nest 511 deep, and not 512.
        for depth in [510, 511, 512, 513] {
            cases.append(head + Array(String(repeating: "[", count: depth).utf8) + Array(String(repeating: "]", count: depth).utf8) + [0x7D])
            cases.append([0x5B] + head + Array(String(repeating: "[", count: depth - 1).utf8)
                         + Array(String(repeating: "]", count: depth - 1).utf8) + [0x7D, 0x5D])
        }
        for bytes in cases {
            #expect(Self.decoded(bytes) == Self.reference(bytes), "\(String(decoding: bytes, as: UTF8.self).prefix(80))")
        }
    }

    @Test("seeded mutations of the corpus: flipped, dropped, inserted and truncated bytes")
    func mutations() {
        var random = SeededGenerator(state: 17)
        let alphabet = Array(#"{}[]:,"\ 0123456789.eE+-truefalsnl"#.utf8) + [0x80, 0xC3, 0xFF, 0x00, 0x0A]
        let seeds = Self.corpus.map { Array($0.utf8) }.filter { !$0.isEmpty }
        var disagreements = 0
        for _ in 0..<20_000 {
            var bytes = seeds[Int(random.next() % UInt64(seeds.count))]
            for _ in 0..<(1 + Int(random.next() % 3)) where !bytes.isEmpty {
                let at = Int(random.next() % UInt64(bytes.count))
                let byte = alphabet[Int(random.next() % UInt64(alphabet.count))]
                switch random.next() % 4 {
                case 0: bytes[at] = byte
                case 1: bytes.remove(at: at)
                case 2: bytes.insert(byte, at: at)
                default: bytes.removeLast(bytes.count - at)
                }
            }
            let (got, want) = (Self.decoded(bytes), Self.reference(bytes))
            if got != want {
                disagreements += 1
                if disagreements <= 5 { Issue.record("\(String(decoding: bytes, as: UTF8.self)): \(got) != \(want)") }
            }
        }
        #expect(disagreements == 0)
    }

    @Test("params kept as text decode into typed params, and a tree set later replaces them")
    func paramsRead() throws {
        let text = #"[{"jsonrpc":"2.0","id":1,"method":"run/get","params":{"runId":"r-1"}},{"jsonrpc":"2.0","id":2,"method":"run/get","params":{"runId":"r-2"}}]"#
        guard case .batch(let entries) = MessageDecoder().decode(Array(text.utf8)) else {
            Issue.record("not a batch")
            return
        }
        let ids = try entries.map { entry -> String in
            guard case .message(let message) = entry else { return "" }
            return try MessageDecoder().params(RunGetRequest.self, from: message).runId
        }
        #expect(ids == ["r-1", "r-2"])
        guard case .message(var message) = entries[0] else { return }
        message.params = .object(["runId": .string("r-3")])
        #expect(try MessageDecoder().params(RunGetRequest.self, from: message).runId == "r-3")
        message.params = nil
        #expect(!message.hasParams)
    }
}
