import DroverProtocol
import Foundation

/// How a consensus step goes on and decides: pure functions of its spec and the answers so far.
///
/// The answering roles run at once, one attempt each (numbered in the order listed); once all have
/// ended, `vote` decides at once, or the judge runs as one more attempt. Only candidates that answered
/// take part: a vote needs more than half of the listed roles to have answered, a judge at least one.
/// A vote compares answers that parse as a JSON object or array as JSON (key order and spacing do not
/// matter), others as text with case and runs of whitespace ignored; the largest group of equal answers
/// wins, a tie goes to the group whose first answer came from the role listed first, and the winning
/// group's first answer (as written) is the output.
public enum ConsensusRules {
    /// What the step does next.
    public enum Next: Sendable, Hashable {
        /// The round is due: every listed role answers (`role` is the first listed that has not).
        case answer(role: String)
        /// Every role has answered or failed: run the judge.
        case judge(role: String)
        /// Every role has answered or failed: decide by vote.
        case vote
    }

    /// The next thing to run, given the answers of the open round.
    public static func next(_ spec: ConsensusSpec, answered: [EventBody.ConsensusCandidate]) -> Next {
        let done = Set(answered.map(\.role))
        if let role = spec.agents.first(where: { !done.contains($0) }) { return .answer(role: role) }
        if spec.strategy == .judge, let judge = spec.judge { return .judge(role: judge) }
        return .vote
    }

    /// The candidates of `round` that answered, in the order their roles are listed (their attempts' order).
    public static func answers(_ round: [EventBody.ConsensusCandidate]) -> [EventBody.ConsensusCandidate] {
        round.filter { $0.failure == nil }.sorted { $0.attempt < $1.attempt }
    }

    /// Whether a round whose roles have all ended can decide: a vote needs answers from more than half of
    /// the listed roles, a judge needs one.
    public static func canDecide(_ spec: ConsensusSpec, round: [EventBody.ConsensusCandidate]) -> Bool {
        let answered = answers(round).count
        return spec.strategy == .vote ? answered * 2 > spec.agents.count : answered >= 1
    }

    /// Why a round cannot decide: how many answered, what was needed, and each failed candidate's reason.
    public static func tooFewAnswers(_ spec: ConsensusSpec, round: [EventBody.ConsensusCandidate]) -> String {
        let needed = spec.strategy == .vote ? "more than half of the \(spec.agents.count) roles must answer to vote"
            : "the judge needs at least one answer"
        let failed = round.filter { $0.failure != nil }.sorted { $0.attempt < $1.attempt }
            .map { "'\($0.role)' (attempt \($0.attempt)): \($0.failure?.message ?? "")" }
        return "\(answers(round).count) of \(spec.agents.count) roles answered; \(needed). " + failed.joined(separator: "; ")
    }

    /// The candidate whose file changes the decision brings into the run's worktree: the one `decided`
    /// names in `changesFrom` (the vote's or judge's pick), else, for a judge's merged answer, the first
    /// answer (in listed order) that changed files; nil when that candidate changed nothing.
    public static func changes(of decided: EventBody.ConsensusDecided,
                               answers: [EventBody.ConsensusCandidate]) -> EventBody.ConsensusCandidate? {
        if let role = decided.changesFrom {
            return answers.first { $0.role == role && $0.commit != nil }
        }
        return decided.strategy == .judge ? answers.first { $0.commit != nil } : nil
    }

    /// Whether an attempt run as `role` is the judge's (every role has answered or failed).
    public static func isJudging(_ spec: ConsensusSpec, role: String?, answered: [EventBody.ConsensusCandidate]) -> Bool {
        guard let role, spec.strategy == .judge else { return false }
        return next(spec, answered: answered) == .judge(role: role)
    }

