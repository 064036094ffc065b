import DroverProtocol
import Foundation
import Testing

@Suite("Wire enums")
struct WireEnumTests {
    @Test("a known value decodes; an unknown one names every allowed value")
    func decoding() throws {
        #expect(try JSONDecoder().decode([RunStatus].self, from: Data(#"["done","blocked"]"#.utf8)) == [.done, .blocked])
        #expect(try JSONDecoder().decode(ApprovalStatus.self, from: Data(#""changes_requested""#.utf8)) == .changesRequested)
        do {
            _ = try JSONDecoder().decode([RunStatus].self, from: Data(#"["weird"]"#.utf8))
            Issue.record("an unknown status decoded")
        } catch let error as DecodingError {
            #expect(error.explanation == "'[0]': 'weird' is not one of 'queued', 'running', 'blocked', 'paused', 'done', 'failed', 'cancelled'")
        }
    }
}
