/// Splits a byte stream into messages, as a state machine that never over-reads.
///
/// Feed it chunks of any size with `push(_:)`; it returns every message completed by the chunk.
/// With `framing == nil` the first non-whitespace byte decides: `C`/`c` → LSP headers, anything else → NDJSON.
public struct MessageParser: Sendable {
    private enum State: Sendable {
        /// Undecided framing: skipping leading whitespace.
        case detecting
        /// Reading LSP header lines into `buffer`.
        case header
        /// Reading an LSP body of `remaining` more bytes into `buffer`.
        case body(remaining: Int)
        /// Discarding `remaining` bytes of an oversized LSP body.
        case skippingBody(remaining: Int, size: Int)
        /// Reading an NDJSON line into `buffer`.
        case line
        /// Discarding the rest of an oversized NDJSON line.
        case skippingLine(size: Int)
    }

    /// The framing in use; nil until detected.
    public private(set) var framing: Framing?
    /// Largest message body accepted, in bytes.
    public let maxMessageBytes: Int
    private var state: State
    private var buffer: [UInt8] = []
    private static let maxHeaderBytes = 8192

    public init(framing: Framing? = nil, maxMessageBytes: Int = 64 << 20) {
        self.framing = framing
        self.maxMessageBytes = maxMessageBytes
        switch framing {
        case nil: state = .detecting
        case .lsp: state = .header
        case .ndjson: state = .line
        }
    }

    /// Consumes a chunk and returns the inputs it completed, in order.
    public mutating func push(_ chunk: some Collection<UInt8>) -> [FramedInput] {
        push(ArraySlice(chunk))
    }

    /// Consumes a chunk and returns the inputs it completed, in order. The concrete type keeps the
    /// hot loop specialized (a generic one pays for metadata lookups on every call).
    public mutating func push(_ chunk: ArraySlice<UInt8>) -> [FramedInput] {
        var output: [FramedInput] = []
        push(chunk, into: &output)
        return output
    }

    /// Consumes a chunk and appends the inputs it completed to `output`, in order: a reader that empties
    /// `output` (keeping its capacity) between chunks makes no array per read.
    public mutating func push(_ chunk: ArraySlice<UInt8>, into output: inout [FramedInput]) {
        _ = consume(chunk, into: &output, untilInput: false)
    }

    /// Consumes `chunk` up to the end of the first input it completes (appended to `output`) and returns
    /// how many bytes that took — all of them when it completes none. What follows that input stays
    /// unread, for whoever reads on: `drover serve` hands the bytes after `initialize` to the engine (one
    /// push per read, where a push per byte cost its start-up 60,000 instructions).
    public mutating func pushUntilInput(_ chunk: ArraySlice<UInt8>, into output: inout [FramedInput]) -> Int {
        chunk.count - consume(chunk, into: &output, untilInput: true).count
    }

