/// Why a JSON text could not be parsed, and where.
public struct JSONParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The text ended before the value did (or held nothing but whitespace).
        case unexpectedEnd
        /// Anything else that RFC 8259 does not allow.
        case syntax
        /// A string held bytes that are not UTF-8.
        case invalidUTF8
        /// Arrays and objects nested deeper than the parser's limit.
        case tooDeep
        /// A number beyond the range of Double.
        case numberOutOfRange
    }

    public var kind: Kind
    /// A few words on what was wrong.
    public var reason: String
    /// The offset of the offending byte in the input.
    public var offset: Int

    public init(_ kind: Kind, _ reason: String, at offset: Int) {
        self.kind = kind
        self.reason = reason
        self.offset = offset
    }

    public var description: String { "\(reason) at byte \(offset)" }
}

/// A strict RFC 8259 parser from UTF-8 bytes to `JSONValue`, in one pass, without Foundation.
///
/// - Numbers written without a fraction or exponent that fit `Int` become `.int`; every other number
///   becomes `.double` (so `1.0` and `1e5` are doubles: `JSONValueDecoder` still decodes them as `Int`).
/// - A number beyond Double's range (`1e400`) is an error, unless `allowsOutOfRangeNumbers` is set:
///   then it becomes `.double(±infinity)`, which `JSONValueDecoder` refuses when a field is decoded
///   from it (what Foundation's JSONDecoder does, since it only converts the numbers it decodes).
/// - Strings: every escape; `\uXXXX` surrogate pairs combine; a lone surrogate is an error (as in
///   JSONSerialization; the strings are meant to round-trip, and U+FFFD would hide the client's bug).
///   Invalid UTF-8 and unescaped control characters are errors.
/// - Duplicate object keys: the last one wins.
/// - Nesting deeper than `maxDepth` arrays/objects is an error (the recursion is bounded by it).
/// - Anything but whitespace after the value is an error.
public struct JSONParser: Sendable {
    /// How many arrays/objects may nest; 512 like Foundation's.
    public var maxDepth: Int
    /// Whether a number beyond Double's range parses as ±infinity instead of failing.
    public var allowsOutOfRangeNumbers: Bool

    public init(maxDepth: Int = 512, allowsOutOfRangeNumbers: Bool = false) {
        self.maxDepth = maxDepth
        self.allowsOutOfRangeNumbers = allowsOutOfRangeNumbers
    }

