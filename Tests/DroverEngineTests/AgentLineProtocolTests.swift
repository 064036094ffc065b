import DroverEngine
import Testing

@Suite("AgentLineProtocol")
struct AgentLineProtocolTests {
    static let cases: [(line: String, expected: AgentLine)] = [
        // Protocol messages.
        (#"{"type":"log","text":"hello"}"#, .log("hello")),
        (#"  {"type":"log","text":"padded"}  "#, .log("padded")),
        (#"{"type":"progress","fraction":0.5,"message":"half"}"#, .progress(fraction: 0.5, message: "half")),
        (#"{"type":"progress","fraction":1}"#, .progress(fraction: 1, message: nil)),
        (#"{"type":"progress","message":"thinking"}"#, .progress(fraction: nil, message: "thinking")),
        (#"{"type":"usage","model":"m1","inputTokens":10,"outputTokens":20}"#,
         .usage(model: "m1", inputTokens: 10, outputTokens: 20, costUSD: nil)),
        (#"{"type":"usage","model":"m1","inputTokens":10,"outputTokens":20,"costUSD":0.25}"#,
         .usage(model: "m1", inputTokens: 10, outputTokens: 20, costUSD: 0.25)),
        (#"{"type":"decision","question":"Which?","options":["a","b"]}"#, .decision(question: "Which?", options: ["a", "b"])),
        (#"{"type":"result","output":"done\nfine"}"#, .result(output: "done\nfine")),
        (#"{"type":"result","output":"","extra":{"ignored":true}}"#, .result(output: "")),
        (#"{"output":"key order does not matter","type":"result"}"#, .result(output: "key order does not matter")),
        (#"{"type":"log","text":"x","fraction":"irrelevant field of another type"}"#, .log("x")),
        // Plain lines.
        ("", .log("")),
        ("just text", .log("just text")),
        ("   indented text", .log("   indented text")),
        ("{not json", .log("{not json")),
        ("[1, 2]", .log("[1, 2]")),
        (#"{"no":"type"}"#, .log(#"{"no":"type"}"#)),
        (#"{"type":"unknown","text":"x"}"#, .log(#"{"type":"unknown","text":"x"}"#)),
        (#"{"type":42}"#, .log(#"{"type":42}"#)),
        (#"{"type":"log"}"#, .log(#"{"type":"log"}"#)),
        (#"{"type":"log","text":5}"#, .log(#"{"type":"log","text":5}"#)),
        (#"{"type":"progress","fraction":"half"}"#, .log(#"{"type":"progress","fraction":"half"}"#)),
        (#"{"type":"usage","model":"m","inputTokens":1}"#, .log(#"{"type":"usage","model":"m","inputTokens":1}"#)),
        (#"{"type":"usage","model":"m","inputTokens":-1,"outputTokens":2}"#,
         .log(#"{"type":"usage","model":"m","inputTokens":-1,"outputTokens":2}"#)),
        (#"{"type":"decision","question":"Q","options":[]}"#, .log(#"{"type":"decision","question":"Q","options":[]}"#)),
        (#"{"type":"decision","question":"Q","options":[1]}"#, .log(#"{"type":"decision","question":"Q","options":[1]}"#)),
        (#"{"type":"decision","options":["a"]}"#, .log(#"{"type":"decision","options":["a"]}"#)),
        (#"{"type":"result"}"#, .log(#"{"type":"result"}"#)),
        (#"{"type":"result","output":{"nested":1}}"#, .log(#"{"type":"result","output":{"nested":1}}"#)),
        (#"{"type":"result","output":"x"} trailing"#, .log(#"{"type":"result","output":"x"} trailing"#)),
        // Numbers as JSON writes them, and null as absent.
        (#"{"type":"usage","model":"m","inputTokens":10.0,"outputTokens":2,"costUSD":1}"#,
         .usage(model: "m", inputTokens: 10, outputTokens: 2, costUSD: 1)),
        (#"{"type":"usage","model":"m","inputTokens":10.5,"outputTokens":2}"#,
         .log(#"{"type":"usage","model":"m","inputTokens":10.5,"outputTokens":2}"#)),
        (#"{"type":"progress","fraction":null,"message":null}"#, .progress(fraction: nil, message: nil)),
        (#"{"type":"result","output":null}"#, .log(#"{"type":"result","output":null}"#)),
        (#"{"type":null,"output":"x"}"#, .log(#"{"type":null,"output":"x"}"#)),
        (#"{"type":"session","id":"s-1","output":7}"#, .session(id: "s-1")),
        (#"{"type":"rate_limited","retryAfterSeconds":"soon"}"#, .log(#"{"type":"rate_limited","retryAfterSeconds":"soon"}"#)),
        (#"{"type":"rate_limited","message":"slow down","retryAfterSeconds":30}"#,
         .rateLimited(message: "slow down", retryAfterSeconds: 30)),
    ]

    @Test("parses a line", arguments: cases)
    func parse(_ testCase: (line: String, expected: AgentLine)) {
        #expect(AgentLine.parse(testCase.line) == testCase.expected)
    }

    static let protocolLines: [AgentLine] = [
        .log("say \"hi\" / bye"),
        .progress(fraction: 0.25, message: "quarter"),
        .progress(fraction: nil, message: nil),
        .usage(model: "gpt", inputTokens: 1, outputTokens: 2, costUSD: 0.5),
        .usage(model: "gpt", inputTokens: 0, outputTokens: 0, costUSD: nil),
        .decision(question: "Proceed?", options: ["yes", "no"]),
        .result(output: "multi\nline\u{1F600}"),
    ]

    @Test("encoded lines parse back to themselves", arguments: protocolLines)
    func roundTrip(_ line: AgentLine) {
        #expect(!line.encoded.contains("\n"))
        #expect(AgentLine.parse(line.encoded) == line)
    }
}
