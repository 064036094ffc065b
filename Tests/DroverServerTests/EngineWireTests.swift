@testable import DroverServer
import DroverProtocol
import Testing

@Suite("Engine wire: the hello and the engine's answer, as bytes")
struct EngineWireTests {
    @Test("a hello is written member by member as the JSON line engines of every build read")
    func helloBytes() {
        var hello = EngineConnector.hello(.attach)
        hello.add("framing", .string("lsp"))
        hello.add("maxMessageBytes", .int(1024))
        hello.add("handover", .bool(true))
        #expect(String(decoding: hello.line, as: UTF8.self)
            == #"{"drover":1,"op":"attach","framing":"lsp","maxMessageBytes":1024,"handover":true}"#)
        #expect(EngineConnector.hello(.status, [(key: "a", value: .string("b\"c"))]).line == Array(#"{"drover":1,"op":"status","a":"b\"c"}"#.utf8))
    }

    @Test("an object line read member by member: each member parsed alone, the last of a duplicate, typed reads that say nil for the wrong type")
    func objectText() throws {
        let text = try #require(JSONObjectText(Array(#"{"drover":1,"op":"attach","pending":3,"pending":7,"handover":true,"name":"x"}"#.utf8)))
        #expect(text.int("drover") == 1)
        #expect(text.string("op") == "attach")
        #expect(text.int("pending") == 7)
        #expect(text.value("handover") == .bool(true))
        #expect(text.int("op") == nil)
        #expect(text.string("missing") == nil)
        #expect(text.text("name") == #""x""#)
        #expect(text.text("missing") == "?")
        #expect(EngineWire.object(text.bytes)?["pending"] as? Int == 7)
        #expect(JSONObjectText(Array("[1,2]".utf8)) == nil)
        #expect(JSONObjectText(Array(#"{"a":"#.utf8)) == nil)
    }
}
