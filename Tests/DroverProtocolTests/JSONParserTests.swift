import DroverProtocol
import Foundation
import Testing

private func parse(_ text: String, _ parser: JSONParser = JSONParser()) throws(JSONParseError) -> JSONValue {
    try parser.parse(Array(text.utf8))
}

private func parseError(_ bytes: [UInt8], _ parser: JSONParser = JSONParser()) -> JSONParseError? {
    do {
        _ = try parser.parse(bytes)
        return nil
    } catch {
        return error
    }
}

@Suite("JSONParser")
struct JSONParserTests {
    struct Valid: Sendable, CustomTestStringConvertible {
        let text: String
        let expected: JSONValue
        var testDescription: String { text }
    }

    @Test("valid documents", arguments: [
        Valid(text: "null", expected: .null),
        Valid(text: "true", expected: .bool(true)),
        Valid(text: " \t\r\nfalse \n", expected: .bool(false)),
        Valid(text: "0", expected: .int(0)),
        Valid(text: "-0", expected: .int(0)),
        Valid(text: "-0.0", expected: .double(-0.0)),
        Valid(text: "42", expected: .int(42)),
        Valid(text: "-17", expected: .int(-17)),
        Valid(text: "9223372036854775807", expected: .int(Int.max)),
        Valid(text: "-9223372036854775808", expected: .int(Int.min)),
        Valid(text: "9223372036854775808", expected: .double(9223372036854775808.0)),
        Valid(text: "-9223372036854775809", expected: .double(-9223372036854775809.0)),
        Valid(text: "123456789012345678901234567890", expected: .double(1.2345678901234568e29)),
        Valid(text: "1.0", expected: .double(1)),
        Valid(text: "1e5", expected: .double(100_000)),
        Valid(text: "1E+2", expected: .double(100)),
        Valid(text: "2.5e-3", expected: .double(0.0025)),
        Valid(text: "1.5e300", expected: .double(1.5e300)),
        Valid(text: "-1.5e300", expected: .double(-1.5e300)),
        Valid(text: "1e-400", expected: .double(0)),
        Valid(text: "0.1", expected: .double(0.1)),
        Valid(text: #""""#, expected: .string("")),
        Valid(text: #""plain""#, expected: .string("plain")),
        Valid(text: #""\"\\\/\b\f\n\r\t""#, expected: .string("\"\\/\u{08}\u{0C}\n\r\t")),
        Valid(text: #""\u0000\u001f\u0041\u00e9\u00E9\u4e2d""#, expected: .string("\u{0}\u{1F}Aéé中")),
        Valid(text: #""\ud83d\udc11 and \uD834\uDD1E""#, expected: .string("🐑 and 𝄞")),
        Valid(text: "\"é ü 中文 🐑\"", expected: .string("é ü 中文 🐑")),
        Valid(text: "\"a\\nb é\\u00e9 🐑\"", expected: .string("a\nb éé 🐑")),
        Valid(text: "\"\u{7F}\"", expected: .string("\u{7F}")),
        Valid(text: "[]", expected: .array([])),
        Valid(text: "[ ]", expected: .array([])),
        Valid(text: "{}", expected: .object([:])),
        Valid(text: " { } ", expected: .object([:])),
        Valid(text: #"[1, "a", null, true, [false], {"k": 2.5}]"#,
              expected: .array([.int(1), .string("a"), .null, .bool(true), .array([.bool(false)]), .object(["k": .double(2.5)])])),
        Valid(text: #"{"a":{"b":{"c":[]}},"":0}"#, expected: .object(["a": .object(["b": .object(["c": .array([])])]), "": .int(0)])),
        Valid(text: #"{"k":1,"k":2}"#, expected: .object(["k": .int(2)])),
        Valid(text: #"{"\u006b":1}"#, expected: .object(["k": .int(1)])),
    ])
    func valid(_ testCase: Valid) throws {
        #expect(try parse(testCase.text) == testCase.expected)
    }

    struct Invalid: Sendable, CustomTestStringConvertible {
        let text: String
        let kind: JSONParseError.Kind
        /// Where the error must point.
        var offset: Int? = nil
        var testDescription: String { text }
    }

    @Test("invalid documents", arguments: [
        Invalid(text: "", kind: .unexpectedEnd, offset: 0),
        Invalid(text: "   ", kind: .unexpectedEnd, offset: 3),
        Invalid(text: "nul", kind: .unexpectedEnd),
        Invalid(text: "nulx", kind: .syntax, offset: 3),
        Invalid(text: "True", kind: .syntax, offset: 0),
        Invalid(text: "[1,]", kind: .syntax, offset: 3),
        Invalid(text: #"{"a":1,}"#, kind: .syntax, offset: 7),
        Invalid(text: "[1 2]", kind: .syntax, offset: 3),
        Invalid(text: "[1", kind: .unexpectedEnd),
        Invalid(text: #"{"a" 1}"#, kind: .syntax, offset: 5),
        Invalid(text: "{a:1}", kind: .syntax, offset: 1),
        Invalid(text: "{1:1}", kind: .syntax, offset: 1),
        Invalid(text: "{\"a\":1", kind: .unexpectedEnd),
        Invalid(text: "{]", kind: .syntax, offset: 1),
        Invalid(text: "[}", kind: .syntax, offset: 1),
        Invalid(text: "[1] x", kind: .syntax, offset: 4),
        Invalid(text: "1 2", kind: .syntax, offset: 2),
        Invalid(text: "{} {}", kind: .syntax, offset: 3),
        Invalid(text: "01", kind: .syntax, offset: 0),
        Invalid(text: "-01", kind: .syntax, offset: 0),
        Invalid(text: "+1", kind: .syntax, offset: 0),
        Invalid(text: ".5", kind: .syntax, offset: 0),
        Invalid(text: "1.", kind: .unexpectedEnd),
        Invalid(text: "1.e5", kind: .syntax, offset: 2),
        Invalid(text: "1e", kind: .unexpectedEnd),
        Invalid(text: "1e+", kind: .unexpectedEnd),
        Invalid(text: "-", kind: .unexpectedEnd),
        Invalid(text: "-a", kind: .syntax, offset: 1),
        Invalid(text: "0x10", kind: .syntax, offset: 1),
        Invalid(text: "NaN", kind: .syntax, offset: 0),
        Invalid(text: "Infinity", kind: .syntax, offset: 0),
        Invalid(text: "1e400", kind: .numberOutOfRange, offset: 0),
        Invalid(text: "[0, -1e400]", kind: .numberOutOfRange, offset: 4),
        Invalid(text: #""abc"#, kind: .unexpectedEnd, offset: 0),
        Invalid(text: #""a\"#, kind: .unexpectedEnd),
        Invalid(text: #""\x""#, kind: .syntax, offset: 1),
        Invalid(text: #""\u12""#, kind: .syntax, offset: 1),
        Invalid(text: #""\u12G4""#, kind: .syntax, offset: 1),
        Invalid(text: #""\ud800""#, kind: .syntax, offset: 1),
        Invalid(text: #""\ud800x""#, kind: .syntax, offset: 1),
        Invalid(text: #""\ud800\u0041""#, kind: .syntax, offset: 7),
        Invalid(text: #""\ud800\ud800""#, kind: .syntax, offset: 7),
        Invalid(text: #""\udc00""#, kind: .syntax, offset: 1),
        Invalid(text: #""x\udfff\ud800""#, kind: .syntax, offset: 2),
        Invalid(text: "\"tab\there\"", kind: .syntax, offset: 4),
        Invalid(text: "\"new\nline\"", kind: .syntax, offset: 4),
        Invalid(text: "\"nul\u{0}\"", kind: .syntax, offset: 4),
        Invalid(text: "'single'", kind: .syntax, offset: 0),
        Invalid(text: "[1]\u{0}", kind: .syntax, offset: 3),
        Invalid(text: "\u{FEFF}{}", kind: .syntax, offset: 0),
        Invalid(text: "/* comment */ {}", kind: .syntax, offset: 0),
    ])
    func invalid(_ testCase: Invalid) {
        guard let error = parseError(Array(testCase.text.utf8)) else {
            Issue.record("parsed")
            return
        }
        #expect(error.kind == testCase.kind, "\(error)")
        if let offset = testCase.offset { #expect(error.offset == offset, "\(error)") }
        #expect(error.description.hasSuffix("at byte \(error.offset)"))
    }

    @Test("an out-of-range number is ±infinity when allowed")
    func outOfRangeAllowed() throws {
        let parser = JSONParser(allowsOutOfRangeNumbers: true)
        #expect(try parse("[1e400, -1E+999]", parser) == .array([.double(.infinity), .double(-.infinity)]))
        #expect(try parse("1.5e300", parser) == .double(1.5e300))
    }

    @Test("invalid UTF-8 is an error, in strings and outside them", arguments: [
        [0xFF], [0xC3, 0x28], [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF],
        [0xF0, 0x80, 0x80, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80],
        [0xE2, 0x82], [0xE2, 0x82, 0x41], [0x80], [0xBF], [0xF0, 0x9F, 0x90],
    ] as [[UInt8]])
    func invalidUTF8(_ sequence: [UInt8]) {
        let inString = Array(#"{"a":"x"#.utf8) + sequence + Array(#"y"}"#.utf8)
        #expect(parseError(inString)?.kind == .invalidUTF8)
        #expect(parseError(inString)?.offset == 7)
        #expect(parseError(Array("[1,".utf8) + sequence + Array("]".utf8))?.kind == .syntax)
        #expect(parseError(Array(#"{"k"#.utf8) + sequence + Array(#"":1}"#.utf8))?.kind == .invalidUTF8)
    }

    @Test("valid UTF-8 of every length, at the edges of the ranges")
    func validUTF8() throws {
        let text = "\u{80}\u{7FF}\u{800}\u{D7FF}\u{E000}\u{FFFF}\u{10000}\u{10FFFF}"
        #expect(try parse("\"\(text)\"") == .string(text))
        #expect(try parse("\"\(text)\\n\(text)\"") == .string(text + "\n" + text))
    }

    @Test("nesting up to the limit parses; one more is an error, never a stack overflow")
    func depthLimit() throws {
        let deepest = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        #expect(throws: Never.self) { try parse(deepest) }
        let tooDeep = String(repeating: "[", count: 513) + String(repeating: "]", count: 513)
        #expect(parseError(Array(tooDeep.utf8))?.kind == .tooDeep)
        #expect(parseError(Array(tooDeep.utf8))?.offset == 512)
        let objects = String(repeating: #"{"a":"#, count: 513) + "1" + String(repeating: "}", count: 513)
        #expect(parseError(Array(objects.utf8))?.kind == .tooDeep)
        for text in [String(repeating: "[", count: 10_000), String(repeating: #"{"a":"#, count: 10_000),
                     String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)] {
            #expect(parseError(Array(text.utf8))?.kind == .tooDeep)
        }
        #expect(throws: Never.self) { try parse("[[[1]]]", JSONParser(maxDepth: 3)) }
        #expect(parseError(Array("[[[[1]]]]".utf8), JSONParser(maxDepth: 3))?.kind == .tooDeep)
    }

    @Test("long strings, with and without escapes, and many members")
    func large() throws {
        let long = String(repeating: "abc é 🐑 ", count: 10_000)
        #expect(try parse("\"\(long)\"") == .string(long))
        let escaped = String(repeating: "\\\"x\\u00e9", count: 10_000)
        #expect(try parse("\"\(escaped)\"") == .string(String(repeating: "\"xé", count: 10_000)))
        let members = (0..<2_000).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        #expect(try parse("{\(members)}").objectValue?.count == 2_000)
    }

    // MARK: Against JSONSerialization

    /// A random document as text, with random whitespace, escapes and number spellings.
    private struct DocumentWriter {
        var rng: SeededGenerator

        mutating func whitespace() -> String {
            guard Int.random(in: 0..<4, using: &rng) == 0 else { return "" }
            return String((0..<Int.random(in: 1...3, using: &rng)).map { _ in [" ", "\n", "\t", "\r"].randomElement(using: &rng)! })
        }

        mutating func string() -> String {
            let pieces = ["a", "Z", "0", " ", "é", "中", "🐑", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t",
                          "\\u0000", "\\u001F", "\\u00e9", "\\uFFFF", "\\ud83d\\udc11", "\\uDBFF\\uDFFF", "~", "\u{7F}"]
            let count = Int.random(in: 0...6, using: &rng)
            return "\"" + (0..<count).map { _ in pieces.randomElement(using: &rng)! }.joined() + "\""
        }

        mutating func number() -> String {
            switch Int.random(in: 0..<8, using: &rng) {
            case 0: return String(Int.random(in: -1000...1000, using: &rng))
            case 1: return String(Int.random(in: Int.min...Int.max, using: &rng))
            case 2: return ["0", "-0", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
                            "18446744073709551615", "1e5", "1E-5", "-0.0", "1.5e300", "1e-400", "0.1"].randomElement(using: &rng)!
            case 3: return String(Double.random(in: -1e6...1e6, using: &rng))
            case 4: return "\(Int.random(in: -99...99, using: &rng)).\(Int.random(in: 0...999, using: &rng))e\(Int.random(in: -300...300, using: &rng))"
            default: return String(Int.random(in: 0...99, using: &rng))
            }
        }

        mutating func value(depth: Int) -> String {
            let roll = Int.random(in: 0..<(depth > 5 ? 6 : 10), using: &rng)
            switch roll {
            case 0: return "null"
            case 1: return Bool.random(using: &rng) ? "true" : "false"
            case 2, 3: return number()
            case 4, 5: return string()
            case 6, 7:
                let count = Int.random(in: 0...5, using: &rng)
                let elements = (0..<count).map { _ in whitespace() + value(depth: depth + 1) + whitespace() }
                return "[" + (elements.isEmpty ? whitespace() : elements.joined(separator: ",")) + "]"
            default:
                let count = Int.random(in: 0...5, using: &rng)
                let members = (0..<count).map { _ in
                    whitespace() + string() + whitespace() + ":" + whitespace() + value(depth: depth + 1) + whitespace()
                }
                return "{" + (members.isEmpty ? whitespace() : members.joined(separator: ",")) + "}"
            }
        }
    }

    /// Where a JSONSerialization result differs from ours (numbers compared as Double), nil if nowhere.
    private static func difference(_ value: JSONValue, _ other: Any, at path: String = "$") -> String? {
        let same: Bool
        switch value {
        case .null: same = other is NSNull
        case .bool(let bool): same = (other as? Bool) == bool
        case .int(let int): same = (other as? NSNumber)?.int64Value == Int64(int) || close(number(other), Double(int))
        case .double(let double): same = close(number(other), double)
        case .string(let string): same = (other as? String) == string
        case .array(let elements):
            guard let others = other as? [Any], others.count == elements.count else { return "\(path): \(value) vs \(other)" }
            for (offset, (element, otherElement)) in zip(elements, others).enumerated() {
                if let found = difference(element, otherElement, at: "\(path)[\(offset)]") { return found }
            }
            return nil
        case .object(let members):
            guard let others = other as? [String: Any], others.count == members.count else { return "\(path): \(value) vs \(other)" }
            for (key, member) in members {
                guard let otherMember = others[key] else { return "\(path): no \(key.debugDescription) in \(other)" }
                if let found = difference(member, otherMember, at: "\(path).\(key.debugDescription)") { return found }
            }
            return nil
        }
        return same ? nil : "\(path): \(value) vs \(other) (\(type(of: other)))"
    }

    /// Equal, or an ulp or so apart: JSONSerialization's conversion is sometimes off, Double(String) is not.
    private static func close(_ other: Double?, _ double: Double) -> Bool {
        guard let other else { return false }
        return other == double || abs(other - double) <= max(abs(other), abs(double)) * 4 * .ulpOfOne
    }

    /// A number from JSONSerialization, which hands out Swift numbers or NSNumbers depending on the platform.
    private static func number(_ other: Any) -> Double? {
        if let number = other as? NSNumber { return number.doubleValue }
        if let int = other as? Int { return Double(int) }
        if let int = other as? UInt64 { return Double(int) }
        return other as? Double
    }

    @Test("random documents parse to what JSONSerialization reads")
    func randomDocuments() throws {
        var writer = DocumentWriter(rng: SeededGenerator(state: 0x5EED_0001))
        for index in 0..<400 {
            let text = writer.whitespace() + writer.value(depth: 0) + writer.whitespace()
            let data = Data(text.utf8)
            let theirs = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            let ours = try? parse(text)
            guard let ours, let theirs else {
                Issue.record("document \(index): ours \(ours.map { "\($0)" } ?? "failed"), JSONSerialization \(theirs.map { "\($0)" } ?? "failed"): \(text)")
                continue
            }
            let difference = Self.difference(ours, theirs)
            #expect(difference == nil, "document \(index): \(text.debugDescription)")
        }
    }

    @Test("damaged random documents: both parse to the same value or both fail")
    func damagedDocuments() {
        var writer = DocumentWriter(rng: SeededGenerator(state: 0x5EED_0002))
        var rng = SeededGenerator(state: 0x5EED_0003)
        let insertions: [UInt8] = Array(#"[]{}",:.-+eE0 1\u"#.utf8) + [0x00, 0x0A, 0x7F, 0x80, 0xC3, 0xFF]
        var bothParsed = 0
        for index in 0..<600 {
            var bytes = Array(writer.value(depth: 0).utf8)
            let position = Int.random(in: 0...bytes.count, using: &rng)
            switch Int.random(in: 0..<3, using: &rng) {
            case 0 where position < bytes.count: bytes.remove(at: position)
            case 1 where position < bytes.count: bytes[position] = insertions.randomElement(using: &rng)!
            default: bytes.insert(insertions.randomElement(using: &rng)!, at: position)
            }
            let theirs = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
            let ours = try? JSONParser().parse(bytes)
            let text = String(decoding: bytes, as: UTF8.self)
            switch (ours, theirs) {
            case (let ours?, let theirs?):
                bothParsed += 1
                let difference = Self.difference(ours, theirs)
            #expect(difference == nil, "document \(index): \(text.debugDescription)")
            case (nil, nil):
                break
            case (nil, _?):
                // JSONSerialization accepts a trailing comma (`[1,]`), and reads text starting with a NUL
                // as UTF-16 or UTF-32; RFC 8259 wants neither.
                let trailingComma = text.range(of: #",\s*[\]}]"#, options: .regularExpression) != nil
                let otherEncoding = bytes.prefix(2).contains(0)
                #expect(trailingComma || otherEncoding, "document \(index): only JSONSerialization parsed it: \(text.debugDescription)")
            case (_?, nil):
                Issue.record("document \(index): only JSONParser parsed it: \(text.debugDescription)")
            }
        }
        #expect(bothParsed > 50)
    }
}
