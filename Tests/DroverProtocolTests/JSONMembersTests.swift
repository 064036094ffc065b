import DroverProtocol
import Testing

/// Texts the skims are checked on: JSON-RPC messages of every envelope, and JSON of every kind.
private let corpus: [String] = [
    #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"rootUri":"file:///tmp/w","capabilities":{}}}"#,
    #"{"jsonrpc":"2.0","id":"a","method":"initialize","params":{"workspace":"/tmp/ü x","rootPath":null}}"#,
    #"{"jsonrpc":"2.0","id":1,"method":"run/list"}"#,
    #"{"jsonrpc":"2.0","id":1.0,"method":"m","params":[1,2,{"a":[]}]}"#,
    #"{"jsonrpc":"2.0","id":1e3,"method":"m","params":null}"#,
    #"{"jsonrpc":"2.0","id":1.5,"method":"m"}"#,
    #"{"jsonrpc":"2.0","id":null,"method":"m"}"#,
    #"{"jsonrpc":"2.0","method":"initialized","params":{}}"#,
    #"{"jsonrpc":"2.0","id":3,"result":{"x":1}}"#,
    #"{"jsonrpc":"2.0","id":3,"error":{"code":-1,"message":"m"}}"#,
    #"{"jsonrpc":"1.0","id":2,"method":"m"}"#,
    #"{"jsonrpc":"2.0","id":2,"method":7}"#,
    #"{"jsonrpc":"2.0","id":2,"method":"m","params":"p"}"#,
    #"{"jsonrpc":"2.0","id":2,"method":"m","params":{"k":1},"params":null}"#,
    #"{"jsonrpc":"2.0","id":2,"id":"b","method":"m","method":"n"}"#,
    #"{"jsonrpc":"2.0","id":{"a":1},"method":"m"}"#,
    #"{"jsonrpc":"2.0","id":1e400,"method":"m"}"#,
    #" { "jsonrpc" : "2.0" , "id" : 9 , "method" : "m\u0041" , "params" : { "\ud83d\udc11" : [ true , false , null , -0.5e-3 ] } } "#,
    #"[{"jsonrpc":"2.0","id":1,"method":"m"}]"#,
    "[]", "{}", "null", "42", #""text""#, "", "   ",
    #"{"a":{"b":{"c":[[[{"d":"\n\t\\\""}]]]}},"":0}"#,
]

/// `text` with a few seeded edits: bytes dropped, replaced, inserted (quotes, brackets, escapes,
/// invalid UTF-8), or cut short.
private func mutated(_ text: String, _ random: inout SeededGenerator) -> [UInt8] {
    var bytes = Array(text.utf8)
    let specials: [UInt8] = Array(#"{}[]:,"\ 0-1eE.nt"#.utf8) + [0x80, 0xC3, 0xFF, 0x00, 0x0A]
    for _ in 0..<Int.random(in: 1...3, using: &random) {
        let at = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &random)
        switch Int.random(in: 0..<4, using: &random) {
        case 0 where !bytes.isEmpty: bytes.remove(at: at)
        case 1 where !bytes.isEmpty: bytes[at] = specials.randomElement(using: &random)!
        case 2: bytes.insert(specials.randomElement(using: &random)!, at: at)
        default: bytes = Array(bytes.prefix(at))
        }
    }
    return bytes
}

/// The corpus and 400 seeded mutations of each of its texts.
private func inputs() -> [[UInt8]] {
    var random = SeededGenerator(state: 17)
    return corpus.flatMap { text in [Array(text.utf8)] + (0..<400).map { _ in mutated(text, &random) } }
}

@Suite("JSONParser.members agrees with the full parse")
struct JSONMembersTests {
    @Test("members accepts exactly what parse accepts, and each member's range parses to what parse keeps")
    func membersAgree() throws {
        let parser = JSONParser(allowsOutOfRangeNumbers: true)
        var objects = 0
        for bytes in inputs() {
            let parsed = try? parser.parse(bytes)
            // Thrown: nil; valid: .some(members, or nil for a non-object).
            let skimmed: [JSONMember]??
            do {
                skimmed = .some(try bytes.withUnsafeBufferPointer { (buffer) throws(JSONParseError) in try parser.members(buffer) })
            } catch {
                skimmed = nil
            }
            #expect((parsed == nil) == (skimmed == nil), "\(String(decoding: bytes, as: UTF8.self))")
            guard let parsed, let skimmed else { continue }
            guard case .object(let object) = parsed else {
                #expect(skimmed == nil, "a non-object has no members: \(String(decoding: bytes, as: UTF8.self))")
                continue
            }
            let members = try #require(skimmed)
            var rebuilt: [String: JSONValue] = [:]
            for member in members {
                rebuilt[member.key] = try parser.parse(Array(bytes[member.value]))
            }
            #expect(rebuilt == object, "\(String(decoding: bytes, as: UTF8.self))")
            #expect(members.value("no such key") == nil)
            objects += 1
        }
        #expect(objects > 100, "the mutations leave enough valid objects to compare")
    }
}
