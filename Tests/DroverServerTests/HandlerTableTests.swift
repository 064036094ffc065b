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

    @Test("the method table finds each handler by its name's bytes, and nothing for any other name")
    func methodTableLookup() {
        let table = MethodTable(handlers)
        for (name, handler) in handlers {
            #expect(table[name]?.changesRuns == handler.changesRuns, "\(name)")
            // Near misses: a byte more, a byte less, another case, the same bytes in another order.
            for miss in [name + "x", String(name.dropLast()), name.uppercased(), String(name.reversed()), " " + name] where handlers[miss] == nil {
                #expect(table[miss] == nil, "\(miss)")
            }
        }
        for unknown in ["", "bench/nonexistent", "initialize", "shutdown", "run/é", "🚀", String(repeating: "run/", count: 300)] {
            #expect(table[unknown] == nil, "\(unknown)")
        }
        // Small tables too: every slot probe ends at a free slot.
        let one = MethodTable(["a/b": handlers.values.first!])
        #expect(one["a/b"] != nil)
        #expect(one["a/c"] == nil && one[""] == nil)
        #expect(MethodTable([:])["a/b"] == nil)
    }

    @Test func runChangingMethodsAreTheDocumentedOnes() throws {
        let readme = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("protocol/README.md")
        let documented = try String(contentsOf: readme, encoding: .utf8)
            .split(separator: "\n")
            .filter { $0.hasPrefix("### ") && $0.hasSuffix(" — changes a run") }
            .map { String($0.dropFirst(4).dropLast(" — changes a run".count)) }
        #expect(documented.count == 11)
        #expect(Set(handlers.filter { $0.value.changesRuns }.keys) == Set(documented))
    }
}
