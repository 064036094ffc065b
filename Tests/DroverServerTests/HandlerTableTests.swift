import DroverProtocol
@testable import DroverServer
import Foundation
import Testing

/// The server's handler table: one handler per method of the registry, and the methods that change
/// runs (response before the events they cause) are exactly those protocol/README.md says do.
@Suite struct HandlerTableTests {
    let handlers = EngineBridge.makeHandlers { throw ResponseError.internalError("no engine in this test") }

    @Test func everyEngineMethodHasAHandler() {
        let engineMethods = Set(MethodRegistry.methodNames).subtracting([InitializeRequest.method, ShutdownRequest.method])
        #expect(Set(handlers.keys) == engineMethods)
    }

    @Test func runChangingMethodsAreTheDocumentedOnes() throws {
        let readme = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("protocol/README.md")
        let documented = try String(contentsOf: readme, encoding: .utf8)
            .split(separator: "\n")
            .filter { $0.hasPrefix("### ") && $0.hasSuffix(" — changes a run") }
            .map { String($0.dropFirst(4).dropLast(" — changes a run".count)) }
        #expect(documented.count == 10)
        #expect(Set(handlers.filter { $0.value.changesRuns }.keys) == Set(documented))
    }
}
