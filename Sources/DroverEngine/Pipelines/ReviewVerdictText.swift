import DroverProtocol
import Foundation

/// A review step's verdict as text: what the reviewer is asked to reply, how its reply is read, and
/// how a verdict is told to the step that re-runs with it.
///
/// The reply is JSON `{"score": <number in [0, 1]>, "findings": [<string or {"message", "file"?, "line"?,
/// "severity"?}>, …]}`, read like any step output (`StepOutputJSON`: whole, fenced, or braced).
public enum ReviewVerdictText {
    /// A reply read as a verdict.
    public struct Verdict: Sendable, Hashable {
        public var score: Double
        public var findings: [String]

        /// The review step's output: the verdict as compact JSON (`{"score", "findings"}`).
        public var output: String {
            let value = JSONValue.object(["score": .double(score), "findings": .array(findings.map(JSONValue.string))])
            return String(decoding: JSONValueEncoder.encodeBytes(value), as: UTF8.self)
        }
    }

    /// Reads a reviewer's reply; the error says what is wrong with it, for the repair prompt and the failure.
    public static func parse(_ text: String) -> Result<Verdict, Problem> {
        guard let json = StepOutputJSON.parse(text) else {
            return .failure(Problem(description: "the reply is not JSON"))
        }
        guard let object = json.objectValue else {
            return .failure(Problem(description: "the reply is JSON but not an object with 'score' and 'findings'"))
        }
        let score: Double
        switch object["score"] {
        case .int(let value)?: score = Double(value)
        case .double(let value)?: score = value
        case nil: return .failure(Problem(description: "the reply has no 'score'"))
        default: return .failure(Problem(description: "'score' is not a number"))
        }
        guard score >= 0, score <= 1 else { return .failure(Problem(description: "'score' is \(score), outside 0…1")) }
        guard let items = object["findings"]?.arrayValue else {
            return .failure(Problem(description: object["findings"] == nil ? "the reply has no 'findings' (use [] for none)" : "'findings' is not a list"))
        }
        var findings: [String] = []
        for (index, item) in items.enumerated() {
            guard let finding = findingText(item) else {
                return .failure(Problem(description: "finding \(index + 1) is neither a text nor an object with a 'message'"))
            }
            findings.append(finding)
        }
        return .success(Verdict(score: score, findings: findings))
    }

    /// Why a reply is not a verdict.
    public struct Problem: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    /// `"text"`, or `{"message", "file"?, "line"?, "severity"?}` as `file:line [severity] message`.
    private static func findingText(_ item: JSONValue) -> String? {
        if let text = item.stringValue { return text }
        guard let object = item.objectValue, let message = (object["message"] ?? object["text"])?.stringValue else { return nil }
        var place = object["file"]?.stringValue ?? ""
        switch object["line"] {
        case .int(let line)?: place += ":\(line)"
        case .string(let line)?: place += ":\(line)"
        default: break
        }
        let severity = object["severity"]?.stringValue.map { "[\($0)] " } ?? ""
        return (place.isEmpty ? "" : place + " ") + severity + message
    }

    /// What the engine appends to a reviewer's prompt: the output under review, its own earlier
    /// findings (from the second round on), and the reply it must give.
    static func reviewerBlock(reviews: String, output: String, threshold: Double, previous: EventBody.ReviewVerdict?) -> String {
        var lines = ["", "", "---", "The output of step '\(reviews)' under review:", output]
        if let previous {
            lines += ["", "Your review of round \(previous.round) scored it \(number(previous.score)) and found:"]
            lines += previous.findings.isEmpty ? ["(nothing)"] : previous.findings.map { "- \($0)" }
            lines.append("Check whether these were addressed.")
        }
        lines += [
            "",
            "Reply with only a JSON object, no other text:",
            #"{"score": <a number from 0 to 1>, "findings": ["<one problem per item: where, how serious, what to do>"]}"#,
            "A score of \(number(threshold)) or more passes; below it, the findings go back to step '\(reviews)' to rework.",
        ]
        return lines.joined(separator: "\n")
    }

    /// Appended to the reviewer's prompt after a reply that was not a verdict.
    static func repairBlock(_ malformed: EventBody.ReviewMalformed) -> String {
        ["", "", "---", "Your previous reply could not be read as a verdict: \(malformed.problem). It was:", malformed.text, "",
         "Reply again with only the JSON object described above."].joined(separator: "\n")
    }

    /// A verdict below the threshold as feedback in the reviewed step's re-run prompt.
    static func feedback(_ verdict: EventBody.ReviewVerdict) -> String {
        let head = "review '\(verdict.stepId)' (round \(verdict.round)) scored it \(number(verdict.score)), "
            + "below the \(number(verdict.threshold)) needed."
        guard !verdict.findings.isEmpty else { return head + " It listed no findings." }
        return head + " Findings:\n" + verdict.findings.map { "- \($0)" }.joined(separator: "\n")
    }

    /// The question of the decision raised when the rounds are spent.
    static func roundsSpentQuestion(_ verdict: EventBody.ReviewVerdict) -> String {
        "Review '\(verdict.stepId)' of step '\(verdict.reviews)' still scores \(number(verdict.score)) (needs \(number(verdict.threshold))) "
            + "after \(verdict.round) round(s)" + (verdict.findings.isEmpty ? "." : ": " + verdict.findings.joined(separator: "; "))
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