    /// The vote over `answers` (in the order the roles answered).
    public static func vote(stepId: String, answers: [EventBody.ConsensusCandidate]) -> EventBody.ConsensusDecided {
        var groups: [(key: VoteKey, members: [EventBody.ConsensusCandidate])] = []
        for answer in answers {
            let key = VoteKey(answer.output)
            if let index = groups.firstIndex(where: { $0.key == key }) {
                groups[index].members.append(answer)
            } else {
                groups.append((key, [answer]))
            }
        }
        // Only a strictly larger group replaces the best so far: a tie keeps the earlier one.
        var best = groups.first
        for group in groups.dropFirst() where group.members.count > (best?.members.count ?? 0) { best = group }
        guard let winners = best?.members, let first = winners.first else {
            return .init(stepId: stepId, strategy: .vote, winner: "", reasons: "no answers", output: "")
        }
        let roles = winners.map(\.role).joined(separator: ", ")
        let reasons = winners.count > 1
            ? "\(winners.count) of \(answers.count) answers agree (\(roles))"
            : "no two of the \(answers.count) answers agree; the tie goes to the role listed first, \(first.role)"
        return .init(stepId: stepId, strategy: .vote, winner: first.role, reasons: reasons, output: first.output, changesFrom: first.role)
    }

    /// The judge's prompt: the request as the roles saw it, every answer, and the reply it must give.
    public static func judgePrompt(request: String, answers: [EventBody.ConsensusCandidate]) -> String {
        var text = """
            Several agents answered the same request. Judge their answers: pick the best one, or merge them into a better one.

            The request:
            \(request)
            """
        for (index, answer) in answers.enumerated() {
            text += "\n\nAnswer \(index + 1), from role '\(answer.role)':\n\(answer.output)"
        }
        let roles = answers.map { "\"\($0.role)\"" }.joined(separator: ", ")
        text += """


            Reply with JSON only: {"winner": <one of \(roles)>, "reasons": "<why>"} to pick an answer as it is, \
            or {"output": "<the merged answer>", "reasons": "<why>", "changesFrom": <optional: the role whose file changes to keep>} \
            to merge them.
            """
        return text
    }

    /// Reads the judge's reply (`{"winner", "reasons"?}` or `{"output", "reasons"?}`, optionally in a
    /// ```json fence); the error says what was wrong with it.
    public static func verdict(stepId: String, judge: String, reply: String,
                               answers: [EventBody.ConsensusCandidate]) -> Result<EventBody.ConsensusDecided, JudgeReplyError> {
        let roles = answers.map(\.role)
        let expected = "expected {\"winner\": one of \(roles.joined(separator: ", ")), \"reasons\": …} or {\"output\": …, \"reasons\": …}"
        guard let open = reply.firstIndex(of: "{"), let close = reply.lastIndex(of: "}"), open < close,
              let object = (try? JSONParser().parse(Array(reply[open...close].utf8)))?.objectValue else {
            return .failure(JudgeReplyError(message: "the reply holds no JSON object; \(expected)"))
        }
        let reasons = object["reasons"]?.stringValue
        if let merged = object["output"]?.stringValue {
            let base = object["changesFrom"]?.stringValue.flatMap { role in roles.contains(role) ? role : nil }
            return .success(.init(stepId: stepId, strategy: .judge, winner: judge, reasons: reasons, output: merged, changesFrom: base))
        }
        guard let winner = object["winner"]?.stringValue else {
            return .failure(JudgeReplyError(message: "the reply has neither 'winner' nor 'output'; \(expected)"))
        }
        guard let chosen = answers.first(where: { $0.role == winner }) else {
            return .failure(JudgeReplyError(message: "'winner' is '\(winner)', which did not answer; \(expected)"))
        }
        return .success(.init(stepId: stepId, strategy: .judge, winner: winner, reasons: reasons, output: chosen.output, changesFrom: winner))
    }

    /// Why a judge's reply could not be read.
    public struct JudgeReplyError: Error, Sendable, Hashable {
        public var message: String
    }

    /// What a vote compares: JSON structure, or normalised text.
    enum VoteKey: Hashable {
        case json(JSONValue)
        case text(String)

        init(_ output: String) {
            let trimmed = output.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.first == "{" || trimmed.first == "[", let value = try? JSONParser().parse(Array(trimmed.utf8)) {
                self = .json(value)
            } else {
                self = .text(trimmed.split(whereSeparator: \.isWhitespace).joined(separator: " ").lowercased())
            }
        }
    }
}
