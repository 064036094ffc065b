/// How messages are delimited on a byte stream.
public enum Framing: String, Sendable, CaseIterable {
    /// LSP base protocol: `Content-Length: N\r\n\r\n` then N bytes.
    case lsp
    /// Newline-delimited JSON: one message per line.
    case ndjson

    /// Frames one encoded message for writing.
    public func frame(_ body: [UInt8]) -> [UInt8] {
        var framed: [UInt8] = []
        framed.reserveCapacity(body.count + 32)
        frame(body, into: &framed)
        return framed
    }

    /// Appends `body`, framed, to `bytes`.
    public func frame(_ body: [UInt8], into bytes: inout [UInt8]) {
        switch self {
        case .lsp:
            JSONWriter.appendLiteral("Content-Length: ", to: &bytes)
            JSONWriter.appendInteger(body.count, to: &bytes)
            JSONWriter.appendLiteral("\r\n\r\n", to: &bytes)
            bytes.append(contentsOf: body)
        case .ndjson:
            bytes.append(contentsOf: body)
            bytes.append(0x0A)
        }
    }
}

/// What the parser found in the byte stream.
public enum FramedInput: Sendable, Hashable {
    /// One complete message body.
    case message([UInt8])
    /// A message larger than the limit was skipped.
    case tooLarge(size: Int)
    /// A header block that could not be understood was skipped.
    case badHeader(String)
}
