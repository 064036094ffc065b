import DroverProtocol
import Foundation

/// One action of a fake-agent turn; these cases are the reference for `agent.script` in a pipeline.
public enum FakeAction: Hashable, Sendable {
    /// `{"say": text}`: a `log` line.
    case say(String)
    /// `{"sleep": seconds}`; fractions allowed.
    case sleep(seconds: Double)
    /// `{"usage": {"model", "input", "output", "costUSD"?}}`: a `usage` line.
    case usage(model: String, input: Int, output: Int, costUSD: Double?)
    /// `{"ask": {"question", "options"}}`: a `decision` line, then the agent exits 0.
    case ask(question: String, options: [String])
    /// `{"write": {"path", "text"}}`: writes a file under the working directory (never outside it).
    case write(path: String, text: String)
    /// `{"result": text}`: a `result` line; later actions of the turn still play.
    case result(String)
    /// `{"fail": text}`: `text` on stderr, exit 1.
    case fail(String)
    /// `{"hang": true}`: never ends on its own.
    case hang
    /// `{"spam": count}`: that many `log` lines.
    case spam(Int)
    /// `{"progress": {"fraction"?, "message"?}}`: a `progress` line.
    case progress(fraction: Double?, message: String?)
    /// `{"session": id}`: a `session` line (a later attempt gets it back in `DROVER_RESUME_SESSION`).
    case session(String)
    /// `{"rateLimit": {"message"?, "retryAfter"?: seconds}}`: a `rate_limited` line, then the agent exits 0.
    case rateLimit(message: String?, retryAfter: Double?)
}

/// A fake agent's script: a list of turns; attempt N plays turn N, and the last turn repeats.
///
/// Texts (`say`, `result`, `fail`, `ask`, `write`) may use `{{prompt}}`, `{{attempt}}` and `{{env.NAME}}`,
/// filled in when the turn plays.
public struct FakeScript: Codable, Hashable, Sendable {
    /// At least one turn; a turn may be empty (it then exits 0 with empty output).
    public var turns: [[FakeAction]]

    /// A script from already-parsed turns.
    public init(turns: [[FakeAction]]) {
        self.turns = turns
    }

    /// Reads a script from its JSON form; throws ``FakeScriptError`` listing every problem found.
    public init(json: JSONValue) throws {
        var problems: [String] = []
        self.turns = Self.parse(json, problems: &problems)
        if !problems.isEmpty { throw FakeScriptError(problems: problems) }
    }

    /// The turn attempt `attempt` (1-based) plays: turn N for attempt N, the last one for later attempts.
    public func turn(forAttempt attempt: Int) -> [FakeAction] {
        guard !turns.isEmpty else { return [] }
        return turns[min(max(attempt, 1), turns.count) - 1]
    }

    /// The script's JSON form.
    public var json: JSONValue {
        .array(turns.map { .array($0.map(\.json)) })
    }

    /// The script as compact JSON text, as `drover agent-fake` expects it in `DROVER_FAKE_SCRIPT`.
    public var jsonText: String {
        // Encoding a JSONValue cannot fail; the fallback only keeps this total.
        guard let data = try? JSONCoding.makeEncoder().encode(json) else { return "[]" }
        return String(decoding: data, as: UTF8.self)
    }