    /// The parsing loop of `push`: returns what is left of `chunk` (nothing, unless `untilInput` stopped it).
    private mutating func consume(_ chunk: ArraySlice<UInt8>, into output: inout [FramedInput], untilInput: Bool) -> ArraySlice<UInt8> {
        var bytes = chunk
        let inputsBefore = output.count
        while !bytes.isEmpty {
            if untilInput && output.count > inputsBefore { return bytes }
            switch state {
            case .detecting:
                guard let first = bytes.firstIndex(where: { !Self.isWhitespace($0) }) else { return bytes[bytes.endIndex...] }
                bytes = bytes[first...]
                let detected: Framing = (bytes.first == UInt8(ascii: "C") || bytes.first == UInt8(ascii: "c")) ? .lsp : .ndjson
                framing = detected
                state = detected == .lsp ? .header : .line

            case .header:
                // The usual block, whole in this chunk (`Content-Length: N` and a blank line): read in
                // place, without collecting its lines.
                if buffer.isEmpty, headerLines.isEmpty, !resynchronizing,
                   let (length, size) = Self.contentLengthBlock(at: bytes), length > 0, length <= maxMessageBytes {
                    bytes = bytes.dropFirst(size)
                    state = .body(remaining: length)
                    continue
                }
                guard let newline = bytes.firstIndex(of: 0x0A) else {
                    buffer.append(contentsOf: bytes)
                    bytes = bytes[bytes.endIndex...]
                    if headerBytes + buffer.count > Self.maxHeaderBytes {
                        if !resynchronizing {
                            output.append(.badHeader("header block longer than \(Self.maxHeaderBytes) bytes"))
                            startResynchronizing()
                        }
                        // Keep only a tail, where the next `Content-Length` may begin.
                        buffer.removeFirst(max(0, buffer.count - 64))
                    }
                    continue
                }
                buffer.append(contentsOf: bytes[..<newline])
                bytes = bytes[bytes.index(after: newline)...]
                if let result = headerLineEnded() { output.append(result) }

            case .body(let remaining):
                let take = min(remaining, bytes.count)
                if take == remaining && buffer.isEmpty {
                    // The whole body is in this chunk (the usual case): one copy, and `buffer` stays unshared.
                    output.append(.message(Array(bytes.prefix(take))))
                    bytes = bytes.dropFirst(take)
                    state = .header
                    continue
                }
                buffer.append(contentsOf: bytes.prefix(take))
                bytes = bytes.dropFirst(take)
                if take == remaining {
                    output.append(.message(handOver()))
                    state = .header
                } else {
                    state = .body(remaining: remaining - take)
                }

            case .skippingBody(let remaining, let size):
                let take = min(remaining, bytes.count)
                bytes = bytes.dropFirst(take)
                if take == remaining {
                    output.append(.tooLarge(size: size))
                    state = .header
                } else {
                    state = .skippingBody(remaining: remaining - take, size: size)
                }

            case .line:
                guard let newline = bytes.firstIndex(of: 0x0A) else {
                    if buffer.count + bytes.count > maxMessageBytes + 1 {
                        state = .skippingLine(size: buffer.count + bytes.count)
                        buffer.removeAll()
                    } else {
                        buffer.append(contentsOf: bytes)
                    }
                    bytes = bytes[bytes.endIndex...]
                    continue
                }
                let lineLength = buffer.count + bytes.distance(from: bytes.startIndex, to: newline)
                if lineLength > maxMessageBytes + 1 {
                    output.append(.tooLarge(size: lineLength))
                    buffer.removeAll()
                } else if buffer.isEmpty {
                    // The whole line is in this chunk (the usual case): one copy of its own size.
                    var line = bytes[..<newline]
                    if line.last == 0x0D { line.removeLast() }
                    if line.contains(where: { !Self.isWhitespace($0) }) {
                        output.append(line.count > maxMessageBytes ? .tooLarge(size: line.count) : .message(Array(line)))
                    }
                } else {
                    buffer.append(contentsOf: bytes[..<newline])
                    if buffer.last == 0x0D { buffer.removeLast() }
                    if buffer.contains(where: { !Self.isWhitespace($0) }) {
                        output.append(buffer.count > maxMessageBytes ? .tooLarge(size: buffer.count) : .message(handOver()))
                    }
                    buffer.removeAll()
                }
                bytes = bytes[bytes.index(after: newline)...]

            case .skippingLine(let size):
                guard let newline = bytes.firstIndex(of: 0x0A) else {
                    state = .skippingLine(size: size + bytes.count)
                    bytes = bytes[bytes.endIndex...]
                    continue
                }
                output.append(.tooLarge(size: size + bytes.distance(from: bytes.startIndex, to: newline)))
                bytes = bytes[bytes.index(after: newline)...]
                state = .line
            }
        }
        return bytes
    }

    /// The message collected in `buffer`, which starts anew (empty, no storage).
    ///
    /// The message takes the buffer itself, not a copy, and nothing keeps its capacity: a buffer kept
    /// once it was handed over is shared, so emptying it allocated the same capacity again — after one
    /// large message, every later message came in a buffer that large (a hundred kilobytes of heap per
    /// small request in flight, which freed left the heap fragmented: the engine's RSS rose by megabytes
    /// in the fuzz suite's NDJSON sessions, and never fell).
    private mutating func handOver() -> [UInt8] {
        var message: [UInt8] = []
        swap(&message, &buffer)
        return message
    }

    /// Handles one complete header line in `buffer`; an empty line ends the header block.
    private mutating func headerLineEnded() -> FramedInput? {
        if buffer.last == 0x0D { buffer.removeLast() }
        if resynchronizing {
            // After a bad header the body's length is unknown: skip to the next `Content-Length`
            // (the skipped body has no newline of its own, so that header ends its last line).
            guard let start = Self.lastContentLength(in: buffer) else {
                buffer.removeAll()
                return nil
            }
            buffer.removeFirst(start)
            resynchronizing = false
        }
        if !buffer.isEmpty {
            headerBytes += buffer.count
            headerLines.append(buffer)
            buffer.removeAll()
            if headerBytes > Self.maxHeaderBytes {
                startResynchronizing()
                return .badHeader("header block longer than \(Self.maxHeaderBytes) bytes")
            }
            return nil
        }
        if headerLines.isEmpty { return nil }  // stray blank line between messages
        let result = headerBlockEnded()
        headerLines.removeAll()
        headerBytes = 0
        if result != nil { resynchronizing = true }
        return result
    }

