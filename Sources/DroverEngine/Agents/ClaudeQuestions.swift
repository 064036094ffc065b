import DroverProtocol
import Synchronization

/// Claude Code's own question tool, `AskUserQuestion` (input `questions: [{question, header, options:
/// [{label, description}], multiSelect}]`): each question becomes a decision whose options are its labels,
/// raised one after another; once all are answered the tool call is allowed with `answers` (question text →
/// chosen label) added to its input, which is how the Claude Agent SDK answers it, and Claude goes on.
enum ClaudeQuestions {
    static let toolName = "AskUserQuestion"

    /// The requests for the questions of one `can_use_tool` call; empty when the input holds no question
    /// with options (the caller denies the call then).
    static func requests(input: JSONValue, answer: @escaping @Sendable (QuestionsAnswer) -> Void) -> [AgentPermissionRequest] {
        let questions = (input["questions"]?.arrayValue ?? []).compactMap(Question.init)
        guard !questions.isEmpty, questions.count == input["questions"]?.arrayValue?.count else { return [] }
        let collector = AnswerCollector(questions: questions.map(\.text), deliver: answer)
        return questions.enumerated().map { index, question in
            AgentPermissionRequest(question: question.decisionText, options: question.labels, reply: AgentReply { reply in
                collector.record(reply, for: index)
            })
        }
    }

    /// One question as Claude asked it.
    struct Question {
        var text: String
        var header: String?
        var labels: [String]
        var descriptions: [String?]
        var multiSelect: Bool

        init?(_ value: JSONValue) {
            guard let text = value["question"]?.stringValue, !text.isEmpty else { return nil }
            let options = (value["options"]?.arrayValue ?? []).compactMap { option -> (String, String?)? in
                guard let label = option["label"]?.stringValue, !label.isEmpty else { return nil }
                return (label, option["description"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 })
            }
            // Labels are the decision's options: they must be there and tell apart.
            guard !options.isEmpty, Set(options.map(\.0)).count == options.count else { return nil }
            self.text = text
            header = value["header"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
            labels = options.map(\.0)
            descriptions = options.map(\.1)
            multiSelect = value["multiSelect"] == .bool(true)
        }

        /// The decision's question: the header, the question, what each option means, and for a
        /// multi-select question that one option is taken.
        var decisionText: String {
            var lines = [header.map { "\($0): \(text)" } ?? text]
            for (label, description) in zip(labels, descriptions) {
                if let description { lines.append("- \(label): \(description)") }
            }
            if multiSelect { lines.append("(Claude allows several answers; drover sends the one chosen.)") }
            return lines.joined(separator: "\n")
        }
    }

    /// What goes back to Claude for one `AskUserQuestion` call.
    enum QuestionsAnswer: Sendable, Equatable {
        /// Every question answered: question text → label.
        case answered([String: String])
        /// Nobody will answer (the run was cancelled): the tool call is denied with this reason.
        case withdrawn(String)
    }

    /// Gathers the answers of one call's questions, and delivers once: when the last is answered, or at the
    /// first withdrawal.
    final class AnswerCollector: Sendable {
        private struct State {
            var answers: [String?]
            var delivered = false
        }
        private let questions: [String]
        private let state: Mutex<State>
        private let deliver: @Sendable (QuestionsAnswer) -> Void

        init(questions: [String], deliver: @escaping @Sendable (QuestionsAnswer) -> Void) {
            self.questions = questions
            self.deliver = deliver
            state = Mutex(State(answers: Array(repeating: nil, count: questions.count)))
        }

        func record(_ reply: AgentAnswer, for index: Int) {
            let ready: QuestionsAnswer? = state.withLock { state in
                guard !state.delivered else { return nil }
                switch reply {
                case .withdrawn(let reason):
                    state.delivered = true
                    return .withdrawn(reason)
                case .chosen(let label, _):
                    state.answers[index] = label
                    guard !state.answers.contains(nil) else { return nil }
                    state.delivered = true
                    var answers: [String: String] = [:]
                    for (question, answer) in zip(questions, state.answers) { answers[question] = answer }
                    return .answered(answers)
                }
            }
            if let ready { deliver(ready) }
        }
    }
}
