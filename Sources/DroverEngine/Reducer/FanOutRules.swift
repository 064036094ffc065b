import DroverProtocol
import Foundation

/// Fan-out steps as pure functions: reading the subtasks from a step's output, what a merge
/// conflict asks, and `{{children}}`.
public enum FanOutRules {
    /// The options of the decision a child's merge conflict raises.
    public static let retryChild = "retry the child on top of the parent"
    public static let skipChild = "skip the child"
    public static let failRun = "fail the run"
    public static let conflictOptions = [retryChild, skipChild, failRun]

    /// The subtasks a step's output lists: a JSON array (optionally in a ```json fence, or after some
    /// text) of strings or of objects with a `task` string. The error says what was wrong.
    public static func subtasks(from output: String, limit: Int) -> Result<[String], SubtaskError> {
        let expected = "a fan-out step's output must be a JSON list of subtasks, e.g. [\"add the parser\", \"add the tests\"] "
            + "or [{\"task\": \"…\"}]"
        guard let open = output.firstIndex(of: "["), let close = output.lastIndex(of: "]"), open < close,
              let items = (try? JSONParser().parse(Array(output[open...close].utf8)))?.arrayValue else {
            return .failure(SubtaskError(message: "\(expected); it holds no JSON list"))
        }
        var tasks: [String] = []
        for (index, item) in items.enumerated() {
            let text = item.stringValue ?? item.objectValue?["task"]?.stringValue
            guard let task = text?.trimmingCharacters(in: .whitespacesAndNewlines), !task.isEmpty else {
                return .failure(SubtaskError(message: "\(expected); item \(index + 1) is neither a non-empty text nor {\"task\": text}"))
            }
            tasks.append(task)
        }
        guard tasks.count <= limit else {
            return .failure(SubtaskError(message: "the step listed \(tasks.count) subtasks, more than its fanOut.maxChildren (\(limit))"))
        }
        return .success(tasks)
    }

    /// Why a step's output could not be read as subtasks.
    public struct SubtaskError: Error, Sendable, Hashable {
        public var message: String
    }

    /// The question a child's merge conflict asks.
    public static func conflictQuestion(child: ChildRun, files: [String]) -> String {
        let list = files.isEmpty ? "" : " (conflicting: \(files.joined(separator: ", ")))"
        return "The change of child run \(child.runId) (\"\(child.task)\") conflicts with the parent's work\(list). "
            + "Retry the child on top of the parent's work, skip its change, or fail the run?"
    }

    /// `{{children}}`: each child of `fanOut` in merge order — run id, task, status, its last step's
    /// output, its failure message, and what became of its change — as a JSON array.
    public static func childrenJSON(_ fanOut: RunHistory.FanOut, runs: [String: Run]) -> String {
        let items: [JSONValue] = fanOut.children.map { child in
            var item: [String: JSONValue] = ["runId": .string(child.runId), "task": .string(child.task)]
            if let run = runs[child.runId] {
                item["status"] = .string(run.status.rawValue)
                if let output = run.steps.last(where: { $0.state == .done })?.output { item["output"] = .string(output) }
                if let failure = run.failure { item["failure"] = .string(failure.message) }
            }
            if let outcome = fanOut.settled[child.runId] { item["merge"] = .string(outcome.rawValue) }
            return .object(item)
        }
        return String(decoding: JSONValueEncoder.encodeBytes(JSONValue.array(items)), as: UTF8.self)
    }
}
