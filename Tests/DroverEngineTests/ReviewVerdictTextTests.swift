import DroverEngine
import Testing

@Suite struct ReviewVerdictTextTests {
    @Test func aVerdictIsReadFromJSONInAFenceOrProseAndFindingObjectsBecomeText() throws {
        let fenced = try ReviewVerdictText.parse("My verdict:\n```json\n{\"score\": 1, \"findings\": [{\"file\": \"a.swift\", \"line\": 3, \"severity\": \"nit\", \"message\": \"rename x\"}]}\n```").get()
        #expect(fenced.score == 1 && fenced.findings == ["a.swift:3 [nit] rename x"])
        let prose = try ReviewVerdictText.parse(#"I'd say {"score": 0.25, "findings": ["no tests"]} overall."#).get()
        #expect(prose.score == 0.25 && prose.findings == ["no tests"])
        #expect(prose.output.contains(#""score":0.25"#) && prose.output.contains(#""findings":["no tests"]"#))
    }

    @Test(arguments: [
        ("LGTM", "the reply is not JSON"),
        (#"[0.9]"#, "the reply is JSON but not an object with 'score' and 'findings'"),
        (#"{"findings": []}"#, "the reply has no 'score'"),
        (#"{"score": "high", "findings": []}"#, "'score' is not a number"),
        (#"{"score": 8, "findings": []}"#, "'score' is 8.0, outside 0…1"),
        (#"{"score": 0.9}"#, "the reply has no 'findings' (use [] for none)"),
        (#"{"score": 0.9, "findings": [3]}"#, "finding 1 is neither a text nor an object with a 'message'"),
    ])
    func whatIsWrongWithAReplyIsSaid(reply: String, problem: String) {
        guard case .failure(let found) = ReviewVerdictText.parse(reply) else {
            Issue.record("\(reply) was read as a verdict")
            return
        }
        #expect(found.description == problem)
    }
}
