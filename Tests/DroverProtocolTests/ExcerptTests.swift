import DroverProtocol
import Testing

@Suite("Excerpt: a client's text quoted in an error message")
struct ExcerptTests {
    @Test("short text is quoted whole")
    func short() {
        #expect(Excerpt.of("r-1") == "r-1")
        #expect(Excerpt.of(String(repeating: "é", count: Excerpt.maxCharacters)) == String(repeating: "é", count: Excerpt.maxCharacters))
    }

    @Test("long text: its start, then its size in bytes")
    func long() {
        let id = String(repeating: "x", count: 1_000_000)
        #expect(Excerpt.of(id) == String(repeating: "x", count: Excerpt.maxCharacters) + "… (1000000 bytes)")
    }

    @Test("an unknown id or method a megabyte long gets an answer of a few hundred bytes, not a megabyte")
    func errorsQuoteInPart() {
        let huge = String(repeating: "y", count: 1 << 20)
        for error in [ResponseError.notFound("run", huge), .methodNotFound(huge)] {
            #expect(error.jsonBytes.count < 300, "\(error.message.prefix(200))")
            #expect(error.message.contains("yyyy… (1048576 bytes)"))
        }
        #expect(ResponseError.methodNotFound("run/gett").message == "Method not found: 'run/gett'")
    }
}
