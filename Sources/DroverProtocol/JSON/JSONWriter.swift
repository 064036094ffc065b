/// Writes JSON text directly into bytes, for the hot paths where `JSONEncoder` costs too much.
///
/// The output is byte-identical to `JSONCoding.makeEncoder()`'s: keys sorted by their UTF-8 bytes,
/// `\b \t \n \f \r \" \\` as short escapes and other control characters as `\u00xx`, slashes and
/// non-ASCII written as they are, doubles as Swift's shortest `description` without a trailing `.0`.
public enum JSONWriter {
    /// Appends `text` as a JSON string literal (quoted and escaped).
    public static func appendString(_ text: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        appendEscaped(text, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends `text` escaped as inside a JSON string literal, without the quotes (for a string whose
    /// fixed parts around it are written as one literal).
    public static func appendEscaped(_ text: String, to bytes: inout [UInt8]) {
        var text = text
        text.withUTF8 { appendEscaped(utf8: $0, to: &bytes) }
    }

    /// `appendEscaped(_:to:)` of text given as its UTF-8 bytes.
    public static func appendEscaped(utf8: UnsafeBufferPointer<UInt8>, to bytes: inout [UInt8]) {
        // Copy runs of bytes that need no escape in one go.
        var start = 0
        for index in 0..<utf8.count {
            let byte = utf8[index]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            if start < index { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index])) }
            appendEscape(byte, to: &bytes)
            start = index + 1
        }
        if start < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...])) }
    }

    private static func appendEscape(_ byte: UInt8, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\\"))
        switch byte {
        case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\""))
        case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
        case 0x08: bytes.append(UInt8(ascii: "b"))
        case 0x09: bytes.append(UInt8(ascii: "t"))
        case 0x0A: bytes.append(UInt8(ascii: "n"))
        case 0x0C: bytes.append(UInt8(ascii: "f"))
        case 0x0D: bytes.append(UInt8(ascii: "r"))
        default:
            let hex: StaticString = "0123456789abcdef"
            appendLiteral("u00", to: &bytes)
            bytes.append(hex.utf8Start[Int(byte >> 4)])
            bytes.append(hex.utf8Start[Int(byte & 0xF)])
        }
    }

    /// Appends a literal's UTF-8 bytes in one copy (appending a `String`'s `utf8` view goes byte by byte
    /// through the string's storage; these are the fixed parts of every answer's JSON and framing).
    @inlinable
    public static func appendLiteral(_ text: StaticString, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends `number` in decimal, as `String(number)` would, without making that string (ids and
    /// error codes are written once per answer).
    public static func appendInteger(_ number: Int, to bytes: inout [UInt8]) {
        // The magnitude as unsigned, so that Int.min has one too; digits fill a stack buffer from its end.
        var rest = number.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var start = digits.count
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest % 10)
                rest /= 10
            } while rest > 0
            if number < 0 { bytes.append(UInt8(ascii: "-")) }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start...]))
        }
    }

    /// Appends a double as JSONEncoder writes it (`1` not `1.0`, `1e-07`, `1e+300`); non-finite as `null`.
    public static func appendDouble(_ number: Double, to bytes: inout [UInt8]) {
        guard number.isFinite else { return appendLiteral("null", to: &bytes) }
        var text = number.description
        // Without its trailing `.0`, cut from the bytes (removing it from the String walks graphemes).
        text.withUTF8 { utf8 in
            let whole = utf8.count >= 2 && utf8[utf8.count - 2] == UInt8(ascii: ".") && utf8[utf8.count - 1] == UInt8(ascii: "0")
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[..<(whole ? utf8.count - 2 : utf8.count)]))
        }
    }

    /// Appends `value` as JSON (object keys sorted, as the wire encoder does).
    public static func append(_ value: JSONValue, to bytes: inout [UInt8]) {
        switch value {
        case .null: appendLiteral("null", to: &bytes)
        case .bool(let flag): bytes.append(contentsOf: (flag ? "true" : "false").utf8)
        case .int(let number): appendInteger(number, to: &bytes)
        case .double(let number): appendDouble(number, to: &bytes)
        case .string(let text): appendString(text, to: &bytes)
        case .array(let items):
            bytes.append(UInt8(ascii: "["))
            var first = true
            for item in items {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                append(item, to: &bytes)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            var first = true
            // By UTF-8 bytes, like JSONEncoder: `String.<` would order canonically equivalent forms (e + ◌́ vs é) differently.
            for (key, member) in members.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                appendString(key, to: &bytes)
                bytes.append(UInt8(ascii: ":"))
                append(member, to: &bytes)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }
}

extension ResponseError {
    /// The error object as JSON bytes, written without `JSONEncoder`.
    public var jsonBytes: [UInt8] {
        var bytes: [UInt8] = []
        appendJSON(to: &bytes)
        return bytes
    }

    /// Appends the error object's JSON to `bytes` (no intermediate arrays: errors are a hot path).
    public func appendJSON(to bytes: inout [UInt8]) {
        JSONWriter.appendLiteral(#"{"code":"#, to: &bytes)
        JSONWriter.appendInteger(code.rawValue, to: &bytes)
        if let data {
            JSONWriter.appendLiteral(#","data":"#, to: &bytes)
            JSONWriter.append(data, to: &bytes)
        }
        JSONWriter.appendLiteral(#","message":"#, to: &bytes)
        JSONWriter.appendString(message, to: &bytes)
        bytes.append(UInt8(ascii: "}"))
    }
}
