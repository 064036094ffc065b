@testable import DroverServer
import DroverSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("Unix sockets of the engine")
struct UnixSocketTests {
    @Test("only the engine's own uid is admitted; the peer's uid comes from SO_PEERCRED")
    func peerCredentials() throws {
        #expect(UnixSocket.admits(peer: geteuid(), owner: geteuid()))
        #expect(!UnixSocket.admits(peer: geteuid() &+ 1, owner: geteuid()))
        #expect(!UnixSocket.admits(peer: nil, owner: geteuid()))
        var pair: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer { close(pair[0]); close(pair[1]) }
        #expect(UnixSocket.peerUID(pair[0]) == geteuid())
    }

    @Test("a hello line goes across whole and what follows it stays in the socket for the caller")
    func helloLines() throws {
        var pair: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer { close(pair[0]); close(pair[1]) }
        let hello: [String: Any] = ["drover": 1, "op": "attach", "draining": false, "framing": "ndjson", "nested": ["a": [1, 2.5]]]
        #expect(EngineWire.writeLine(pair[0], hello))
        #expect(write(pair[0], "after", 5) == 5)
        let line = EngineWire.readLine(pair[1])
        #expect(line?["drover"] as? Int == 1 && line?["op"] as? String == "attach" && line?["draining"] as? Bool == false)
        #expect(((line?["nested"] as? [String: Any])?["a"] as? [Any])?.count == 2)
        var rest = [UInt8](repeating: 0, count: 16)
        #expect(read(pair[1], &rest, rest.count) == 5 && Array(rest[0..<5]) == Array("after".utf8))
    }

    @Test("a hello line carries descriptors (SCM_RIGHTS): the reader gets working, close-on-exec copies, and the bytes after the line stay unread")
    func passesDescriptors() throws {
        var pair: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer { close(pair[0]); close(pair[1]) }
        var pipeEnds: [Int32] = [0, 0]
        #expect(pipe(&pipeEnds) == 0)
        defer { close(pipeEnds[0]) }
        #expect(EngineWire.writeLine(pair[0], ["op": "attach", "handover": true], passing: [pipeEnds[1]]))
        close(pipeEnds[1])
        #expect(write(pair[0], "pending", 7) == 7)
        var received: [Int32] = []
        let line = EngineWire.readLine(pair[1], limit: 1 << 16, descriptors: &received)
        #expect(line?["handover"] as? Bool == true)
        #expect(received.count == 1)
        let copy = try #require(received.first)
        defer { close(copy) }
        #expect(fcntl(copy, F_GETFD) & FD_CLOEXEC != 0)
        #expect(write(copy, "through", 7) == 7)
        var bytes = [UInt8](repeating: 0, count: 16)
        #expect(read(pipeEnds[0], &bytes, bytes.count) == 7 && Array(bytes[0..<7]) == Array("through".utf8))
        #expect(EngineWire.readExactly(pair[1], count: 7) == Array("pending".utf8))
    }

    @Test("socket names are a fixed-length hash, so any workspace path fits sun_path")
    func address() throws {
        let long = URL(fileURLWithPath: "/" + String(repeating: "deep/", count: 100))
        let address = EngineAddress(workspace: long, environment: ["XDG_RUNTIME_DIR": "/run/user/1000"])
        #expect(address.socketPath.hasPrefix("/run/user/1000/drover/"))
        #expect(address.socketPath.utf8.count < UnixSocket.maxPathBytes)
        #expect(EngineAddress(workspace: long, environment: [:]).socketPath != EngineAddress(workspace: URL(fileURLWithPath: "/x"), environment: [:]).socketPath)
    }

    @Test("a socket's name is the 64-bit FNV-1a of the workspace path in 16 hex digits, as every build names it (a serve and an engine of different builds must meet)")
    func socketNamesAreStable() {
        // FNV-1a's published test vectors, zero-padded ones included.
        #expect(StableHash.hex16("") == "cbf29ce484222325")
        #expect(StableHash.hex16("a") == "af63dc4c8601ec8c")
        #expect(StableHash.hex16("foobar") == "85944171f73967e8")
        #expect(EngineAddress.name(for: "/tmp/w") == StableHash.hex16("/tmp/w"))
        for path in ["/", "/tmp/w", "/ünï/cödé"] { #expect(StableHash.hex16(path).utf8.count == 16) }
    }
}
