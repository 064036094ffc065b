import Foundation

/// Prompt templates: `{{task}}`, `{{steps.<id>.output}}`, `{{previous.output}}`, `{{inputs.<k>}}`, and for
/// isolated runs `{{diff}}` / `{{diff.stat}}` (the run's change so far) and `{{tests.summary}}` (the
/// latest tests step's outcome), `{{children}}` (the latest fan-out's child runs as JSON).
///
/// A placeholder is `{{`, optional spaces, a name of letters, digits, `.`, `_`, `-`, optional
/// spaces, `}}`; anything else between braces is left as written. Pipeline validation rejects
/// unknown names and references to the same or later steps, so at run time every name is known;
/// a value that is missing then (an input not passed, a step without output) renders as empty.
public enum Template {
    /// A placeholder's meaning.
    public enum Reference: Sendable, Hashable {
        case task
        case stepOutput(String)
        case previousOutput
        case input(String)
        case diff
        case diffStat
        case testsSummary
        case children
        case unknown(String)
    }

    /// The values a template is rendered with.
    public struct Context: Sendable, Hashable {
        public var task: String
        public var inputs: [String: String]
        /// Outputs of the steps done so far, by id.
        public var stepOutputs: [String: String]
        /// Output of the step just before this one.
        public var previousOutput: String?
        /// The run's change so far (unified diff) and its `git diff --stat`.
        public var diff: String?
        public var diffStat: String?
        public var testsSummary: String?
        /// The latest fan-out step's children and what became of them, as JSON.
        public var children: String?

        public init(task: String, inputs: [String: String] = [:], stepOutputs: [String: String] = [:], previousOutput: String? = nil,
                    diff: String? = nil, diffStat: String? = nil, testsSummary: String? = nil) {
            self.task = task
            self.inputs = inputs
            self.stepOutputs = stepOutputs
            self.previousOutput = previousOutput
            self.diff = diff
            self.diffStat = diffStat
            self.testsSummary = testsSummary
        }
    }

    /// Parses a placeholder name.
    public static func reference(_ name: String) -> Reference {
        if name == "task" { return .task }
        if name == "previous.output" { return .previousOutput }
        if name == "diff" { return .diff }
        if name == "diff.stat" { return .diffStat }
        if name == "tests.summary" { return .testsSummary }
        if name == "children" { return .children }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 3, parts[0] == "steps", parts[2] == "output", !parts[1].isEmpty { return .stepOutput(parts[1]) }
        if parts.count >= 2, parts[0] == "inputs" {
            let key = parts.dropFirst().joined(separator: ".")
            if !key.isEmpty { return .input(key) }
        }
        return .unknown(name)
    }

    /// Every placeholder in `template`, in order.
    public static func references(in template: String) -> [Reference] {
        var found: [Reference] = []
        _ = substitute(template) { name in
            found.append(reference(name))
            return ""
        }
        return found
    }

    /// Renders `template`; unknown or missing values become empty text.
    public static func render(_ template: String, context: Context) -> String {
        substitute(template) { name in
            switch reference(name) {
            case .task: context.task
            case .stepOutput(let id): context.stepOutputs[id] ?? ""
            case .previousOutput: context.previousOutput ?? ""
            case .input(let key): context.inputs[key] ?? ""
            case .diff: context.diff ?? ""
            case .diffStat: context.diffStat ?? ""
            case .testsSummary: context.testsSummary ?? ""
            case .children: context.children ?? "[]"
            case .unknown: ""
            }
        }
    }

    /// Walks `template`, replacing each `{{name}}` with `replace(name)`; where that is nil the
    /// placeholder stays as written. The one placeholder scanner (pipelines and the fake agent use it).
    public static func substitute(_ template: String, _ replace: (String) -> String?) -> String {
        var output = ""
        var rest = template[...]
        while let open = firstPair(of: UInt8(ascii: "{"), in: rest) {
            output += rest[..<open.lowerBound]
            let afterOpen = rest[open.upperBound...]
            guard let close = firstPair(of: UInt8(ascii: "}"), in: afterOpen) else {
                output += rest[open.lowerBound...]
                return output
            }
            let inner = afterOpen[..<close.lowerBound]
            let name = inner.trimmingSpaces()
            if !name.isEmpty, name.allSatisfy(isNameCharacter) {
                output += replace(String(name)) ?? String(rest[open.lowerBound..<close.upperBound])
                rest = afterOpen[close.upperBound...]
            } else {
                output += "{"
                rest = rest[rest.index(after: open.lowerBound)...]
            }
        }
        output += rest
        return output
    }

    /// Where two `byte`s in a row (`{{`, `}}`) first are in `text`: a scan of its UTF-8 bytes, since
    /// Foundation's `range(of:)` cost more than the rest of rendering a prompt at every attempt.
    private static func firstPair(of byte: UInt8, in text: Substring) -> Range<Substring.Index>? {
        let bytes = text.utf8
        var from = bytes.startIndex
        while let found = bytes[from...].firstIndex(of: byte) {
            let next = bytes.index(after: found)
            guard next < bytes.endIndex else { return nil }
            if bytes[next] == byte { return found..<bytes.index(after: next) }
            from = next
        }
        return nil
    }

    private static func isNameCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "." || c == "_" || c == "-")
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        var slice = self
        while slice.first == " " { slice = slice.dropFirst() }
        while slice.last == " " { slice = slice.dropLast() }
        return slice
    }
}
