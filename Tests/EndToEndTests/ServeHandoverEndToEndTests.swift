import DroverSupport
import Foundation
import PostgresTestServer
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `drover serve` hands the editor's stdin and stdout to the workspace's engine, which then reads and
/// writes them itself; serve only waits for the session's exit code. What a client must still see: the
/// session ends with serve (killed or not), and an engine from before the handover is still served by copying.
@Suite("End to end: drover serve hands its stdio to the engine")
struct ServeHandoverEndToEndTests {
    @Test("serve killed with SIGKILL: the engine ends that session, so the client's stdout closes and no client is left")
    func serveKilled() async throws {
        let workspace = try EngineWorkspace(pipelines: [:])
        // The engine must outlast its last client long enough to be asked (the fixture stops it).
        let drover = try await workspace.server(environment: ["DROVER_ENGINE_IDLE_TIMEOUT": "600"])
        let listed = try await drover.call("run/list")
        #expect(listed["runs"] is [Any])
        kill(drover.pid, SIGKILL)
        #expect(try await drover.waitForExit() == SIGKILL)
        // The engine holds a copy of the client's stdout: only its closing ends it.
        try await drover.waitForEndOfStdout()
        let status = try await workspace.engineStatusText(until: { $0.contains("clients 0") })
        #expect(status.contains("clients 0"), "engine status: \(status)")
    }

