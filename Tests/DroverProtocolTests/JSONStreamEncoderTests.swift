@testable import DroverProtocol
import Foundation
import Testing

/// What JSONEncoder (`JSONCoding.makeEncoder()`, the bytes earlier builds stored and sent) writes.
private func reference<T: Encodable>(_ value: T) throws -> String {
    String(decoding: try JSONCoding.makeEncoder().encode(value), as: UTF8.self)
}

/// `value` written by the streaming encoder without falling back to the tree: the same bytes as
/// JSONEncoder and as the tree written by `JSONWriter`.
private func expectStreamed<T: Encodable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let expected = try reference(value)
    guard let written = JSONStreamEncoder.write(value) else {
        Issue.record("fell back to the tree: \(expected)", sourceLocation: sourceLocation)
        return
    }
    #expect(String(decoding: written.bytes, as: UTF8.self) == expected, sourceLocation: sourceLocation)
    var tree: [UInt8] = []
    JSONWriter.append(try JSONValueEncoder.encode(value), to: &tree)
    #expect(String(decoding: tree, as: UTF8.self) == expected, sourceLocation: sourceLocation)
}

/// `value` left to the tree by the streaming encoder, and `encodeBytes` still writing JSONEncoder's bytes.
private func expectFallBack<T: Encodable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(JSONStreamEncoder.write(value) == nil, sourceLocation: sourceLocation)
    #expect(String(decoding: try JSONValueEncoder.encodeBytes(value), as: UTF8.self) == (try reference(value)), sourceLocation: sourceLocation)
}

@Suite("JSONStreamEncoder")
struct JSONStreamEncoderTests {
    @Test("every event body, in an Event and as a page, and runs: streamed, JSONEncoder's bytes")
    func protocolValues() throws {
        let events = allBodies.enumerated().map { Event(runId: "r-1", seq: $0.offset + 1, at: "2024-05-01T10:00:00.000Z", body: $0.element) }
        for event in events { try expectStreamed(event) }
        try expectStreamed(RunEventsResult(events: events, lastSeq: events.count, more: true))
        for run in [fullRun, emptyRun, fullRun.summary] { try expectStreamed(run) }
        try expectStreamed(RunListResult(runs: [fullRun, emptyRun], nextCursor: nil))
        try expectStreamed(RunLogNotification(runId: "r-1", stepId: "plan", attempt: 1, stream: .stderr, text: "warn: \"x\"\r\n", offset: -1))
    }

    @Test("keys needing escapes, sharing prefixes and canonically equivalent sort by UTF-8 bytes")
    func awkwardKeys() throws {
        let keys = awkwardStrings + ["a", "a\u{0}", "a\"", "a\\", "ab", "a b", "A", "\u{E9}", "\u{7F}", "🐑", "\u{FFFF}", "z"]
        try expectStreamed(Dictionary(keys.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: max))
        try expectStreamed(Dictionary(keys.map { ($0, $0) }, uniquingKeysWith: max))
        try expectStreamed(["outer \"\u{1}": Dictionary(keys.map { ($0, [$0]) }, uniquingKeysWith: { $1 })])
        // Keys equal as Strings but not as bytes (é precomposed and decomposed) are left to the tree.
        try expectFallBack(Equivalent())
    }

    @Test("numbers at their limits, empty collections and nil optionals")
    func edges() throws {
        try expectStreamed([Int.min, Int.max, 0, -1, -9_007_199_254_740_993])
        try expectStreamed(Edges(int8: .min, int64: .min, uint32: .max, uint64: UInt64(Int.max), float: 0.1))
        try expectStreamed(Edges(int8: .max, int64: .max, uint32: 0, uint64: 0, float: -3, double: 1e-7, text: nil, list: [], map: [:]))
        try expectStreamed(Edges(int8: 0, int64: 0, uint32: 0, uint64: 0, float: 1.5, double: -0.0, text: "", list: [[], [nil, "x"]], map: ["": [:]]))
        for number in awkwardDoubles { try expectStreamed(["n": number, "m": -number]) }
        try expectStreamed([String: [Int]]())
        try expectStreamed([[String]]())
        try expectStreamed(Data([0, 1, 2, 250, 255]))
    }

    @Test("a key written twice keeps its last value, and an object reopened continues")
    func repeatsAndReopening() throws {
        try expectStreamed(Repeated())
        try expectStreamed(["k": Repeated()])
        try expectStreamed(Reopened(count: 3))
        try expectStreamed([Silent2(), Silent2()])
    }

    @Test("what leaves the streaming shape falls back to the tree, with JSONEncoder's bytes")
    func fallBacks() throws {
        try expectFallBack(Interleaved())
        try expectFallBack(SuperEncoded())
        #expect(JSONStreamEncoder.write([UInt64.max]) == nil)
        #expect(throws: EncodingError.self) { try JSONValueEncoder.encodeBytes([UInt64.max]) }
        #expect(throws: EncodingError.self) { try JSONValueEncoder.encodeBytes(["x": Double.nan]) }
        #expect(throws: EncodingError.self) { try JSONValueEncoder.encodeBytes(Silent2()) }
    }

