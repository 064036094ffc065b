import DroverProtocol
import Foundation

/// One line of an agent's stdout, read as the agent line protocol (README.md, "Pointing roles at a real agent").
public enum AgentLine: Hashable, Sendable {
    /// `{"type":"log","text"}`, or any line that is not a protocol message (then the whole line).
    case log(String)
    /// `{"type":"progress","fraction","message"}`; both fields are optional.
    case progress(fraction: Double?, message: String?)
    /// `{"type":"usage","model","inputTokens","outputTokens","costUSD"?}`.
    case usage(model: String, inputTokens: Int, outputTokens: Int, costUSD: Double?)
    /// `{"type":"decision","question","options":[...]}` with at least one option.
    case decision(question: String, options: [String])
    /// `{"type":"result","output"}`.
    case result(output: String)
    /// `{"type":"session","id"}`: the agent's conversation id; the step's next attempt gets it back
    /// in `DROVER_RESUME_SESSION` to continue the conversation.
    case session(id: String)
    /// `{"type":"rate_limited","message"?,"retryAfterSeconds"?}`: the agent's model API rate limited it and
    /// it gives up this attempt; the step re-runs after `retryAfterSeconds` (else the engine's backoff).
    case rateLimited(message: String?, retryAfterSeconds: Double?)

    /// Reads one line; never fails: anything that is not a well-formed protocol message is `.log(line)`.
    ///
    /// Agents print arbitrary text, so a line that merely looks like JSON (or is JSON of another shape)
    /// must come through as the text it is rather than disappear.
    public static func parse(_ line: String) -> AgentLine {
        // Cheap rejection first: most lines of a chatty agent are prose.
        guard line.utf8.first(where: { !isJSONWhitespace($0) }) == UInt8(ascii: "{") else {
            return .log(line)
        }
        // Our parser, and the tree read by hand: every JSON line of an agent comes through here.
        guard let json = try? JSONParser().parse(Array(line.utf8)),
              let message = WireMessage(json: json),
              let parsed = message.line else {
            return .log(line)
        }
        return parsed
    }

    /// The line as an agent would print it (one line of JSON, no trailing newline).
    public var encoded: String {
        let wire: WireMessage
        switch self {
        case .log(let text):
            wire = WireMessage(type: "log", text: text)
        case .progress(let fraction, let message):
            wire = WireMessage(type: "progress", fraction: fraction, message: message)
        case .usage(let model, let inputTokens, let outputTokens, let costUSD):
            wire = WireMessage(type: "usage", model: model, inputTokens: inputTokens,
                               outputTokens: outputTokens, costUSD: costUSD)
        case .decision(let question, let options):
            wire = WireMessage(type: "decision", question: question, options: options)
        case .result(let output):
            wire = WireMessage(type: "result", output: output)
        case .session(let id):
            wire = WireMessage(type: "session", id: id)
        case .rateLimited(let message, let retryAfterSeconds):
            wire = WireMessage(type: "rate_limited", message: message, retryAfterSeconds: retryAfterSeconds)
        }
        // Encoding a struct of strings and numbers cannot fail; the fallback only keeps this total.
        guard let data = try? JSONCoding.makeEncoder().encode(wire) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    private static func isJSONWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }
}

/// The union of all protocol fields; each field is read leniently so that a stray field of the wrong
/// type on, say, a log message does not turn the message into plain text.
private struct WireMessage: Encodable {
    var type: String
    var text: String?
    var fraction: Double?
    var message: String?
    var model: String?
    var inputTokens: Int?
    var outputTokens: Int?
    var costUSD: Double?
    var question: String?
    var options: [String]?
    var output: String?
    var id: String?
    var retryAfterSeconds: Double?
    /// Set when a field the message's type relies on is present with the wrong type.
    private var malformed = false

    init(type: String, text: String? = nil, fraction: Double? = nil, message: String? = nil,
         model: String? = nil, inputTokens: Int? = nil, outputTokens: Int? = nil, costUSD: Double? = nil,
         question: String? = nil, options: [String]? = nil, output: String? = nil, id: String? = nil,
         retryAfterSeconds: Double? = nil) {
        self.retryAfterSeconds = retryAfterSeconds
        self.type = type
        self.text = text
        self.fraction = fraction
        self.message = message
        self.model = model
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.costUSD = costUSD
        self.question = question
        self.options = options
        self.output = output
        self.id = id
    }

