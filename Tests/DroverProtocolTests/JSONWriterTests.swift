import DroverProtocol
import Foundation
import Testing

@Suite("JSONWriter")
struct JSONWriterTests {
    @Test("strings round-trip through a JSON parser", arguments: [
        "", "plain", "quote \" and backslash \\", "new\nline\r\ttab", "control \u{01}\u{1F}", "é ü 🐑 中文", "slash / stays",
    ])
    func stringsRoundTrip(_ text: String) throws {
        var bytes: [UInt8] = []
        JSONWriter.appendString(text, to: &bytes)
        let decoded = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) as? String
        #expect(decoded == text)
    }

    @Test("integers are written as Swift prints them, the extremes included", arguments: [0, 7, -1, 10, -32601, 1_000_000, Int.max, Int.min])
    func integers(_ number: Int) {
        var bytes = Array("x".utf8)
        JSONWriter.appendInteger(number, to: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == "x" + String(number))
    }

    @Test("an error object decodes to the same ResponseError")
    func errorRoundTrip() throws {
        let errors: [ResponseError] = [
            .methodNotFound("x/\"y\""), .notFound("run", "r-1"),
            .invalidParams("bad", data: .object(["supported": .array([.int(1)]), "requested": .int(7), "f": .double(1.5), "n": .null, "b": .bool(true)])),
        ]
        for error in errors {
            let decoded = try JSONDecoder().decode(ResponseError.self, from: Data(error.jsonBytes))
            #expect(decoded == error)
        }
    }
}
