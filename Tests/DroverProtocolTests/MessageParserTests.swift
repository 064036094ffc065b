import DroverProtocol
import Testing

/// Frames `body` the way an LSP client does.
private func lsp(_ body: String, extraHeaders: String = "") -> [UInt8] {
    Array("Content-Length: \(body.utf8.count)\r\n\(extraHeaders)\r\n\(body)".utf8)
}

/// Frames `body` the way an NDJSON client does.
private func ndjson(_ body: String) -> [UInt8] {
    Array((body + "\n").utf8)
}

/// Feeds `chunks` to a fresh parser and collects everything it produced.
private func parse(_ chunks: [[UInt8]], framing: Framing? = nil, maxMessageBytes: Int = 64 << 20) -> (inputs: [FramedInput], framing: Framing?) {
    var parser = MessageParser(framing: framing, maxMessageBytes: maxMessageBytes)
    var inputs: [FramedInput] = []
    for chunk in chunks { inputs += parser.push(chunk) }
    return (inputs, parser.framing)
}

private func parse(_ bytes: [UInt8], framing: Framing? = nil, maxMessageBytes: Int = 64 << 20) -> [FramedInput] {
    parse([bytes], framing: framing, maxMessageBytes: maxMessageBytes).inputs
}

private func message(_ text: String) -> FramedInput { .message(Array(text.utf8)) }

private let bodies = [
    #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#,
    #"{"jsonrpc":"2.0","method":"initialized"}"#,
    #"{"jsonrpc":"2.0","id":"b","method":"run/get","params":{"runId":"r-1"}}"#,
]

@Suite("MessageParser: chunking")
struct MessageParserChunkingTests {
    @Test("byte-by-byte feeding yields the same messages", arguments: Framing.allCases)
    func byteByByte(framing: Framing) {
        let stream = bodies.flatMap { framing == .lsp ? lsp($0) : ndjson($0) }
        let result = parse(stream.map { [$0] })
        #expect(result.inputs == bodies.map(message))
        #expect(result.framing == framing)
    }