    /// Parses one JSON text (any value at the top, surrounded by optional whitespace).
    public func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (buffer) throws(JSONParseError) -> JSONValue in
            try parse(buffer)
        }
    }

    /// Parses one JSON text from a buffer of UTF-8 bytes.
    public func parse(_ buffer: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSONValue {
        var reader = JSONReader(bytes: buffer, maxDepth: maxDepth, allowsOutOfRangeNumbers: allowsOutOfRangeNumbers)
        reader.skipWhitespace()
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        if reader.index < buffer.count {
            throw JSONParseError(.syntax, "unexpected data after the JSON value", at: reader.index)
        }
        return value
    }

    /// The members of the JSON object that `buffer` holds as a whole JSON text, in order, each key with
    /// the byte range of its value; nil when the text is valid JSON but not an object. The text is
    /// checked exactly as `parse` checks it (the same reader), but no value is built: a caller that needs
    /// a few members (`drover serve` before the engine takes over) builds no `Dictionary`, whose first
    /// use in a process costs a scan of the runtime's conformance records. With duplicate keys, the last
    /// one is what `parse` keeps (`[JSONMember].value(_:)`).
    public func members(_ buffer: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> [JSONMember]? {
        var reader = JSONReader(bytes: buffer, maxDepth: maxDepth, allowsOutOfRangeNumbers: allowsOutOfRangeNumbers)
        reader.skipWhitespace()
        var members: [JSONMember]?
        if reader.index < buffer.count, buffer[reader.index] == ASCII.openBrace {
            members = try reader.members(depth: 1)
        } else {
            try reader.skipValue(depth: 0)
        }
        reader.skipWhitespace()
        if reader.index < buffer.count {
            throw JSONParseError(.syntax, "unexpected data after the JSON value", at: reader.index)
        }
        return members
    }
}

/// One member of a JSON object read by `JSONParser.members`: its key and where its value's text is.
public struct JSONMember: Sendable, Equatable {
    public let key: String
    /// The value's bytes, in the buffer that was read.
    public let value: Range<Int>
}

extension Array where Element == JSONMember {
    /// The range of the member named `key` that a parse keeps (the last), nil if there is none.
    public func value(_ key: String) -> Range<Int>? {
        last(where: { $0.key == key })?.value
    }
}

private enum ASCII {
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let comma = UInt8(ascii: ",")
    static let colon = UInt8(ascii: ":")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
    static let minus = UInt8(ascii: "-")
    static let plus = UInt8(ascii: "+")
    static let dot = UInt8(ascii: ".")
    static let zero = UInt8(ascii: "0")
    static let nine = UInt8(ascii: "9")
}

/// The parser's cursor over one JSON text: `JSONParser` builds values with it, `MessageEnvelope` reads a
/// message's envelope and only checks the rest (`skipValue`), by the same rules and with the same errors.
struct JSONReader {
    let bytes: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    let allowsOutOfRangeNumbers: Bool
    var index = 0
    /// Reused for strings with escapes.
    var scratch: [UInt8] = []

    init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int, allowsOutOfRangeNumbers: Bool) {
        self.bytes = bytes
        self.maxDepth = maxDepth
        self.allowsOutOfRangeNumbers = allowsOutOfRangeNumbers
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    func endError(_ what: String) -> JSONParseError {
        JSONParseError(.unexpectedEnd, "unexpected end of input in \(what)", at: index)
    }

    func unexpected(_ expected: String) -> JSONParseError {
        guard index < bytes.count else { return JSONParseError(.unexpectedEnd, "unexpected end of input, expected \(expected)", at: index) }
        let byte = bytes[index]
        let shown = byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16, uppercase: true))"
        return JSONParseError(.syntax, "unexpected \(shown), expected \(expected)", at: index)
    }

    mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
        guard index < bytes.count else { throw unexpected("a value") }
        switch bytes[index] {
        case ASCII.quote: return .string(try string())
        case ASCII.openBrace: return try object(depth: depth + 1)
        case ASCII.openBracket: return try array(depth: depth + 1)
        case ASCII.minus, ASCII.zero...ASCII.nine: return try number()
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: throw unexpected("a value")
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let start = index
        let count = word.utf8CodeUnitCount
        let text = UnsafeBufferPointer(start: word.utf8Start, count: count)
        for offset in 0..<count {
            guard index < bytes.count else { throw JSONParseError(.unexpectedEnd, "unexpected end of input in '\(word)'", at: start) }
            guard bytes[index] == text[offset] else { throw unexpected("'\(word)'") }
            index += 1
        }
    }

    mutating func array(depth: Int) throws(JSONParseError) -> JSONValue {
        var elements: [JSONValue] = []
        try walkArray(depth: depth) { (reader) throws(JSONParseError) in elements.append(try reader.value(depth: depth)) }
        return .array(elements)
    }

    mutating func object(depth: Int) throws(JSONParseError) -> JSONValue {
        var members: [String: JSONValue] = [:]
        try walkObject(depth: depth, name: { (reader) throws(JSONParseError) in try reader.string() }) { (reader, key) throws(JSONParseError) in
            // Room for a JSON-RPC message's members at once, instead of growing 1 → 3 → 6.
            if members.isEmpty { members.reserveCapacity(6) }
            members[key] = try reader.value(depth: depth)
        }
        return .object(members)
    }

    /// Steps through an array from its `[` past its `]`, `element` reading each element: the one walk
    /// behind `array`, `skipArray` and a batch's envelopes, so that all check an array alike.
    @inline(__always)
    mutating func walkArray(depth: Int, _ element: (inout JSONReader) throws(JSONParseError) -> Void) throws(JSONParseError) {
        guard depth <= maxDepth else { throw JSONParseError(.tooDeep, "arrays and objects nest deeper than \(maxDepth)", at: index) }
        index += 1  // [
        skipWhitespace()
        if index < bytes.count, bytes[index] == ASCII.closeBracket {
            index += 1
            return
        }
        while true {
            try element(&self)
            skipWhitespace()
            guard index < bytes.count else { throw endError("an array") }
            switch bytes[index] {
            case ASCII.comma:
                index += 1
                skipWhitespace()
            case ASCII.closeBracket:
                index += 1
                return
            default:
                throw unexpected("',' or ']'")
            }
        }
    }

    /// Steps through an object from its `{` past its `}`: `name` reads each member's name (at its
    /// quote), `value` its value (after the colon), given what `name` read. The one walk behind `object`,
    /// `skipObject`, `members` and a message's envelope, so that all check an object alike.
    @inline(__always)
    mutating func walkObject<Name>(depth: Int, name: (inout JSONReader) throws(JSONParseError) -> Name,
                                   _ value: (inout JSONReader, Name) throws(JSONParseError) -> Void) throws(JSONParseError) {
        guard depth <= maxDepth else { throw JSONParseError(.tooDeep, "arrays and objects nest deeper than \(maxDepth)", at: index) }
        index += 1  // {
        skipWhitespace()
        if index < bytes.count, bytes[index] == ASCII.closeBrace {
            index += 1
            return
        }
        while true {
            guard index < bytes.count, bytes[index] == ASCII.quote else { throw unexpected("a string key") }
            let key = try name(&self)
            skipWhitespace()
            guard index < bytes.count, bytes[index] == ASCII.colon else { throw unexpected("':'") }
            index += 1
            skipWhitespace()
            try value(&self, key)
            skipWhitespace()
            guard index < bytes.count else { throw endError("an object") }
            switch bytes[index] {
            case ASCII.comma:
                index += 1
                skipWhitespace()
            case ASCII.closeBrace:
                index += 1
                return
            default:
                throw unexpected("',' or '}'")
            }
        }
    }

    // MARK: Checking without building

    /// Checks one value at `index` by the rules of `value(depth:)`, failing with the same error where it
    /// would, but builds nothing: what a message's envelope does not read (its `params`) costs no allocation.
    mutating func skipValue(depth: Int) throws(JSONParseError) {
        guard index < bytes.count else { throw unexpected("a value") }
        switch bytes[index] {
        case ASCII.quote: try skipString()
        case ASCII.openBrace: try skipObject(depth: depth + 1)
        case ASCII.openBracket: try skipArray(depth: depth + 1)
        case ASCII.minus, ASCII.zero...ASCII.nine: _ = try number()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: throw unexpected("a value")
        }
    }

    /// `array(depth:)` without the array.
    mutating func skipArray(depth: Int) throws(JSONParseError) {
        try walkArray(depth: depth) { (reader) throws(JSONParseError) in try reader.skipValue(depth: depth) }
    }

    /// `object(depth:)` without the object.
    mutating func skipObject(depth: Int) throws(JSONParseError) {
        try walkObject(depth: depth, name: { (reader) throws(JSONParseError) in try reader.skipString() }) { (reader, _) throws(JSONParseError) in
            try reader.skipValue(depth: depth)
        }
    }

    /// `object(depth:)` as each member's key and the range of its value; the values checked, not built.
    mutating func members(depth: Int) throws(JSONParseError) -> [JSONMember] {
        var members: [JSONMember] = []
        try walkObject(depth: depth, name: { (reader) throws(JSONParseError) in try reader.string() }) { (reader, key) throws(JSONParseError) in
            let start = reader.index
            try reader.skipValue(depth: depth)
            members.append(JSONMember(key: key, value: start..<reader.index))
        }
        return members
    }

    /// `string()` without the string: the same checks, in the same order (escapes still go through
    /// `escape()`, into `scratch`, which is cleared per string).
    mutating func skipString() throws(JSONParseError) {
        let opening = index
        index += 1
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case ASCII.quote:
                index += 1
                return
            case ASCII.backslash:
                scratch.removeAll(keepingCapacity: true)
                try escape()
            case 0..<0x20:
                throw controlCharacter()
            case 0x20..<0x80:
                index += 1
            default:
                try skipUTF8Sequence()
            }
        }
        throw JSONParseError(.unexpectedEnd, "unexpected end of input in a string", at: opening)
    }

    // MARK: Strings

    /// Reads a string starting at its opening quote.
    mutating func string() throws(JSONParseError) -> String {
        let opening = index
        index += 1
        let start = index
        // Fast path: no escapes; ASCII is checked byte by byte, anything else is validated as UTF-8.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == ASCII.quote {
                let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                index += 1
                return text
            }
            if byte == ASCII.backslash { break }
            if byte < 0x20 { throw controlCharacter() }
            if byte < 0x80 { index += 1 } else { try skipUTF8Sequence() }
        }
        guard index < bytes.count else {
            throw JSONParseError(.unexpectedEnd, "unexpected end of input in a string", at: opening)
        }
        // Slow path: copy what was read so far, then unescape into the scratch buffer.
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case ASCII.quote:
                index += 1
                return String(decoding: scratch, as: UTF8.self)
            case ASCII.backslash:
                try escape()
            case 0..<0x20:
                throw controlCharacter()
            case 0x20..<0x80:
                scratch.append(byte)
                index += 1
            default:
                let sequenceStart = index
                try skipUTF8Sequence()
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[sequenceStart..<index]))
            }
        }
        throw JSONParseError(.unexpectedEnd, "unexpected end of input in a string", at: opening)
    }

    func controlCharacter() -> JSONParseError {
        JSONParseError(.syntax, "unescaped control character 0x\(String(bytes[index], radix: 16, uppercase: true)) in a string", at: index)
    }

    /// Reads one escape sequence (at its backslash) into `scratch`.
    mutating func escape() throws(JSONParseError) {
        let start = index
        index += 1
        guard index < bytes.count else { throw JSONParseError(.unexpectedEnd, "unexpected end of input in an escape", at: start) }
        let byte = bytes[index]
        index += 1
        switch byte {
        case ASCII.quote: scratch.append(ASCII.quote)
        case ASCII.backslash: scratch.append(ASCII.backslash)
        case UInt8(ascii: "/"): scratch.append(UInt8(ascii: "/"))
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            let unit = try hex4(escapeStart: start)
            var scalar: UInt32
            switch unit {
            case 0xD800...0xDBFF:
                guard index + 1 < bytes.count, bytes[index] == ASCII.backslash, bytes[index + 1] == UInt8(ascii: "u") else {
                    throw JSONParseError(.syntax, "a high surrogate escape must be followed by a low one", at: start)
                }
                let lowStart = index
                index += 2
                let low = try hex4(escapeStart: lowStart)
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw JSONParseError(.syntax, "a high surrogate escape must be followed by a low one", at: lowStart)
                }
                scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
            case 0xDC00...0xDFFF:
                throw JSONParseError(.syntax, "a low surrogate escape without a high one", at: start)
            default:
                scalar = UInt32(unit)
            }
            appendUTF8(scalar)
        default:
            throw JSONParseError(.syntax, "invalid escape sequence", at: start)
        }
    }

    mutating func hex4(escapeStart: Int) throws(JSONParseError) -> UInt16 {
        var unit: UInt16 = 0
        for _ in 0..<4 {
            guard index < bytes.count else { throw JSONParseError(.unexpectedEnd, "unexpected end of input in a \\u escape", at: escapeStart) }
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case ASCII.zero...ASCII.nine: digit = byte - ASCII.zero
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw JSONParseError(.syntax, "invalid \\u escape: expected 4 hex digits", at: escapeStart)
            }
            unit = unit << 4 | UInt16(digit)
            index += 1
        }
        return unit
    }

    mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case 0..<0x80:
            scratch.append(UInt8(scalar))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | scalar >> 6))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | scalar >> 12))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        default:
            scratch.append(UInt8(0xF0 | scalar >> 18))
            scratch.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// Steps over one well-formed multi-byte UTF-8 sequence (Unicode table 3-7) starting at `index`.
    mutating func skipUTF8Sequence() throws(JSONParseError) {
        let lead = bytes[index]
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF  // the range of the second byte
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: throw JSONParseError(.invalidUTF8, "invalid UTF-8", at: index)
        }
        guard index + length <= bytes.count else { throw JSONParseError(.invalidUTF8, "truncated UTF-8 sequence", at: index) }
        let second = bytes[index + 1]
        guard second >= low && second <= high else { throw JSONParseError(.invalidUTF8, "invalid UTF-8", at: index) }
        if length > 2 {
            for offset in 2..<length where bytes[index + offset] & 0xC0 != 0x80 {
                throw JSONParseError(.invalidUTF8, "invalid UTF-8", at: index)
            }
        }
        index += length
    }

    // MARK: Numbers

    mutating func number() throws(JSONParseError) -> JSONValue {
        let start = index
        let negative = bytes[index] == ASCII.minus
        if negative { index += 1 }
        guard index < bytes.count else { throw JSONParseError(.unexpectedEnd, "unexpected end of input in a number", at: start) }
        // Integer part, accumulated negatively so that Int.min fits.
        var accumulator = 0
        var overflow = false
        let first = bytes[index]
        guard first >= ASCII.zero && first <= ASCII.nine else { throw unexpected("a digit") }
        if first == ASCII.zero {
            index += 1
            if index < bytes.count, bytes[index] >= ASCII.zero && bytes[index] <= ASCII.nine {
                throw JSONParseError(.syntax, "a number cannot have a leading zero", at: start)
            }
        } else {
            while index < bytes.count, bytes[index] >= ASCII.zero && bytes[index] <= ASCII.nine {
                if !overflow {
                    let (times10, o1) = accumulator.multipliedReportingOverflow(by: 10)
                    let (next, o2) = times10.subtractingReportingOverflow(Int(bytes[index] - ASCII.zero))
                    if o1 || o2 { overflow = true } else { accumulator = next }
                }
                index += 1
            }
        }
        var isInteger = true
        if index < bytes.count, bytes[index] == ASCII.dot {
            isInteger = false
            index += 1
            try digits(numberStart: start)
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == ASCII.plus || bytes[index] == ASCII.minus { index += 1 }
            try digits(numberStart: start)
        }
        if isInteger && !overflow {
            if negative { return .int(accumulator) }
            if accumulator != Int.min { return .int(-accumulator) }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let value = Double(text) else {
            throw JSONParseError(.syntax, "invalid number", at: start)
        }
        if !value.isFinite && !allowsOutOfRangeNumbers {
            throw JSONParseError(.numberOutOfRange, "the number \(text) is too large", at: start)
        }
        return .double(value)
    }

    /// One or more digits (of a fraction or an exponent).
    mutating func digits(numberStart: Int) throws(JSONParseError) {
        guard index < bytes.count else { throw JSONParseError(.unexpectedEnd, "unexpected end of input in a number", at: numberStart) }
        guard bytes[index] >= ASCII.zero && bytes[index] <= ASCII.nine else { throw unexpected("a digit") }
        repeat { index += 1 } while index < bytes.count && bytes[index] >= ASCII.zero && bytes[index] <= ASCII.nine
    }
}
