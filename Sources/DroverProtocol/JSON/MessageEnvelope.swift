/// The members of one JSON-RPC message that `MessageDecoder` classifies it by: `jsonrpc`, `id` and
/// `method` as values, `params` as where it was written, `result`/`error` as present or not. Every
/// other part of the message is checked (`JSONReader.skipValue`) but not built, so a request's params
/// cost no tree until a handler decodes them. Duplicate members: the last one wins, as in `JSONParser`.
struct MessageEnvelope {
    var jsonrpc: JSONValue?
    var id: JSONValue?
    var method: JSONValue?
    /// The bytes of `params` in the message's text (its value, from its first byte to its last).
    var params: Range<Int>?
    var hasResultOrError = false
}

/// A member name of a message, as `MessageEnvelope` sorts it.
enum EnvelopeKey {
    case jsonrpc, id, method, params, resultOrError, other

    /// The member named by `name` (UTF-8, unescaped).
    init(_ name: UnsafeBufferPointer<UInt8>) {
        func named(_ literal: StaticString) -> Bool {
            name.elementsEqual(UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
        }
        switch name.count {
        case 2 where named("id"): self = .id
        case 5 where named("error"): self = .resultOrError
        case 6 where named("method"): self = .method
        case 6 where named("params"): self = .params
        case 6 where named("result"): self = .resultOrError
        case 7 where named("jsonrpc"): self = .jsonrpc
        default: self = .other
        }
    }
}

/// What a JSON text holds at the top, read as JSON-RPC: one message, a batch (nil for an element that
/// is not an object), or anything else.
enum EnvelopeText {
    case object(MessageEnvelope)
    case array([MessageEnvelope?])
    case other
}

extension JSONParser {
    /// Reads the envelopes of one JSON text and checks the rest of it: it throws exactly where, and
    /// what, `parse(_:)` would (the same reader, in the same order), so a message that `parse` refuses
    /// is refused with the same words.
    func envelopes(_ bytes: [UInt8]) throws(JSONParseError) -> EnvelopeText {
        try bytes.withUnsafeBufferPointer { (buffer) throws(JSONParseError) -> EnvelopeText in
            var reader = JSONReader(bytes: buffer, maxDepth: maxDepth, allowsOutOfRangeNumbers: allowsOutOfRangeNumbers)
            reader.skipWhitespace()
            let text: EnvelopeText
            switch reader.index < buffer.count ? buffer[reader.index] : 0 {
            case UInt8(ascii: "{"): text = .object(try reader.envelope(depth: 1))
            case UInt8(ascii: "["): text = .array(try reader.envelopes(depth: 1))
            default:
                try reader.skipValue(depth: 0)
                text = .other
            }
            reader.skipWhitespace()
            if reader.index < buffer.count {
                throw JSONParseError(.syntax, "unexpected data after the JSON value", at: reader.index)
            }
            return text
        }
    }

    /// Parses a slice of a message (its params, already checked by `envelopes`).
    func parse(_ slice: ArraySlice<UInt8>) throws(JSONParseError) -> JSONValue {
        try slice.withUnsafeBufferPointer { (buffer) throws(JSONParseError) -> JSONValue in try parse(buffer) }
    }
}

extension JSONReader {
    /// `object(depth:)` for a message: the envelope's members read, the others checked.
    mutating func envelope(depth: Int) throws(JSONParseError) -> MessageEnvelope {
        var envelope = MessageEnvelope()
        try walkObject(depth: depth, name: { (reader) throws(JSONParseError) in try reader.envelopeKey() }) { (reader, key) throws(JSONParseError) in
            switch key {
            case .jsonrpc: envelope.jsonrpc = try reader.versionValue(depth: depth)
            case .id: envelope.id = try reader.value(depth: depth)
            case .method: envelope.method = try reader.value(depth: depth)
            case .params:
                let start = reader.index
                try reader.skipValue(depth: depth)
                envelope.params = start..<reader.index
            case .resultOrError:
                try reader.skipValue(depth: depth)
                envelope.hasResultOrError = true
            case .other:
                try reader.skipValue(depth: depth)
            }
        }
        return envelope
    }

    /// Reads a member name (at its opening quote) as the envelope member it names. Compared as bytes
    /// when it has no escapes (every message has four or so: no String each); otherwise decoded, so
    /// `"\u006dethod"` is `method` too. Checked exactly as `string()` checks it.
    mutating func envelopeKey() throws(JSONParseError) -> EnvelopeKey {
        let opening = index
        try skipString()
        let name = UnsafeBufferPointer(rebasing: bytes[(opening + 1)..<(index - 1)])
        if !name.contains(UInt8(ascii: "\\")) { return EnvelopeKey(name) }
        index = opening
        var decoded = try string()
        return decoded.withUTF8 { EnvelopeKey($0) }
    }

    /// `value(depth:)` for `jsonrpc`, which nearly every message writes as `"2.0"`: those five bytes are
    /// taken as they are, without reading a string (anything else is read as any value is).
    mutating func versionValue(depth: Int) throws(JSONParseError) -> JSONValue {
        let quote = UInt8(ascii: "\"")
        if index + 5 <= bytes.count, bytes[index] == quote, bytes[index + 1] == UInt8(ascii: "2"),
           bytes[index + 2] == UInt8(ascii: "."), bytes[index + 3] == UInt8(ascii: "0"), bytes[index + 4] == quote {
            index += 5
            return .string("2.0")
        }
        return try value(depth: depth)
    }

    /// `array(depth:)` for a batch: each object element's envelope, nil for any other element.
    mutating func envelopes(depth: Int) throws(JSONParseError) -> [MessageEnvelope?] {
        var elements: [MessageEnvelope?] = []
        try walkArray(depth: depth) { (reader) throws(JSONParseError) in
            if reader.index < reader.bytes.count, reader.bytes[reader.index] == UInt8(ascii: "{") {
                elements.append(try reader.envelope(depth: depth + 1))
            } else {
                try reader.skipValue(depth: depth)
                elements.append(nil)
            }
        }
        return elements
    }
}
