/// The members of one JSON-RPC message that `MessageDecoder` classifies it by: `jsonrpc`, `id` and
/// `method` as what classifying needs of them, `params` as where it was written, `result`/`error` as
/// present or not. Every other part of the message is checked (`JSONReader.skipValue`) but not built, so
/// a request's params cost no tree until a handler decodes them. Duplicate members: the last one wins,
/// as in `JSONParser`. No `JSONValue` is kept: the envelope is copied while it is classified.
struct MessageEnvelope {
    /// `jsonrpc` is the string `"2.0"`.
    var isVersion2 = false
    var id: EnvelopeID = .absent
    var method: EnvelopeMethod = .absent
    /// The bytes of `params` in the message's text (its value, from its first byte to its last).
    var params: Range<Int>?
    var hasResultOrError = false
}

/// A message's `id` member as classifying sees it.
enum EnvelopeID {
    case absent, null, invalid
    case valid(RequestID)

    /// A number that is an integer (`1.0` and `1e3` too, as JSONDecoder reads them) or a string is an id.
    init(_ value: JSONValue) {
        switch value {
        case .null: self = .null
        case .int(let number): self = .valid(.int(number))
        case .double(let number): self = Int(exactly: number).map { .valid(.int($0)) } ?? .invalid
        case .string(let text): self = .valid(.string(text))
        default: self = .invalid
        }
    }
}

/// A message's `method` member as classifying sees it.
enum EnvelopeMethod {
    case absent, notString
    /// A name written with escapes, decoded.
    case name(String)
    /// The bytes of a name written without escapes (inside its quotes): it needs no String until
    /// someone asks for one (`IncomingMessage.method`).
    case bytes(Range<Int>)
}

/// A member name of a message, as `MessageEnvelope` sorts it.
enum EnvelopeKey {
    case jsonrpc, id, method, params, resultOrError, other

    /// The member named by `name` (UTF-8, unescaped). The names are at most 7 bytes: compared as one
    /// integer each, the name's bytes packed little-endian (a message has four or so of them).
    init(_ name: UnsafeBufferPointer<UInt8>) {
        guard name.count >= 2, name.count <= 7 else {
            self = .other
            return
        }
        var packed: UInt64 = 0
        for index in 0..<name.count { packed |= UInt64(name[index]) << (8 * index) }
        // "id", "error" and "result", "method", "params", "jsonrpc"; with the length, as a name may hold
        // a NUL byte ("id\u0000"), which packs as no byte would (`MessageEnvelopeTests` checks each name).
        switch (name.count, packed) {
        case (2, 0x6469): self = .id
        case (5, 0x72_6f72_7265), (6, 0x746c_7573_6572): self = .resultOrError
        case (6, 0x646f_6874_656d): self = .method
        case (6, 0x736d_6172_6170): self = .params
        case (7, 0x63_7072_6e6f_736a): self = .jsonrpc
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
            case .jsonrpc: envelope.isVersion2 = try reader.isVersion2(depth: depth)
            case .id: envelope.id = EnvelopeID(try reader.value(depth: depth))
            case .method:
                if let name = try reader.plainString() {
                    envelope.method = .bytes(name)
                } else if case .string(let text) = try reader.value(depth: depth) {
                    envelope.method = .name(text)
                } else {
                    envelope.method = .notString
                }
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

    /// At a string written without escapes: skips it, checked as `string()` checks it, and returns where
    /// its text is (inside the quotes). Anywhere else (another value, a string with escapes): nil, and
    /// the reader has not moved.
    mutating func plainString() throws(JSONParseError) -> Range<Int>? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        let opening = index
        try skipString()
        let text = (opening + 1)..<(index - 1)
        guard !UnsafeBufferPointer(rebasing: bytes[text]).contains(UInt8(ascii: "\\")) else {
            index = opening
            return nil
        }
        return text
    }

    /// Reads the value of `jsonrpc` (as `value(depth:)` would) and says whether it is the string `"2.0"`;
    /// nearly every message writes it so: those five bytes are taken as they are, without reading a string.
    mutating func isVersion2(depth: Int) throws(JSONParseError) -> Bool {
        let quote = UInt8(ascii: "\"")
        if index + 5 <= bytes.count, bytes[index] == quote, bytes[index + 1] == UInt8(ascii: "2"),
           bytes[index + 2] == UInt8(ascii: "."), bytes[index + 3] == UInt8(ascii: "0"), bytes[index + 4] == quote {
            index += 5
            return true
        }
        return try value(depth: depth).stringValue == "2.0"
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