    @Test("one input at a time: each push stops where its input ends and leaves the rest unread, at every split point",
          arguments: Framing.allCases)
    func oneInputAtATime(framing: Framing) {
        let stream = [UInt8](" \n".utf8) + bodies.flatMap { framing == .lsp ? lsp($0) : ndjson($0) }
        let firstEnds = 2 + (framing == .lsp ? lsp(bodies[0]) : ndjson(bodies[0])).count
        for split in 0...stream.count {
            var parser = MessageParser()
            var inputs: [FramedInput] = []
            var consumedBeforeFirst = 0
            for chunk in [stream[..<split], stream[split...]] {
                var unread = chunk
                while !unread.isEmpty {
                    let before = inputs.count
                    let consumed = parser.pushUntilInput(unread, into: &inputs)
                    #expect(inputs.count - before <= 1, "split at \(split)")
                    if inputs.isEmpty { consumedBeforeFirst += consumed }
                    if inputs.count == 1 && before == 0 { consumedBeforeFirst += consumed }
                    if inputs.count == before { #expect(consumed == unread.count, "split at \(split): nothing completed, so all read") }
                    unread = unread.dropFirst(consumed)
                }
            }
            #expect(inputs == bodies.map(message), "split at \(split)")
            #expect(consumedBeforeFirst == firstEnds, "split at \(split): the first push to complete an input stops at its end")
            #expect(parser.framing == framing)
        }
    }

    @Test("every split point of a 3-message stream", arguments: Framing.allCases)
    func everySplitPoint(framing: Framing) {
        let stream = bodies.flatMap { framing == .lsp ? lsp($0) : ndjson($0) }
        for split in 0...stream.count {
            let result = parse([Array(stream[..<split]), Array(stream[split...])])
            #expect(result.inputs == bodies.map(message), "split at \(split)")
        }
    }

    @Test("every pair of split points of an LSP stream with extra headers")
    func everyDoubleSplit() {
        let stream = lsp(bodies[0], extraHeaders: "Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n") + lsp(bodies[1])
        for first in stride(from: 0, through: stream.count, by: 3) {
            for second in first...stream.count {
                let chunks = [Array(stream[..<first]), Array(stream[first..<second]), Array(stream[second...])]
                #expect(parse(chunks).inputs == [message(bodies[0]), message(bodies[1])], "splits at \(first), \(second)")
            }
        }
    }

    @Test("a header block read whole in one chunk reads as it does line by line: case, spaces, tabs, limits, errors")
    func headerBlockWholeOrByLines() {
        let body = #"{"jsonrpc":"2.0","id":1,"method":"m"}"#
        let count = body.utf8.count
        let headers = [
            "Content-Length: \(count)\r\n\r\n", "content-length:\(count)\r\n\r\n", "CONTENT-LENGTH \t: \t\(count) \t\r\n\r\n",
            "Content-Length: \(count)\n\n", "Content-Length: \(count)\r\n\n", " Content-Length: \(count)\r\n\r\n",
            "Content-Length: 0\r\n\r\n", "Content-Length: 9\r\n\r\n", "Content-Length: 99999\r\n\r\n",
            "Content-Length: 99999999999999999999999\r\n\r\n", "Content-Length: -1\r\n\r\n", "Content-Length: \r\n\r\n",
            "Content-Length: 1 2\r\n\r\n", "Content-Lengthy: \(count)\r\n\r\n", "Content-Length \(count)\r\n\r\n",
            "Content-Length: \(count)\r\nContent-Type: x\r\n\r\n", "\r\nContent-Length: \(count)\r\n\r\n",
            "Content-Length:" + String(repeating: " ", count: 300) + "\(count)\r\n\r\n",
        ]
        for header in headers {
            // Each header twice, then a plain message: what an error or a skipped body leaves behind shows.
            let stream = Array((header + body + header + body).utf8) + lsp(body)
            let whole = parse([stream], maxMessageBytes: 1000).inputs
            let byBytes = parse(stream.map { [$0] }, maxMessageBytes: 1000).inputs
            #expect(whole == byBytes, "\(header.prefix(60).debugDescription)")
        }
    }

    @Test("many messages in one chunk", arguments: Framing.allCases)
    func manyInOneChunk(framing: Framing) {
        let many = (0..<500).map { #"{"jsonrpc":"2.0","id":\#($0),"method":"m"}"# }
        let stream = many.flatMap { framing == .lsp ? lsp($0) : ndjson($0) }
        #expect(parse(stream) == many.map(message))
    }

    @Test("multibyte UTF-8 split across chunks", arguments: Framing.allCases)
    func multibyteAcrossSplit(framing: Framing) {
        let body = #"{"jsonrpc":"2.0","id":1,"method":"m","params":{"text":"héllo → 世界 🐑"}}"#
        let stream = framing == .lsp ? lsp(body) : ndjson(body)
        // Split inside every multibyte sequence (continuation bytes are 0b10xxxxxx).
        let splits = stream.indices.filter { stream[$0] & 0xC0 == 0x80 }
        #expect(splits.count > 5)
        for split in splits {
            let result = parse([Array(stream[..<split]), Array(stream[split...])])
            #expect(result.inputs == [message(body)], "split at \(split)")
        }
        // Content-Length counts bytes, not characters.
        if framing == .lsp { #expect(body.utf8.count != body.count) }
    }

    @Test("the sourcekit-lsp style split: \"Content\", \"-Length: 2\\r\", …")
    func headerSplitMidName() {
        let chunks = ["Content", "-Length: 2\r", "\n", "\r\n{", "}Content-Length: 2\r\n\r\n[]"].map { Array($0.utf8) }
        #expect(parse(chunks).inputs == [message("{}"), message("[]")])
    }
}

@Suite("MessageParser: framing detection and syntax")
struct MessageParserFramingTests {
    struct DetectionCase: Sendable, CustomTestStringConvertible {
        let input: String
        let framing: Framing
        let messages: [String]
        var testDescription: String { input.debugDescription }
    }

    @Test("auto-detection from the first non-whitespace byte", arguments: [
        DetectionCase(input: "Content-Length: 2\r\n\r\n{}", framing: .lsp, messages: ["{}"]),
        DetectionCase(input: "content-length: 2\r\n\r\n{}", framing: .lsp, messages: ["{}"]),
        DetectionCase(input: "CONTENT-LENGTH:2\r\n\r\n{}", framing: .lsp, messages: ["{}"]),
        DetectionCase(input: " \r\n\t\nContent-Length: 2\r\n\r\n{}", framing: .lsp, messages: ["{}"]),
        DetectionCase(input: "{}\n", framing: .ndjson, messages: ["{}"]),
        DetectionCase(input: "[{}]\n", framing: .ndjson, messages: ["[{}]"]),
        DetectionCase(input: "\n\n  \t{}\n", framing: .ndjson, messages: ["{}"]),
        DetectionCase(input: "  [1]\n", framing: .ndjson, messages: ["[1]"]),
        DetectionCase(input: "garbage\n", framing: .ndjson, messages: ["garbage"]),
    ])
    func detection(_ testCase: DetectionCase) {
        let result = parse([Array(testCase.input.utf8)])
        #expect(result.framing == testCase.framing)
        #expect(result.inputs == testCase.messages.map(message))
    }

    @Test("whitespace alone decides nothing")
    func whitespaceOnly() {
        var parser = MessageParser()
        #expect(parser.push(Array(" \r\n\t\n".utf8)).isEmpty)
        #expect(parser.framing == nil)
        #expect(parser.push(Array("{}\n".utf8)) == [message("{}")])
        #expect(parser.framing == .ndjson)
    }

    @Test("a forced framing is not re-detected")
    func forcedFraming() {
        // Forced NDJSON: an LSP header is just a (non-JSON) line.
        #expect(parse(Array("Content-Length: 2\r\n".utf8), framing: .ndjson) == [message("Content-Length: 2")])
        // Forced LSP: parses LSP as usual.
        #expect(parse(lsp("{}"), framing: .lsp) == [message("{}")])
    }

    @Test("extra headers are accepted in any order and case (framing forced: auto needs a leading C)")
    func extraHeaders() {
        let inputs = [
            "Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: 2\r\n\r\n{}",
            "Content-Length: 2\r\nContent-Type: application/json\r\n\r\n{}",
            "X-Anything:  spaced  \r\ncontent-length:   2  \r\n\r\n{}",
            "Content-Length: 2\n\n{}",  // bare LF line ends are tolerated
        ]
        for input in inputs {
            #expect(parse(Array(input.utf8), framing: .lsp) == [message("{}")], "\(input.debugDescription)")
        }
    }

    @Test("NDJSON: CRLF line ends, blank and whitespace-only lines")
    func ndjsonLineEnds() {
        let input = "{\"a\":1}\r\n\r\n\n   \n\t\r\n{\"b\":2}\n"
        #expect(parse(Array(input.utf8)) == [message(#"{"a":1}"#), message(#"{"b":2}"#)])
    }

    @Test("NDJSON: a line without its newline is not a message yet")
    func ndjsonIncompleteLine() {
        var parser = MessageParser()
        #expect(parser.push(Array("{\"a\":1}".utf8)).isEmpty)
        #expect(parser.push([0x0A]) == [message(#"{"a":1}"#)])
    }

    @Test("LSP: blank lines between messages are ignored")
    func lspBlankLinesBetweenMessages() {
        let stream = lsp("{}") + Array("\r\n\r\n".utf8) + lsp("[]")
        #expect(parse(stream) == [message("{}"), message("[]")])
    }

    @Test("LSP: zero-length body is an empty message")
    func zeroLengthBody() {
        #expect(parse(Array("Content-Length: 0\r\n\r\n".utf8) + lsp("{}")) == [.message([]), message("{}")])
    }

    @Test("LSP: the body is taken by length, not by newlines")
    func bodyWithNewlines() {
        let body = "{\n\"a\": 1\r\n}"
        #expect(parse(lsp(body)) == [message(body)])
    }
}

@Suite("MessageParser: limits and bad input")
struct MessageParserErrorTests {
    @Test("LSP: an oversized message is skipped as .tooLarge and the next one parses")
    func lspTooLarge() {
        let big = String(repeating: "x", count: 5000)
        let stream = lsp(big) + lsp("{}")
        #expect(parse(stream, maxMessageBytes: 1000) == [.tooLarge(size: 5000), message("{}")])
        // Same, fed byte by byte (the skipped body is never buffered whole).
        #expect(parse(stream.map { [$0] }, maxMessageBytes: 1000).inputs == [.tooLarge(size: 5000), message("{}")])
    }

    @Test("LSP: exactly at the limit is accepted")
    func lspAtLimit() {
        let body = String(repeating: "x", count: 1000)
        #expect(parse(lsp(body), maxMessageBytes: 1000) == [message(body)])
    }

    @Test("NDJSON: an oversized line is skipped as .tooLarge and the next one parses")
    func ndjsonTooLarge() {
        let big = String(repeating: "x", count: 5000)
        let stream = ndjson(big) + ndjson("{}")
        #expect(parse(stream, maxMessageBytes: 1000) == [.tooLarge(size: 5000), message("{}")])
        let chunked = stride(from: 0, to: stream.count, by: 7).map { Array(stream[$0..<min($0 + 7, stream.count)]) }
        #expect(parse(chunked, maxMessageBytes: 1000).inputs == [.tooLarge(size: 5000), message("{}")])
    }

    @Test("NDJSON: the limit counts the message, not its CR")
    func ndjsonAtLimitWithCR() {
        let body = String(repeating: "x", count: 1000)
        #expect(parse(Array((body + "\r\n").utf8), maxMessageBytes: 1000) == [message(body)])
        let over = parse(Array((body + "x\r\n").utf8), maxMessageBytes: 1000)
        #expect(over.count == 1)
        if case .tooLarge(let size)? = over.first { #expect(size > 1000) } else { Issue.record("\(over)") }
    }

    struct BadHeaderCase: Sendable, CustomTestStringConvertible {
        let header: String
        let reason: String
        var testDescription: String { header.debugDescription }
    }

    @Test("bad headers are reported and the next message still parses", arguments: [
        BadHeaderCase(header: "Content-Type: application/json\r\n\r\n", reason: "missing Content-Length"),
        BadHeaderCase(header: "Content-Length: abc\r\n\r\n", reason: "not a non-negative integer"),
        BadHeaderCase(header: "Content-Length: -5\r\n\r\n", reason: "not a non-negative integer"),
        BadHeaderCase(header: "Content-Length: 12x\r\n\r\n", reason: "not a non-negative integer"),
        BadHeaderCase(header: "Content-Length 12\r\n\r\n", reason: "without ':'"),
    ])
    func badHeader(_ testCase: BadHeaderCase) {
        // A body follows the bad header (as a client that got the length wrong would send);
        // its length is unknown, so the parser must find the next header on its own.
        let stream = Array(testCase.header.utf8) + Array(#"{"jsonrpc":"2.0","id":1,"method":"x"}"#.utf8) + lsp("{}") + lsp("[]")
        for chunks in [[stream], stream.map { [$0] }] {
            let inputs = parse(chunks, framing: .lsp).inputs
            #expect(inputs.count == 3, "\(inputs)")
            guard case .badHeader(let reason)? = inputs.first else {
                Issue.record("expected .badHeader first, got \(inputs)")
                continue
            }
            #expect(reason.contains(testCase.reason), "\(reason)")
            #expect(Array(inputs.dropFirst()) == [message("{}"), message("[]")])
        }
    }

    @Test("a header block that never ends is reported once, then the stream recovers")
    func endlessHeader() {
        let junk = Array("Content-Length: 2\r\nX: ".utf8) + Array(repeating: UInt8(ascii: "y"), count: 100_000)
        let stream = junk + Array("\r\n\r\n".utf8) + lsp("{}")
        let chunked = stride(from: 0, to: stream.count, by: 4096).map { Array(stream[$0..<min($0 + 4096, stream.count)]) }
        let inputs = parse(chunked).inputs
        #expect(inputs.count == 2, "\(inputs.prefix(3))")
        if case .badHeader? = inputs.first {} else { Issue.record("expected .badHeader, got \(inputs.prefix(3))") }
        #expect(inputs.last == message("{}"))
    }

    @Test("many short header lines cannot grow the header block without bound")
    func manyHeaderLines() {
        let junk = Array(String(repeating: "X-A: b\r\n", count: 20_000).utf8)
        let inputs = parse(junk + Array("\r\n".utf8) + lsp("{}"), framing: .lsp)
        #expect(inputs.filter { if case .badHeader = $0 { true } else { false } }.count == 1, "\(inputs.prefix(3))")
        #expect(inputs.last == message("{}"))
    }
}

@Suite("MessageParser: memory a message holds")
struct MessageParserMemoryTests {
    /// The stream in 64 KiB reads, as the server reads it.
    private static func reads(_ stream: [UInt8]) -> [[UInt8]] {
        stride(from: 0, to: stream.count, by: 1 << 16).map { Array(stream[$0..<min($0 + (1 << 16), stream.count)]) }
    }

    @Test("after a large message, small ones come in buffers of their own size (it once lent them its capacity)",
          arguments: Framing.allCases)
    func smallAfterLarge(framing: Framing) {
        let large = #"{"jsonrpc":"2.0","id":1,"method":"run/get","params":{"runId":""# + String(repeating: "y", count: 200_000) + #""}}"#
        let small = bodies[2]
        // The small ones both whole in one read and split across two.
        let stream = (framing == .lsp ? lsp(large) : ndjson(large))
            + (0..<5000).flatMap { _ in framing == .lsp ? lsp(small) : ndjson(small) }
        var parser = MessageParser(framing: framing)
        var capacities: [Int] = []
        for chunk in Self.reads(stream) {
            for case .message(let bytes) in parser.push(chunk) where bytes.count == small.utf8.count {
                capacities.append(bytes.capacity)
            }
        }
        #expect(capacities.count == 5000)
        // Each held the 200 KB (rounded up) before: 5000 requests in flight held a gigabyte.
        #expect(capacities.allSatisfy { $0 < 1024 }, "largest: \(capacities.max() ?? 0)")
    }
}