    private mutating func startResynchronizing() {
        resynchronizing = true
        headerLines.removeAll()
        headerBytes = 0
    }

    /// Where the last `Content-Length` (any case) starts in `line`.
    private static func lastContentLength(in line: [UInt8]) -> Int? {
        let needle = Array("content-length".utf8)
        guard line.count >= needle.count else { return nil }
        func lowered(_ byte: UInt8) -> UInt8 { (0x41...0x5A).contains(byte) ? byte + 0x20 : byte }
        for start in stride(from: line.count - needle.count, through: 0, by: -1)
        where needle.indices.allSatisfy({ lowered(line[start + $0]) == needle[$0] }) {
            return start
        }
        return nil
    }

    /// Interprets the complete header block in `headerLines`; sets the next state, or returns an error.
    private mutating func headerBlockEnded() -> FramedInput? {
        // Bytes, not Strings: every message has a header block, so this is on the hot path.
        var length: Int?
        for line in headerLines {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                return .badHeader("header line without ':' — \(String(decoding: line.prefix(80), as: UTF8.self))")
            }
            guard Self.isContentLength(Self.trimmingSpaces(line[..<colon])) else { continue }
            let value = Self.trimmingSpaces(line[(colon + 1)...])
            guard let parsed = Self.nonNegativeInteger(value) else {
                return .badHeader("Content-Length is not a non-negative integer: '\(String(decoding: value.prefix(40), as: UTF8.self))'")
            }
            length = parsed
        }
        guard let length else { return .badHeader("missing Content-Length header") }
        if length > maxMessageBytes {
            state = .skippingBody(remaining: length, size: length)
            if length == 0 { state = .header }
        } else if length == 0 {
            return .message([])
        } else {
            state = .body(remaining: length)
        }
        return nil
    }

    private var headerLines: [[UInt8]] = []
    /// Bytes in `headerLines`, bounded by `maxHeaderBytes`.
    private var headerBytes = 0
    /// Set after a bad header block: lines are skipped until one holds `Content-Length`.
    private var resynchronizing = false

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }
}

extension MessageParser {
    /// `bytes` without leading and trailing spaces and tabs.
    private static func trimmingSpaces(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var bytes = bytes
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes.removeFirst() }
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes.removeLast() }
        return bytes
    }

    private static let contentLength = Array("content-length".utf8)

    /// Whether `name` is `Content-Length` in any case.
    private static func isContentLength(_ name: ArraySlice<UInt8>) -> Bool {
        name.count == contentLength.count
            && zip(name, contentLength).allSatisfy { ((0x41...0x5A).contains($0) ? $0 + 0x20 : $0) == $1 }
    }

    /// A header block of just `Content-Length` (any case), `:`, the length, `\r\n\r\n` (spaces or tabs
    /// around the colon and after the digits) at the start of `bytes`: the length and the block's size.
    /// Nil for anything else, which the line-by-line reading handles (and reads the same where this does).
    private static func contentLengthBlock(at bytes: ArraySlice<UInt8>) -> (length: Int, size: Int)? {
        var index = bytes.startIndex
        func skipSpaces() { while index < bytes.endIndex, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 } }
        guard bytes.count > contentLength.count + 5 else { return nil }
        for expected in contentLength {
            let byte = bytes[index]
            guard ((0x41...0x5A).contains(byte) ? byte + 0x20 : byte) == expected else { return nil }
            index += 1
        }
        skipSpaces()
        guard index < bytes.endIndex, bytes[index] == UInt8(ascii: ":") else { return nil }
        index += 1
        skipSpaces()
        let digits = index
        while index < bytes.endIndex, (0x30...0x39).contains(bytes[index]) { index += 1 }
        guard let length = nonNegativeInteger(bytes[digits..<index]) else { return nil }
        skipSpaces()
        guard bytes.endIndex - index >= 4, bytes[index] == 0x0D, bytes[index + 1] == 0x0A,
              bytes[index + 2] == 0x0D, bytes[index + 3] == 0x0A else { return nil }
        // Longer blocks (spaces padding them) go line by line, where `maxHeaderBytes` applies.
        let size = index + 4 - bytes.startIndex
        return size <= 256 ? (length, size) : nil
    }

    /// The decimal digits of `bytes` as a number; nil if empty, not all digits, or too large for an Int.
    private static func nonNegativeInteger(_ bytes: ArraySlice<UInt8>) -> Int? {
        guard !bytes.isEmpty else { return nil }
        var value = 0
        for byte in bytes {
            guard (0x30...0x39).contains(byte) else { return nil }
            let (times10, overflowA) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowB) = times10.addingReportingOverflow(Int(byte - 0x30))
            guard !overflowA, !overflowB else { return nil }
            value = sum
        }
        return value
    }
}