    @Test("random values through keyed, unkeyed, nested and single value containers")
    func randomShapes() throws {
        var random = SeededGenerator(state: 0x5743_EA11)
        for _ in 0..<400 {
            try expectStreamed(Dynamic(value: randomValue(&random), nests: Bool.random(using: &random)))
        }
    }

    @Test("one member of the root object")
    func members() throws {
        let run = fullRun
        let steps = try JSONValueEncoder.encodeBytes(run.steps)
        #expect(try JSONValueEncoder.encodeMemberBytes("steps", of: run) == steps)
        #expect(try JSONValueEncoder.encodeMemberBytes("usage", of: run) == (try JSONValueEncoder.encodeBytes(run.usage)))
        #expect(try JSONValueEncoder.encodeMemberBytes("nothing", of: run) == nil)
        #expect(try JSONValueEncoder.encodeMemberBytes("x", of: [1, 2]) == nil)
        // Through the tree too, for values the streaming encoder leaves.
        #expect(try JSONValueEncoder.encodeMemberBytes("inner", of: Interleaved()) == Array(#"{"a":1,"b":2}"#.utf8))
    }
}

/// Fixed-width integers, a Float, optionals that may be nil, and collections that may be empty.
private struct Edges: Encodable {
    var int8: Int8
    var int64: Int64
    var uint32: UInt32
    var uint64: UInt64
    var float: Float
    var double: Double?
    var text: String?
    var list: [[String?]]?
    var map: [String: [String: Int]]?
}

/// Writes keys out of order and one twice.
private struct Repeated: Encodable {
    enum Keys: String, CodingKey { case b, a, c }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode("first", forKey: .b)
        try container.encode(1, forKey: .c)
        try container.encode([1, 2], forKey: .a)
        try container.encode("last", forKey: .b)
    }
}

/// Asks for its keyed container again after nesting values.
private struct Reopened: Encodable {
    var count: Int
    enum Keys: String, CodingKey { case list, count, name }

    func encode(to encoder: Encoder) throws {
        var first = encoder.container(keyedBy: Keys.self)
        try first.encode(Array(repeating: Repeated(), count: count), forKey: .list)
        var list = first.nestedUnkeyedContainer(forKey: .name)
        try list.encode("n")
        var again = encoder.container(keyedBy: Keys.self)
        try again.encode(count, forKey: .count)
    }
}

/// Writes two keys equal as Strings: é precomposed and decomposed.
private struct Equivalent: Encodable {
    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: AnyKey.self)
        try container.encode(1, forKey: AnyKey(stringValue: "\u{E9}"))
        try container.encode(2, forKey: AnyKey(stringValue: "f"))
        try container.encode(3, forKey: AnyKey(stringValue: "e\u{301}"))
    }
}

/// Encodes nothing: `{}` when nested.
private struct Silent2: Encodable {
    func encode(to encoder: Encoder) throws {}
}

/// Writes into a nested container after its parent wrote again (JSONEncoder allows it).
private struct Interleaved: Encodable {
    enum Keys: String, CodingKey { case inner, z, a, b }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        var inner = container.nestedContainer(keyedBy: Keys.self, forKey: .inner)
        try inner.encode(1, forKey: .a)
        try container.encode(3, forKey: .z)
        try inner.encode(2, forKey: .b)
    }
}

/// Uses a super encoder.
private struct SuperEncoded: Encodable {
    enum Keys: String, CodingKey { case own }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(1, forKey: .own)
        try [2, 3].encode(to: container.superEncoder())
    }
}

/// Any key.
private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// A JSON value written through containers rather than as a `JSONValue`: objects as keyed containers
/// (their members as nested containers when `nests`), arrays as unkeyed ones, scalars as single values.
private struct Dynamic: Encodable {
    var value: JSONValue
    var nests: Bool

    func encode(to encoder: Encoder) throws {
        switch value {
        case .object(let members):
            var container = encoder.container(keyedBy: AnyKey.self)
            for (key, member) in members {
                if nests, case .array(let items) = member {
                    var nested = container.nestedUnkeyedContainer(forKey: AnyKey(stringValue: key))
                    for item in items { try nested.encode(Dynamic(value: item, nests: nests)) }
                } else {
                    try container.encode(Dynamic(value: member, nests: nests), forKey: AnyKey(stringValue: key))
                }
            }
        case .array(let items):
            var container = encoder.unkeyedContainer()
            for item in items {
                if nests, case .object(let members) = item {
                    var nested = container.nestedContainer(keyedBy: AnyKey.self)
                    for (key, member) in members { try nested.encode(Dynamic(value: member, nests: nests), forKey: AnyKey(stringValue: key)) }
                } else {
                    try container.encode(Dynamic(value: item, nests: nests))
                }
            }
        case .null:
            var container = encoder.singleValueContainer()
            try container.encodeNil()
        case .bool(let flag):
            var container = encoder.singleValueContainer()
            try container.encode(flag)
        case .int(let number):
            var container = encoder.singleValueContainer()
            try container.encode(number)
        case .double(let number):
            var container = encoder.singleValueContainer()
            try container.encode(number)
        case .string(let text):
            var container = encoder.singleValueContainer()
            try container.encode(text)
        }
    }
}
