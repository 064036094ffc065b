import Foundation
import Testing

/// SplitMix64: a tiny seeded generator, so a failing storm can be replayed with the same seed.
private struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// What the server must answer to one storm line.
private enum Expectation {
    /// Exactly one response with this id (canonical `idKey`) and one of these error codes.
    case answer(id: String, codes: Set<Int>)
    /// Exactly one error response with `id: null` and one of these codes.
    case nullError(codes: Set<Int>)
    /// One array answer holding exactly these entries (in any order).
    case batch([Expectation])
    /// No answer at all (notifications, responses, all-notification batches).
    case nothing
}

private let parseOrInvalid: Set<Int> = [-32700, -32600]

/// Builds a storm of random and mutated NDJSON lines, each with what it deserves.
private struct StormBuilder {
    var rng: SeededGenerator
    let maxMessageBytes: Int
    /// Storm ids start high so they never collide with the helper's own request ids.
    private var counter = 1_000_000

    init(seed: UInt64, maxMessageBytes: Int) {
        rng = SeededGenerator(state: seed)
        self.maxMessageBytes = maxMessageBytes
    }

    /// A unique id, as JSON text and as its canonical key; numbers and strings (with awkward characters).
    mutating func freshID() -> (json: String, key: String) {
        counter += 1
        switch Int.random(in: 0..<4, using: &rng) {
        case 0: return (String(counter), "n:\(counter)")
        case 1: return (String(-counter), "n:\(-counter)")
        case 2:
            let decorations = ["", "/", "é", "🐑", "\\\"", "\\n", "\\u0000", " ", "\\u00e9"]
            let decoration = decorations.randomElement(using: &rng)!
            let json = "\"id-\(counter)\(decoration)\""
            let decoded = try! JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed]) as! String
            return (json, "s:" + decoded)
        default: return ("\"\(counter)\"", "s:\(counter)")
        }
    }

    private mutating func method() -> String {
        ["no/such", "run/stort", "pipeline/lists", "initialized", "$/cancelRequest", "a", "", "x/🐑", "initialize",
         String(repeating: "m", count: 300)].randomElement(using: &rng)!
    }

    private mutating func params() -> String {
        [#"{}"#, #"[]"#, #"{"a":1}"#, #"[1,"two",{"three":[3]}]"#, #"{"runId":"r-1","task":"x","n":1.5e300}"#,
         #"{"nested":{"deeper":{"deepest":[null,true,false]}}}"#, #"{"id":1}"#, #"{"id":"zz"}"#]
            .randomElement(using: &rng)!
    }

    /// A valid request for a method the server does not serve yet (all of them but the lifecycle ones).
    private mutating func unknownMethodRequest() -> (String, Expectation) {
        let id = freshID()
        var name = method()
        if name == "initialize" {
            return (#"{"jsonrpc":"2.0","id":\#(id.json),"method":"initialize","params":{}}"#, .answer(id: id.key, codes: [-32600]))
        }
        if name.isEmpty { name = "empty-ish" }
        let order = Bool.random(using: &rng)
        let text = order
            ? #"{"jsonrpc":"2.0","id":\#(id.json),"method":"\#(name)","params":\#(params())}"#
            : #"{"params":\#(params()),"method":"\#(name)","id":\#(id.json),"jsonrpc":"2.0"}"#
        return (text, .answer(id: id.key, codes: [-32601]))
    }

    /// A request for a real method with params that never fit it: -32602, or -33001 for an unknown run.
    private mutating func badParamsRequest() -> (String, Expectation) {
        let id = freshID()
        let name = ["run/start", "run/get", "run/events", "run/cancel", "decision/resolve", "step/log", "step/approve"]
            .randomElement(using: &rng)!
        return (#"{"jsonrpc":"2.0","id":\#(id.json),"method":"\#(name)","params":\#(params())}"#,
                .answer(id: id.key, codes: [-32602, -33001]))
    }

    private mutating func notification() -> (String, Expectation) {
        let name = ["initialized", "some/notification", "$/cancelRequest", "$/setTrace", "run/event"].randomElement(using: &rng)!
        return (#"{"jsonrpc":"2.0","method":"\#(name)","params":\#(params())}"#, .nothing)
    }

    /// A request with one envelope field given a wrong value.
    private mutating func mutatedRequest() -> (String, Expectation) {
        let id = freshID()
        let wrongValues = ["1", "1.5", "null", "true", "[]", "{}", #""2.0 ""#, "-0", "1e400", "123456789012345678901234567890"]
        let wrong = wrongValues.randomElement(using: &rng)!
        switch Int.random(in: 0..<5, using: &rng) {
        case 0:  // jsonrpc wrong or missing: -32600, id kept
            let member = Bool.random(using: &rng) ? "" : #""jsonrpc":\#(wrong),"#
            return (#"{\#(member)"id":\#(id.json),"method":"m","params":{}}"#, .answer(id: id.key, codes: [-32600]))
        case 1:  // id of a wrong type: -32600 (or -32700 where the number itself is unreadable) with id null
            let badID = ["1.5", "null", "true", "[]", "{}", "{\"id\":1}", "1e400", "123456789012345678901234567890", "-1.0e-5"]
                .randomElement(using: &rng)!
            return (#"{"jsonrpc":"2.0","id":\#(badID),"method":"m","params":{}}"#, .nullError(codes: parseOrInvalid))
        case 2:  // method of a wrong type or missing: -32600, id kept
            let member = Bool.random(using: &rng) ? "" : #""method":\#(wrong == #""2.0 ""# ? "7" : wrong),"#
            return (#"{"jsonrpc":"2.0",\#(member)"id":\#(id.json),"params":{}}"#, .answer(id: id.key, codes: [-32600]))
        case 3:  // params not structured: -32600, id kept
            let bad = ["1", "\"s\"", "true", "1.5", "-3"].randomElement(using: &rng)!
            return (#"{"jsonrpc":"2.0","id":\#(id.json),"method":"m","params":\#(bad)}"#, .answer(id: id.key, codes: [-32600]))
        default:  // not an object at all
            let value = ["1", "\"request\"", "null", "true", "1.5"].randomElement(using: &rng)!
            return (value, .nullError(codes: [-32600]))
        }
    }

    /// A valid request cut short: never valid JSON.
    private mutating func truncated() -> (String, Expectation) {
        let (text, _) = unknownMethodRequest()
        let cut = Int.random(in: 1..<text.utf8.count, using: &rng)
        let prefix = String(decoding: Array(text.utf8).prefix(cut), as: UTF8.self)
        return (prefix, .nullError(codes: [-32700]))
    }

    /// Random bytes without a newline and with at least one non-space byte.
    private mutating func randomBytes() -> ([UInt8], Expectation) {
        let count = Int.random(in: 1...200, using: &rng)
        var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }.filter { $0 != 0x0A }
        bytes.append(UInt8(ascii: "#"))
        // Random bytes may happen to be a JSON value (a number, say): then it is "not an object".
        return (bytes, .nullError(codes: parseOrInvalid))
    }

    private mutating func invalidUTF8() -> ([UInt8], Expectation) {
        let id = freshID()
        let bad: [[UInt8]] = [[0xFF], [0xC3, 0x28], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xE2, 0x82]]
        var bytes = Array(#"{"jsonrpc":"2.0","id":\#(id.json),"method":"x"#.utf8)
        bytes += bad.randomElement(using: &rng)!
        bytes += Array(#"","params":{}}"#.utf8)
        return (bytes, .nullError(codes: [-32700]))
    }

    private mutating func deepNesting() -> (String, Expectation) {
        let depth = [600, 2000, 10_000].randomElement(using: &rng)!
        switch Int.random(in: 0..<3, using: &rng) {
        case 0: return (String(repeating: "[", count: depth), .nullError(codes: [-32700]))
        case 1: return (String(repeating: "[", count: depth) + String(repeating: "]", count: depth), .nullError(codes: parseOrInvalid))
        default:
            let id = freshID()
            let params = String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth)
            // Either the nesting limit makes it unreadable (-32700, id null) or it is an unknown method.
            return (#"{"jsonrpc":"2.0","id":\#(id.json),"method":"m","params":\#(params)}"#, .nullError(codes: [-32700]))
        }
    }

    private mutating func oversized() -> (String, Expectation) {
        let (text, _) = unknownMethodRequest()
        let padding = String(repeating: " ", count: maxMessageBytes + Int.random(in: 1...5000, using: &rng))
        return (text + padding, .nullError(codes: [-32600]))
    }

    private mutating func response() -> (String, Expectation) {
        let id = freshID()
        return (Bool.random(using: &rng)
                ? #"{"jsonrpc":"2.0","id":\#(id.json),"result":{"ok":true}}"#
                : #"{"jsonrpc":"2.0","id":\#(id.json),"error":{"code":-1,"message":"no"}}"#, .nothing)
    }

    private mutating func batch() -> (String, Expectation) {
        let size = Int.random(in: 0...8, using: &rng)
        if size == 0 { return ("[]", .nullError(codes: [-32600])) }
        var texts: [String] = []
        var entries: [Expectation] = []
        for _ in 0..<size {
            let (text, expectation): (String, Expectation)
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: (text, expectation) = unknownMethodRequest()
            case 1: (text, expectation) = badParamsRequest()
            case 2: (text, expectation) = notification()
            case 3: (text, expectation) = response()
            case 4: (text, expectation) = (["1", "\"s\"", "null", "[]", "[1]"].randomElement(using: &rng)!, .nullError(codes: [-32600]))
            default:
                (text, expectation) = mutatedRequest()
                if text.contains("1e400") {
                    // A number beyond Double inside a batch makes the whole batch unreadable; keep batches simple.
                    texts.append("{\"jsonrpc\":\"2.0\",\"method\":\"n\"}")
                    entries.append(.nothing)
                    continue
                }
            }
            texts.append(text)
            entries.append(expectation)
        }
        let answered = entries.filter { if case .nothing = $0 { false } else { true } }
        return ("[" + texts.joined(separator: ",") + "]", answered.isEmpty ? .nothing : .batch(answered))
    }

    /// One storm line (without its newline) and its expectation.
    mutating func next() -> ([UInt8], Expectation) {
        let roll = Int.random(in: 0..<100, using: &rng)
        func bytes(_ pair: (String, Expectation)) -> ([UInt8], Expectation) { (Array(pair.0.utf8), pair.1) }
        switch roll {
        case 0..<14: return bytes(unknownMethodRequest())
        case 14..<20: return bytes(badParamsRequest())
        case 20..<30: return bytes(notification())
        case 30..<50: return bytes(mutatedRequest())
        case 50..<60: return bytes(truncated())
        case 60..<68: return randomBytes()
        case 68..<73: return invalidUTF8()
        case 73..<75: return bytes(deepNesting())
        case 75..<76: return bytes(oversized())
        case 76..<80: return bytes(response())
        default: return bytes(batch())
        }
    }
}

@Suite("End to end: robustness")
struct RobustnessEndToEndTests {
    /// Checks one answer (a response dictionary) against an expectation; returns a problem or nil.
    private static func check(_ answer: [String: Any], codes: Set<Int>) -> String? {
        guard answer["jsonrpc"] as? String == "2.0", answer["result"] == nil,
              let error = answer["error"] as? [String: Any], let code = error["code"] as? Int,
              let message = error["message"] as? String, !message.isEmpty else {
            return "not a proper error response: \(answer)"
        }
        return codes.contains(code) ? nil : "code \(code) not in \(codes.sorted()): \(answer)"
    }

    @Test("thousands of random and mutated messages: each answered properly, the server never dies")
    func storm() async throws {
        let seed = ProcessInfo.processInfo.environment["DROVER_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0xD20E_5EED
        let count = ProcessInfo.processInfo.environment["DROVER_FUZZ_COUNT"].flatMap { Int($0) } ?? 3000
        let maxMessageBytes = 100_000
        let drover = try DroverProcess(arguments: ["serve", "--max-message-bytes", String(maxMessageBytes)])
        try await drover.initialize()

        var builder = StormBuilder(seed: seed, maxMessageBytes: maxMessageBytes)
        var expectedByID: [String: Set<Int>] = [:]
        var nullCodes: [Set<Int>] = []
        var batches: [[Expectation]] = []
        var stream: [UInt8] = []
        var lines = 0
        func expect(_ expectation: Expectation) {
            switch expectation {
            case .answer(let id, let codes): expectedByID[id] = codes
            case .nullError(let codes): nullCodes.append(codes)
            case .batch(let entries): batches.append(entries)
            case .nothing: break
            }
        }
        while lines < count {
            let (line, expectation) = builder.next()
            stream += line + [0x0A]
            expect(expectation)
            lines += 1
            if stream.count > 256 << 10 {
                #expect(drover.sendRaw(stream), "the server stopped reading (seed \(seed))")
                stream.removeAll(keepingCapacity: true)
            }
        }
        // Leave the parser in a clean state before the final check: nothing is half-sent.
        #expect(drover.sendRaw(stream), "the server stopped reading (seed \(seed))")
        let expectedMessages = expectedByID.count + nullCodes.count + batches.count
        #expect(expectedMessages > count / 2, "the storm should mostly consist of messages that deserve an answer")
        let sentinel = try await drover.request("after/the/storm", timeout: .seconds(30))
        #expect((sentinel["error"] as? [String: Any])?["code"] as? Int == -32601)
        // Batch answers are written by tasks and may trail the sentinel: wait for the count.
        let deadline = ContinuousClock.now + .seconds(10)
        while drover.queuedCount < expectedMessages && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        let answers = drover.drainMessages()
        #expect(answers.count == expectedMessages, "seed \(seed): \(answers.count) answers for \(expectedMessages) expected")

        var problems: [String] = []
        var seenIDs: Set<String> = []
        var nullAnswers: [[String: Any]] = []
        var batchAnswers: [[[String: Any]]] = []
        for answer in answers {
            if let array = answer as? [[String: Any]] {
                batchAnswers.append(array)
                continue
            }
            guard let answer = answer as? [String: Any] else {
                problems.append("neither object nor array: \(answer)")
                continue
            }
            let key = DroverProcess.idKey(answer["id"])
            if key == "null" {
                nullAnswers.append(answer)
            } else if let codes = expectedByID[key] {
                if !seenIDs.insert(key).inserted { problems.append("answered twice: \(key)") }
                if let problem = Self.check(answer, codes: codes) { problems.append(problem) }
            } else {
                problems.append("unexpected answer: \(answer)")
            }
        }
        let missing = Set(expectedByID.keys).subtracting(seenIDs)
        if !missing.isEmpty { problems.append("\(missing.count) requests unanswered, e.g. \(missing.sorted().prefix(5))") }
        if nullAnswers.count != nullCodes.count {
            problems.append("\(nullAnswers.count) id-null errors for \(nullCodes.count) expected")
        }
        let allowedNull = nullCodes.reduce(into: Set<Int>()) { $0.formUnion($1) }
        for answer in nullAnswers {
            if let problem = Self.check(answer, codes: allowedNull) { problems.append(problem) }
        }
        // Batches: match each answer to an expected batch by its ids.
        var unmatched = batches
        for array in batchAnswers {
            let ids = Set(array.map { DroverProcess.idKey($0["id"]) }.filter { $0 != "null" })
            guard let index = unmatched.firstIndex(where: { entries in
                Set(entries.compactMap { if case .answer(let id, _) = $0 { id } else { nil } }) == ids
                    && entries.count == array.count
            }) else {
                problems.append("batch answer matches no batch sent: \(array)")
                continue
            }
            let entries = unmatched.remove(at: index)
            for entry in entries {
                switch entry {
                case .answer(let id, let codes):
                    let answer = array.first { DroverProcess.idKey($0["id"]) == id } ?? [:]
                    if let problem = Self.check(answer, codes: codes) { problems.append("in batch: \(problem)") }
                case .nullError(let codes):
                    if !array.contains(where: { DroverProcess.idKey($0["id"]) == "null" && Self.check($0, codes: codes) == nil }) {
                        problems.append("in batch: no id-null error with \(codes.sorted()): \(array)")
                    }
                default: break
                }
            }
        }
        if !unmatched.isEmpty { problems.append("\(unmatched.count) batches unanswered") }
        #expect(problems.isEmpty, "seed \(seed) (replay with DROVER_FUZZ_SEED=\(seed)): \(problems.prefix(10))")

        // Still alive and well.
        #expect(drover.isRunning)
        #expect(drover.protocolViolations.isEmpty, "\(drover.protocolViolations.prefix(3))")
        #expect(try await drover.request("still/there")["error"] != nil)
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("a storm in LSP framing: bad headers, wrong lengths and garbage between frames")
    func lspStorm() async throws {
        var rng = SeededGenerator(state: 0x15B5_7012)
        let drover = try DroverProcess(framing: .lsp)
        try await drover.initialize()
        var nextID = 1000
        var answeredIDs: [Int] = []
        for _ in 0..<300 {
            let body = Array(#"{"jsonrpc":"2.0","id":\#(nextID),"method":"no/such"}"#.utf8)
            switch Int.random(in: 0..<6, using: &rng) {
            case 0:  // missing Content-Length, then its body: one -32700, the next frame is found again
                drover.sendRaw(Array("Content-Type: application/json\r\n\r\n".utf8) + body)
            case 1:  // non-numeric length
                drover.sendRaw(Array("Content-Length: twelve\r\n\r\n".utf8) + body)
            case 2:  // a body that is not JSON, with the right length
                let junk = (0..<Int.random(in: 1...50, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                drover.sendRaw(Array("Content-Length: \(junk.count)\r\n\r\n".utf8) + junk)
            default:
                drover.sendBody(body)
                answeredIDs.append(nextID)
            }
            nextID += 1
        }
        for id in answeredIDs {
            let response = try await drover.response(to: id)
            #expect((response["error"] as? [String: Any])?["code"] as? Int == -32601)
        }
        let rest = drover.drainMessages().compactMap { $0 as? [String: Any] }
        #expect(rest.allSatisfy { message in
            let code = (message["error"] as? [String: Any])?["code"] as? Int
            return message["id"] is NSNull && (code == -32700 || code == -32600)
        }, "\(rest.prefix(3))")
        #expect(drover.protocolViolations.isEmpty)
        #expect(try await drover.shutdownAndExit() == 0)
    }
}