    public init(from decoder: Decoder) throws {
        let json = try JSONValue(from: decoder)
        do {
            try self.init(json: json)
        } catch let error as FakeScriptError {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: Encoder) throws {
        try json.encode(to: encoder)
    }

    private static let actionNames = ["say", "sleep", "usage", "ask", "write", "result", "fail", "hang", "spam", "progress", "session", "rateLimit"]

    private static func parse(_ json: JSONValue, problems: inout [String]) -> [[FakeAction]] {
        guard let turns = json.arrayValue else {
            problems.append("the script must be a list of turns (each a list of actions), got \(describe(json))")
            return []
        }
        if turns.isEmpty {
            problems.append("the script has no turns; give at least one, e.g. [[{\"result\": \"done\"}]]")
            return []
        }
        if turns.allSatisfy({ $0.objectValue != nil }) {
            problems.append("the script must be a list of turns, each a list of actions; for a single turn wrap the actions in another list: [[...]]")
            return []
        }
        var parsed: [[FakeAction]] = []
        for (turnIndex, turn) in turns.enumerated() {
            guard let actions = turn.arrayValue else {
                problems.append("turn \(turnIndex + 1): must be a list of actions, got \(describe(turn))")
                continue
            }
            var parsedTurn: [FakeAction] = []
            for (actionIndex, action) in actions.enumerated() {
                let place = "turn \(turnIndex + 1), action \(actionIndex + 1)"
                do {
                    parsedTurn.append(try parseAction(action))
                } catch let problem as ActionProblem {
                    problems.append("\(place): \(problem.message)")
                } catch {
                    problems.append("\(place): \(error)")
                }
            }
            parsed.append(parsedTurn)
        }
        return parsed
    }

    private struct ActionProblem: Error {
        var message: String
    }

    private static func parseAction(_ json: JSONValue) throws -> FakeAction {
        let expected = "expected one of " + actionNames.joined(separator: ", ")
        guard let object = json.objectValue else {
            throw ActionProblem(message: "an action is an object with one key (\(expected)), got \(describe(json))")
        }
        guard object.count == 1, let (name, value) = object.first else {
            let keys = object.keys.sorted().joined(separator: ", ")
            throw ActionProblem(message: "an action has exactly one key, got {\(keys)}")
        }
        func problem(_ text: String) -> ActionProblem {
            ActionProblem(message: "\"\(name)\" \(text), got \(describe(value))")
        }
        switch name {
        case "say":
            guard let text = value.stringValue else { throw problem("needs a text") }
            return .say(text)
        case "result":
            guard let text = value.stringValue else { throw problem("needs a text") }
            return .result(text)
        case "fail":
            guard let text = value.stringValue else { throw problem("needs a text") }
            return .fail(text)
        case "session":
            guard let id = value.stringValue, !id.isEmpty else { throw problem("needs a session id") }
            return .session(id)
        case "sleep":
            guard let seconds = number(value), seconds >= 0, seconds.isFinite else {
                throw problem("needs a number of seconds (0 or more)")
            }
            return .sleep(seconds: seconds)
        case "spam":
            guard let count = integer(value), count >= 0 else { throw problem("needs a number of lines (0 or more)") }
            return .spam(count)
        case "hang":
            guard value == .bool(true) else { throw problem("must be true") }
            return .hang
        case "usage":
            guard let fields = value.objectValue, let model = fields["model"]?.stringValue,
                  let input = fields["input"].flatMap(integer), input >= 0,
                  let output = fields["output"].flatMap(integer), output >= 0 else {
                throw problem("needs {\"model\": text, \"input\": tokens, \"output\": tokens, \"costUSD\"?: number}")
            }
            let cost = fields["costUSD"]
            if let cost, cost != .null, number(cost) == nil { throw problem("has a costUSD that is not a number") }
            return .usage(model: model, input: input, output: output, costUSD: cost.flatMap(number))
        case "ask":
            guard let fields = value.objectValue, let question = fields["question"]?.stringValue,
                  let options = fields["options"]?.arrayValue?.compactMap(\.stringValue),
                  options.count == fields["options"]?.arrayValue?.count, !options.isEmpty else {
                throw problem("needs {\"question\": text, \"options\": [text, ...]} with at least one option")
            }
            return .ask(question: question, options: options)
        case "write":
            guard let fields = value.objectValue, let path = fields["path"]?.stringValue,
                  let text = fields["text"]?.stringValue else {
                throw problem("needs {\"path\": relative path, \"text\": text}")
            }
            return .write(path: path, text: text)
        case "progress":
            guard let fields = value.objectValue else { throw problem("needs {\"fraction\"?: number, \"message\"?: text}") }
            let fraction = fields["fraction"]
            let message = fields["message"]
            if let fraction, fraction != .null, number(fraction) == nil { throw problem("has a fraction that is not a number") }
            if let message, message != .null, message.stringValue == nil { throw problem("has a message that is not a text") }
            return .progress(fraction: fraction.flatMap(number), message: message?.stringValue)
        case "rateLimit":
            guard let fields = value.objectValue, Set(fields.keys).isSubset(of: ["message", "retryAfter"]) else {
                throw problem("needs {\"message\"?: text, \"retryAfter\"?: seconds}")
            }
            let message = fields["message"]
            let retryAfter = fields["retryAfter"]
            if let message, message.stringValue == nil { throw problem("has a message that is not a text") }
            if let retryAfter, (number(retryAfter) ?? -1) < 0 { throw problem("has a retryAfter that is not a number of seconds (0 or more)") }
            return .rateLimit(message: message?.stringValue, retryAfter: retryAfter.flatMap(number))
        default:
            throw ActionProblem(message: "unknown action \"\(name)\" (\(expected))")
        }
    }

    private static func number(_ json: JSONValue) -> Double? {
        switch json {
        case .int(let value): return Double(value)
        case .double(let value): return value
        default: return nil
        }
    }

    private static func integer(_ json: JSONValue) -> Int? {
        switch json {
        case .int(let value): return value
        case .double(let value) where value.rounded() == value && abs(value) < 1e15: return Int(value)
        default: return nil
        }
    }

    private static func describe(_ json: JSONValue) -> String {
        switch json {
        case .null: return "null"
        case .bool(let value): return String(value)
        case .int(let value): return String(value)
        case .double(let value): return String(value)
        case .string(let value): return value.count > 40 ? "a text" : "\"\(value)\""
        case .array: return "a list"
        case .object: return "an object"
        }
    }
}

extension FakeAction {
    /// The action's JSON form, as written in a script.
    public var json: JSONValue {
        switch self {
        case .say(let text): return .object(["say": .string(text)])
        case .sleep(let seconds):
            let value: JSONValue = seconds.rounded() == seconds && abs(seconds) < 1e15 ? .int(Int(seconds)) : .double(seconds)
            return .object(["sleep": value])
        case .usage(let model, let input, let output, let costUSD):
            var fields: [String: JSONValue] = ["model": .string(model), "input": .int(input), "output": .int(output)]
            if let costUSD { fields["costUSD"] = .double(costUSD) }
            return .object(["usage": .object(fields)])
        case .ask(let question, let options):
            return .object(["ask": .object(["question": .string(question), "options": .array(options.map(JSONValue.string))])])
        case .write(let path, let text):
            return .object(["write": .object(["path": .string(path), "text": .string(text)])])
        case .result(let text): return .object(["result": .string(text)])
        case .fail(let text): return .object(["fail": .string(text)])
        case .session(let id): return .object(["session": .string(id)])
        case .hang: return .object(["hang": .bool(true)])
        case .spam(let count): return .object(["spam": .int(count)])
        case .progress(let fraction, let message):
            var fields: [String: JSONValue] = [:]
            if let fraction { fields["fraction"] = .double(fraction) }
            if let message { fields["message"] = .string(message) }
            return .object(["progress": .object(fields)])
        case .rateLimit(let message, let retryAfter):
            var fields: [String: JSONValue] = [:]
            if let message { fields["message"] = .string(message) }
            if let retryAfter { fields["retryAfter"] = .double(retryAfter) }
            return .object(["rateLimit": .object(fields)])
        }
    }
}

/// Why a fake-agent script was refused; `problems` are one sentence each, naming the turn and action.
public struct FakeScriptError: Error, CustomStringConvertible, Hashable, Sendable {
    public var problems: [String]

    public var description: String {
        "invalid fake agent script: " + problems.joined(separator: "; ")
    }
}
