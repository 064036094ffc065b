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
