@testable import DroverServer
import DroverProtocol
import Foundation
import Testing

/// `drover serve` resolves `initialize`'s workspace without Foundation on the usual path; the socket
/// it then connects to is named by that path, so it must be the path the engine computes with
/// Foundation, or serve and engine would look for each other at different sockets.
@Suite("InitializeWorkspace")
struct InitializeWorkspaceTests {
    @Test("standardized paths are Foundation's standardizedFileURL paths, simple or not")
    func standardizedMatchesFoundation() {
        let paths = ["/", "/tmp", "/tmp/x", "/tmp/x/", "/tmp//x", "/tmp/./x", "/tmp/x/..", "/tmp/../tmp/x", "/a/b/../../c",
                     "/ünï/cödé", "/with space/x", "/tmp/x/.", "/.hidden/x", "/tmp/..x/y", "/tmp/x..", "/tmp/.../y"]
        for path in paths {
            #expect(InitializeWorkspace.standardized(path) == URL(fileURLWithPath: path).standardizedFileURL.path, "\(path)")
        }
    }

    @Test("the fields naming a workspace are read from raw params when they are strings; anything else is left to the full decode")
    func rawParams() throws {
        let parsed = try #require(InitializeWorkspace.request(fromRaw: .object([
            "workspace": .string("/w"), "rootUri": .string("file:///r"), "rootPath": .null, "capabilities": .object([:]),
        ])))
        #expect(parsed.workspace == "/w" && parsed.rootUri == "file:///r" && parsed.rootPath == nil)
        #expect(InitializeWorkspace.request(fromRaw: nil)?.workspace == nil)
        #expect(InitializeWorkspace.request(fromRaw: .object(["workspace": .int(5)])) == nil)
        #expect(InitializeWorkspace.request(fromRaw: .array([])) == nil)
    }

    @Test("a workspace that is not an existing directory is refused with invalidParams, naming it")
    func missingDirectory() {
        var request = InitializeRequest()
        request.workspace = "/no/such/folder/anywhere"
        #expect {
            _ = try InitializeWorkspace.path(from: request) { "/" }
        } throws: { error in
            (error as? ResponseError)?.message.contains("/no/such/folder/anywhere") == true
        }
        #expect((try? InitializeWorkspace.path(from: InitializeRequest()) { "/tmp/" }) == "/tmp")
    }
}

@Suite("ReusedThreads")
struct ReusedThreadsTests {
    @Test("work that comes after the last is done runs on the thread that did it, not on a new one")
    func reuses() async throws {
        let threads = ReusedThreads(name: "test-reused")
        var seen: Set<pthread_t> = []
        for _ in 0..<3 {
            let thread: pthread_t = await withCheckedContinuation { continuation in
                threads.run { continuation.resume(returning: pthread_self()) }
            }
            seen.insert(thread)
            // The thread marks itself idle right after the work returns.
            let deadline = ContinuousClock.now + .seconds(5)
            while threads.idleThreads == 0 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(1))  // polling interval
            }
            #expect(threads.idleThreads == 1)
        }
        #expect(seen.count == 1)
    }
}
