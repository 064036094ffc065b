import DroverProtocol
import Testing
@testable import DroverEngine

@Suite("ConsensusRules")
struct ConsensusRulesTests {
    typealias Answer = EventBody.ConsensusCandidate

    static func answers(_ pairs: [(String, String)]) -> [Answer] {
        pairs.enumerated().map { Answer(stepId: "s", attempt: $0.offset + 1, role: $0.element.0, output: $0.element.1) }
    }

    @Test("roles answer in the order listed, then the judge runs or the vote decides")
    func order() {
        let judged = ConsensusSpec(agents: ["a", "b"], strategy: .judge, judge: "j")
        #expect(ConsensusRules.next(judged, answered: []) == .answer(role: "a"))
        #expect(ConsensusRules.next(judged, answered: Self.answers([("a", "x")])) == .answer(role: "b"))
        #expect(ConsensusRules.next(judged, answered: Self.answers([("a", "x"), ("b", "y")])) == .judge(role: "j"))
        #expect(ConsensusRules.isJudging(judged, role: "j", answered: Self.answers([("a", "x"), ("b", "y")])))
        #expect(!ConsensusRules.isJudging(judged, role: "a", answered: []))
        let voted = ConsensusSpec(agents: ["a", "b"], strategy: .vote)
        #expect(ConsensusRules.next(voted, answered: Self.answers([("a", "x"), ("b", "y")])) == .vote)
    }

    @Test("a vote compares JSON as JSON (key order, spacing) and text without case or extra spaces")
    func voteEquality() {
        let json = ConsensusRules.vote(stepId: "s", answers: Self.answers([
            ("a", #"{"pick": 2}"#), ("b", #"{"choice": "x", "pick": 1}"#), ("c", "{ \"pick\" : 1, \"choice\":\"x\" }"),
        ]))
        #expect(json.winner == "b" && json.output == #"{"choice": "x", "pick": 1}"# && json.reasons == "2 of 3 answers agree (b, c)")
        let text = ConsensusRules.vote(stepId: "s", answers: Self.answers([("a", "No"), ("b", "  YES \n"), ("c", "yes")]))
        #expect(text.winner == "b" && text.output == "  YES \n")
        let tie = ConsensusRules.vote(stepId: "s", answers: Self.answers([("a", "x"), ("b", "y"), ("c", "y"), ("d", "x")]))
        #expect(tie.winner == "a", "equal groups: the one whose first answer came first wins")
    }

    @Test("a judge's reply: a winner, a merge, in a fence or not; anything else is refused with what was expected")
    func verdicts() throws {
        let answers = Self.answers([("a", "A!"), ("b", "B!")])
        let picked = try ConsensusRules.verdict(stepId: "s", judge: "j", reply: "```json\n{\"winner\": \"b\", \"reasons\": \"r\"}\n```",
                                                answers: answers).get()
        #expect(picked.winner == "b" && picked.output == "B!" && picked.reasons == "r" && picked.strategy == .judge)
        let merged = try ConsensusRules.verdict(stepId: "s", judge: "j", reply: #"{"output": "AB"}"#, answers: answers).get()
        #expect(merged.winner == "j" && merged.output == "AB" && merged.reasons == nil)
        for (reply, problem) in [("both are fine", "holds no JSON object"), (#"{"winner": "z"}"#, "'winner' is 'z', which did not answer"),
                                 (#"{"reasons": "r"}"#, "neither 'winner' nor 'output'")] {
            guard case .failure(let error) = ConsensusRules.verdict(stepId: "s", judge: "j", reply: reply, answers: answers) else {
                Issue.record("\(reply) was accepted")
                continue
            }
            #expect(error.message.contains(problem) && error.message.contains("one of a, b"), "\(error.message)")
        }
    }

    @Test("only candidates that answered count: a vote needs more than half of the listed roles, a judge one answer")
    func quorum() {
        let failure = Failure(kind: .agent, message: "broke", hint: "h")
        let round = [Answer(stepId: "s", attempt: 3, role: "c", output: "z"),
                     Answer(stepId: "s", attempt: 2, role: "b", output: "", failure: failure),
                     Answer(stepId: "s", attempt: 1, role: "a", output: "y")]
        #expect(ConsensusRules.answers(round).map(\.role) == ["a", "c"], "in the order listed, without the failed one")
        let vote3 = ConsensusSpec(agents: ["a", "b", "c"], strategy: .vote)
        #expect(ConsensusRules.canDecide(vote3, round: round))
        #expect(!ConsensusRules.canDecide(vote3, round: Array(round.dropFirst())))
        #expect(!ConsensusRules.canDecide(ConsensusSpec(agents: ["a", "b", "c", "d"], strategy: .vote), round: round), "2 of 4 is not more than half")
        let judged = ConsensusSpec(agents: ["a", "b"], strategy: .judge, judge: "j")
        #expect(ConsensusRules.canDecide(judged, round: [round[1], round[2]]))
        #expect(!ConsensusRules.canDecide(judged, round: [round[1]]))
        #expect(ConsensusRules.tooFewAnswers(vote3, round: Array(round.dropFirst()))
                == "1 of 3 roles answered; more than half of the 3 roles must answer to vote. 'b' (attempt 2): broke")
    }

    @Test("whose file changes a decision keeps: the winner's; for a merge, the one the judge names, else the first that changed files")
    func changes() throws {
        let answers = [Answer(stepId: "s", attempt: 1, role: "a", output: "A"),
                       Answer(stepId: "s", attempt: 2, role: "b", output: "B", commit: "b1"),
                       Answer(stepId: "s", attempt: 3, role: "c", output: "B", commit: "c1")]
        #expect(ConsensusRules.changes(of: ConsensusRules.vote(stepId: "s", answers: answers), answers: answers)?.role == "b")
        let picked = try ConsensusRules.verdict(stepId: "s", judge: "j", reply: #"{"winner": "a"}"#, answers: answers).get()
        #expect(picked.changesFrom == "a" && ConsensusRules.changes(of: picked, answers: answers) == nil, "a changed nothing")
        let named = try ConsensusRules.verdict(stepId: "s", judge: "j", reply: #"{"output": "AB", "changesFrom": "c"}"#, answers: answers).get()
        #expect(ConsensusRules.changes(of: named, answers: answers)?.commit == "c1")
        let merged = try ConsensusRules.verdict(stepId: "s", judge: "j", reply: #"{"output": "AB", "changesFrom": "zz"}"#, answers: answers).get()
        #expect(merged.changesFrom == nil && ConsensusRules.changes(of: merged, answers: answers)?.role == "b")
    }
}
