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
        try walkObject(depth: depth, name: { (reader) throws(JSONParseError) in try reader.string() }) { (reader, key) throws(JSONParseError) in
            switch key {
            case "jsonrpc": envelope.jsonrpc = try reader.value(depth: depth)
            case "id": envelope.id = try reader.value(depth: depth)
            case "method": envelope.method = try reader.value(depth: depth)
            case "params":
                let start = reader.index
                try reader.skipValue(depth: depth)
                envelope.params = start..<reader.index
            case "result", "error":
                try reader.skipValue(depth: depth)
                envelope.hasResultOrError = true
            default:
                try reader.skipValue(depth: depth)
            }
        }
        return envelope
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