    private enum CodingKeys: String, CodingKey {
        case type, text, fraction, message, model, inputTokens, outputTokens, costUSD, question, options, output, id
        case retryAfterSeconds
    }

    /// The message `json` holds, read as `JSONValueDecoder` would decode it (a number for a `Double`, an
    /// integral one for an `Int`, null as absent), without the `Decoder` machinery, which cost more than
    /// parsing the line; nil unless it is an object with a string `type`.
    init?(json: JSONValue) {
        guard case .object(let members) = json, case .string(let type)? = members["type"] else { return nil }
        self.init(type: type)
        var malformed = false
        // Present-but-wrong-typed is remembered, so `{"type":"progress","fraction":"half"}` is not
        // silently read as a progress report without a fraction.
        func field<T>(_ key: CodingKeys, _ read: (JSONValue) -> T?) -> T? {
            guard let value = members[key.rawValue], value != .null else { return nil }
            if let read = read(value) { return read }
            malformed = true
            return nil
        }
        switch type {
        case "log":
            text = field(.text, Self.string)
        case "progress":
            fraction = field(.fraction, Self.double)
            message = field(.message, Self.string)
        case "usage":
            model = field(.model, Self.string)
            inputTokens = field(.inputTokens, Self.integer)
            outputTokens = field(.outputTokens, Self.integer)
            costUSD = field(.costUSD, Self.double)
        case "decision":
            question = field(.question, Self.string)
            options = field(.options, Self.strings)
        case "result":
            output = field(.output, Self.string)
        case "session":
            id = field(.id, Self.string)
        case "rate_limited":
            message = field(.message, Self.string)
            retryAfterSeconds = field(.retryAfterSeconds, Self.double)
        default:
            break
        }
        self.malformed = malformed
    }

    private static func string(_ value: JSONValue) -> String? {
        if case .string(let text) = value { return text }
        return nil
    }

    private static func double(_ value: JSONValue) -> Double? {
        switch value {
        case .int(let number): Double(number)
        case .double(let number) where number.isFinite: number
        default: nil
        }
    }

    private static func integer(_ value: JSONValue) -> Int? {
        switch value {
        case .int(let number): number
        case .double(let number): Int(exactly: number)
        default: nil
        }
    }

    private static func strings(_ value: JSONValue) -> [String]? {
        guard case .array(let items) = value else { return nil }
        var texts: [String] = []
        for item in items {
            guard case .string(let text) = item else { return nil }
            texts.append(text)
        }
        return texts
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(type, forKey: .type)
        try container.encodeIfPresent(text, forKey: .text)
        try container.encodeIfPresent(fraction, forKey: .fraction)
        try container.encodeIfPresent(message, forKey: .message)
        try container.encodeIfPresent(model, forKey: .model)
        try container.encodeIfPresent(inputTokens, forKey: .inputTokens)
        try container.encodeIfPresent(outputTokens, forKey: .outputTokens)
        try container.encodeIfPresent(costUSD, forKey: .costUSD)
        try container.encodeIfPresent(question, forKey: .question)
        try container.encodeIfPresent(options, forKey: .options)
        try container.encodeIfPresent(output, forKey: .output)
        try container.encodeIfPresent(id, forKey: .id)
        try container.encodeIfPresent(retryAfterSeconds, forKey: .retryAfterSeconds)
    }

    /// The protocol message this is, or nil when required fields are missing or malformed.
    var line: AgentLine? {
        guard !malformed else { return nil }
        switch type {
        case "log":
            return text.map { .log($0) }
        case "progress":
            return .progress(fraction: fraction, message: message)
        case "usage":
            guard let model, let inputTokens, let outputTokens, inputTokens >= 0, outputTokens >= 0 else { return nil }
            return .usage(model: model, inputTokens: inputTokens, outputTokens: outputTokens, costUSD: costUSD)
        case "decision":
            // A question without options could never be answered (`decision/resolve` checks the choice).
            guard let question, let options, !options.isEmpty else { return nil }
            return .decision(question: question, options: options)
        case "result":
            return output.map { .result(output: $0) }
        case "session":
            guard let id, !id.isEmpty else { return nil }
            return .session(id: id)
        case "rate_limited":
            if let retryAfterSeconds, !(retryAfterSeconds >= 0) || !retryAfterSeconds.isFinite { return nil }
            return .rateLimited(message: message, retryAfterSeconds: retryAfterSeconds)
        default:
            return nil
        }
    }
}
