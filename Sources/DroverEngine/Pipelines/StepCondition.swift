import DroverProtocol
import Foundation

/// A step's `when`: run the step only if a value in an earlier step's JSON output matches.
///
/// `{"step": "estimate", "path": "size", "in": ["medium", "large"]}` — `path` is a dotted path into
/// the output (object keys; a whole number picks an array element; absent or `""` is the whole output),
/// and exactly one test: `equals` / `notEquals` (a JSON value) or `in` / `notIn` (a list of them).
/// Declarative on purpose: nothing in a pipeline file is ever executed.
public struct StepCondition: Sendable, Hashable {
    /// How the value is tested.
    public enum Test: Sendable, Hashable {
        case equals(JSONValue)
        case notEquals(JSONValue)
        case isIn([JSONValue])
        case notIn([JSONValue])

        /// The field it is written as.
        var field: String {
            switch self {
            case .equals: "equals"
            case .notEquals: "notEquals"
            case .isIn: "in"
            case .notIn: "notIn"
            }
        }

        static let fields = ["equals", "notEquals", "in", "notIn"]
    }

    /// The earlier step whose output is read.
    public var step: String
    /// Dotted path into that output's JSON; empty for the whole output.
    public var path: String
    public var test: Test

    public init(step: String, path: String = "", test: Test) {
        self.step = step
        self.path = path
        self.test = test
    }

    /// What the condition says, for people: `estimate.size in ["medium", "large"]`.
    public var summary: String {
        let place = path.isEmpty ? "the output of '\(step)'" : "\(step).\(path)"
        switch test {
        case .equals(let value): return "\(place) equals \(Self.text(value))"
        case .notEquals(let value): return "\(place) does not equal \(Self.text(value))"
        case .isIn(let values): return "\(place) in \(Self.text(.array(values)))"
        case .notIn(let values): return "\(place) not in \(Self.text(.array(values)))"
        }
    }

    /// Why the condition cannot be evaluated; `description` names the step and the path.
    public struct Unevaluable: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    /// The outcome of evaluating: whether the step runs, and the value found (for the skip reason).
    public struct Outcome: Sendable, Hashable {
        public var holds: Bool
        /// E.g. `estimate.size is "small", not in ["medium", "large"]`.
        public var reason: String
    }

    /// Evaluates against the run's step outputs (`nil`: the step has none — not run, or skipped).
    public func evaluate(output: String?) throws(Unevaluable) -> Outcome {
        let where_ = "the 'when' of this step reads '\(path.isEmpty ? "(the whole output)" : path)' of step '\(step)'"
        guard let output else {
            throw Unevaluable(description: "\(where_), but step '\(step)' has no output (it was skipped or has not run)")
        }
        guard let json = StepOutputJSON.parse(output) else {
            throw Unevaluable(description: "\(where_), but its output is not JSON: \(StepOutputJSON.excerpt(output))")
        }
        let value: JSONValue
        switch Self.lookup(path, in: json) {
        case .success(let found): value = found
        case .failure(let problem): throw Unevaluable(description: "\(where_), but \(problem)")
        }
        let holds: Bool
        switch test {
        case .equals(let expected): holds = Self.same(value, expected)
        case .notEquals(let expected): holds = !Self.same(value, expected)
        case .isIn(let list): holds = list.contains { Self.same(value, $0) }
        case .notIn(let list): holds = !list.contains { Self.same(value, $0) }
        }
        let place = path.isEmpty ? "the output of '\(step)'" : "\(step).\(path)"
        let verdict = holds ? "so the step runs" : "so the step is not needed"
        return Outcome(holds: holds, reason: "\(place) is \(Self.text(value)); the condition is \(summary) — \(verdict)")
    }

    /// The value at a dotted path, or why there is none.
    static func lookup(_ path: String, in json: JSONValue) -> Result<JSONValue, LookupProblem> {
        var current = json
        var walked: [String] = []
        for segment in path.split(separator: ".", omittingEmptySubsequences: false).map(String.init) where !path.isEmpty {
            let at = walked.isEmpty ? "the output" : "'\(walked.joined(separator: "."))'"
            switch current {
            case .object(let members):
                guard let next = members[segment] else {
                    let keys = members.keys.sorted().map { "'\($0)'" }.joined(separator: ", ")
                    return .failure(LookupProblem(description: "\(at) has no member '\(segment)' (it has \(keys.isEmpty ? "none" : keys))"))
                }
                current = next
            case .array(let items):
                guard let index = Int(segment), index >= 0, index < items.count else {
                    return .failure(LookupProblem(description: "\(at) is a list of \(items.count); '\(segment)' is not an index in it"))
                }
                current = items[index]
            default:
                return .failure(LookupProblem(description: "\(at) is \(text(current)), which has no member '\(segment)'"))
            }
            walked.append(segment)
        }
        return .success(current)
    }

    struct LookupProblem: Error, CustomStringConvertible {
        var description: String
    }

    /// JSON equality where 2 and 2.0 are the same number.
    static func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.int(let x), .double(let y)), (.double(let y), .int(let x)): return Double(x) == y
        default: return a == b
        }
    }

    static func text(_ value: JSONValue) -> String {
        let bytes = JSONValueEncoder.encodeBytes(value)
        let text = String(decoding: bytes, as: UTF8.self)
        return text.count > 120 ? String(text.prefix(117)) + "…" : text
    }
}

/// Reading an agent's reply as JSON: the whole text, else the one fenced code block in it, else the
/// text from its first `{` to its last `}` (agents like to wrap JSON in prose or a ```json fence).
public enum StepOutputJSON {
    /// The JSON in `text`, if any.
    public static func parse(_ text: String) -> JSONValue? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if let whole = try? JSONParser().parse(Array(trimmed.utf8)) { return whole }
        if let fence = fencedBlock(trimmed), let fenced = try? JSONParser().parse(Array(fence.utf8)) { return fenced }
        if let open = trimmed.firstIndex(of: "{"), let close = trimmed.lastIndex(of: "}"), open < close,
           let braced = try? JSONParser().parse(Array(trimmed[open...close].utf8)) {
            return braced
        }
        return nil
    }

    /// The first lines of a text, for a message.
    public static func excerpt(_ text: String, characters: Int = 200) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return "(empty)" }
        return trimmed.count > characters ? "\"\(trimmed.prefix(characters))…\"" : "\"\(trimmed)\""
    }

    private static func fencedBlock(_ text: String) -> String? {
        guard let open = text.range(of: "```") else { return nil }
        let afterOpen = text[open.upperBound...]
        guard let newline = afterOpen.firstIndex(of: "\n") else { return nil }
        let body = afterOpen[afterOpen.index(after: newline)...]
        guard let close = body.range(of: "```") else { return nil }
        return String(body[..<close.lowerBound])
    }
}

extension StepCondition: Codable {
    /// Its pipeline-file form; `PipelineValidator.validateCondition` reads files with messages per field.
    public var json: JSONValue {
        var object: [String: JSONValue] = ["step": .string(step)]
        if !path.isEmpty { object["path"] = .string(path) }
        switch test {
        case .equals(let value), .notEquals(let value): object[test.field] = value
        case .isIn(let values), .notIn(let values): object[test.field] = .array(values)
        }
        return .object(object)
    }

    public init(from decoder: Decoder) throws {
        let (condition, errors) = PipelineValidator.validateCondition(try JSONValue(from: decoder), field: "when")
        guard let condition, errors.isEmpty else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: errors.joined(separator: "; ")))
        }
        self = condition
    }

    public func encode(to encoder: Encoder) throws {
        try json.encode(to: encoder)
    }
}