    @Test("of two serves on one engine, killing one ends only its session: the other is answered on, then ends cleanly")
    func serveKilledBesideAnother() async throws {
        // The engine's reader blocks on each client's stdin and is woken by a signal when its serve goes:
        // the signal must end that client's reads and no other's.
        let workspace = try EngineWorkspace(pipelines: [:])
        let killed = try await workspace.server(environment: ["DROVER_ENGINE_IDLE_TIMEOUT": "600"])
        let kept = try await workspace.server(environment: ["DROVER_ENGINE_IDLE_TIMEOUT": "600"])
        #expect(try await killed.call("run/list")["runs"] is [Any])
        #expect(try await kept.call("run/list")["runs"] is [Any])
        kill(killed.pid, SIGKILL)
        #expect(try await killed.waitForExit() == SIGKILL)
        try await killed.waitForEndOfStdout()
        for _ in 1...3 { #expect(try await kept.call("run/list")["runs"] is [Any]) }
        #expect(try await kept.shutdownAndExit() == 0)
    }

    @Test("SIGIO, which the kernel sends instead of the reader's signal when its queue of real-time signals is full, leaves the engine serving")
    func sigioIsHarmless() async throws {
        let workspace = try EngineWorkspace(pipelines: [:])
        let drover = try await workspace.server(environment: ["DROVER_ENGINE_IDLE_TIMEOUT": "600"])
        #expect(try await drover.call("run/list")["runs"] is [Any])
        let status = try await workspace.engineStatusText(until: { $0.hasPrefix("Engine ") })
        let pid = try #require(status.split(separator: " ").dropFirst().first.flatMap { pid_t($0) }, "engine status: \(status)")
        // Its default action would end the engine, and with it this session.
        #expect(kill(pid, SIGIO) == 0)
        for _ in 1...3 { #expect(try await drover.call("run/list")["runs"] is [Any]) }
        #expect(kill(pid, 0) == 0, "the engine is alive")
        #expect(try await drover.shutdownAndExit() == 0)
    }

    @Test("exit codes and pipelined input survive the handover: everything sent with initialize is answered, shutdown + exit is 0, end of input alone is 1")
    func pipelinedAndExitCodes() async throws {
        let workspace = try EngineWorkspace(pipelines: [:])
        let first = try DroverProcess(directory: workspace.url)
        // initialize and ten requests in one write: serve reads them together and must hand the rest over.
        var batch: [UInt8] = []
        let initialize: [String: Any] = ["jsonrpc": "2.0", "id": 0, "method": "initialize", "params": ["workspace": workspace.path]]
        batch += try JSONSerialization.data(withJSONObject: initialize) + [0x0A]
        for id in 1...10 {
            batch += try JSONSerialization.data(withJSONObject: ["jsonrpc": "2.0", "id": id, "method": "bench/unknown"] as [String: Any]) + [0x0A]
        }
        #expect(first.sendRaw(batch))
        for id in 0...10 {
            let answer = try await first.response(to: id)
            #expect(id == 0 ? answer["result"] != nil : (answer["error"] as? [String: Any])?["code"] as? Int == -32601)
        }
        #expect(try await first.shutdownAndExit() == 0)
        let second = try await workspace.server(trust: false)
        second.closeStdin()
        #expect(try await second.waitForExit() == 1)
    }

    @Test("an engine that does not take the handover (one started before it existed) is still served: serve copies both ways")
    func engineWithoutHandover() async throws {
        let runtime = FileManager.default.temporaryDirectory.appendingPathComponent("drover-e2e-rt-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: runtime.appendingPathComponent("drover"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: runtime) }
        chmod(runtime.appendingPathComponent("drover").path, 0o700)
        let workspace = try EngineWorkspace(pipelines: [:])
        let socketPath = runtime.path + "/drover/" + StableHash.hex16(workspace.path) + ".sock"
        let engine = try OldEngine(socketPath: socketPath, workspace: workspace.path)
        let drover = try DroverProcess(environment: ["XDG_RUNTIME_DIR": runtime.path], directory: workspace.url)
        let answer = try await drover.initialize(["workspace": workspace.path])
        #expect((answer["serverInfo"] as? [String: Any])?["name"] as? String == "old-engine")
        let echoed = try await drover.call("echo", ["word": "copied"])
        #expect(echoed["word"] as? String == "copied")
        drover.closeStdin()
        #expect(try await drover.waitForExit() == 7)
        #expect(engine.hello["handover"] as? Bool == true, "serve offered the handover: \(engine.hello)")
    }
}

/// An engine of engine wire version 1 from before the handover: it ignores `handover`, reads the
/// client's JSON-RPC from the socket and answers in records (an `initialize` result naming it, any
/// other request's params echoed back), and ends the session with exit code 7 at end of input.
private final class OldEngine: @unchecked Sendable {
    private let listener: Int32
    private let state = NSLock()
    private var receivedHello: [String: Any] = [:]
    var hello: [String: Any] { state.withLock { receivedHello } }

    init(socketPath: String, workspace: String) throws {
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: Array(socketPath.utf8) + [0])
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(listener, 4) == 0 else { throw OldEngineError(text: "cannot listen at \(socketPath): errno \(errno)") }
        Thread.detachNewThread { [self] in serve(workspace: workspace) }
    }

    deinit { close(listener) }

    private func serve(workspace: String) {
        let client = accept(listener, nil, nil)
        guard client >= 0 else { return }
        defer { close(client) }
        var input: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        func line() -> [String: Any]? {
            while true {
                if let newline = input.firstIndex(of: 0x0A) {
                    let bytes = Array(input[..<newline])
                    input.removeFirst(newline + 1)
                    return (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
                }
                let count = read(client, &buffer, buffer.count)
                guard count > 0 else { return nil }
                input += buffer[0..<count]
            }
        }
        func record(_ kind: UInt8, _ payload: [UInt8]) {
            let count = UInt32(payload.count)
            let bytes = [kind, UInt8(count >> 24), UInt8((count >> 16) & 0xff), UInt8((count >> 8) & 0xff), UInt8(count & 0xff)] + payload
            _ = bytes.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
        }
        guard let hello = line(),
              let answer = try? JSONSerialization.data(withJSONObject: ["drover": 1, "pid": 1, "workspace": workspace]) else { return }
        state.withLock { receivedHello = hello }
        let answerLine = Array(answer) + [0x0A]
        _ = answerLine.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
        // What follows the hello is the client's JSON-RPC, as it came.
        while let message = line() {
            guard let id = message["id"] else { continue }
            let result: Any = message["method"] as? String == "initialize" ? ["serverInfo": ["name": "old-engine"]] : (message["params"] ?? NSNull())
            if let body = try? JSONSerialization.data(withJSONObject: ["jsonrpc": "2.0", "id": id, "result": result]) {
                record(0, Array(body) + [0x0A])
            }
        }
        record(1, [7])
    }
}

private struct OldEngineError: Error, CustomStringConvertible {
    let text: String
    var description: String { text }
}
