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
                     "/ünï/cödé", "/with space/x", "/tmp/x/.", "/.hidden/x", "/tmp/..x/y", "/tmp/x..", "/tmp/.../y", "//", "/...", "/a/.b/..c/...d", "/a/b/.", "/a/b/..", "/./a", "relative/x"]
        for path in paths {
            #expect(InitializeWorkspace.standardized(path) == URL(fileURLWithPath: path).standardizedFileURL.path, "\(path)")
        }
    }

    @Test("the fields naming a workspace are read from the params' bytes when they are strings; anything else is left to the full decode")
    func paramsBytes() throws {
        func request(_ params: String) -> InitializeRequest? {
            let message = #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":"# + params + "}"
            guard case .single(.message(let decoded)) = MessageDecoder().decode(Array(message.utf8)) else { return nil }
            return InitializeWorkspace.request(decoded)
        }
        let parsed = try #require(request(#"{"workspace":"/w","rootUri":"file:///r","rootPath":null,"capabilities":{}}"#))
        #expect(parsed.workspace == "/w" && parsed.rootUri == "file:///r" && parsed.rootPath == nil)
        #expect(request(#"{"workspace":"/a\u00fc","workspace":"/last"}"#)?.workspace == "/last")
        #expect(request("null")?.workspace == nil)
        #expect(request(#"{"workspace":5}"#) == nil)
        #expect(request("[]") == nil)
    }

    @Test("every field read from the params' text is what the full decode reads; what the fast path leaves is left to it")
    func paramsMatchTheFullDecode() throws {
        let decoder = MessageDecoder()
        let usual = [
            #"{"processId":1,"rootUri":"file:///r","capabilities":{},"clientInfo":{"name":"ab"},"trace":"off"}"#,
            #"{"protocolVersion":1,"workspace":"/w","clientInfo":{"name":"vim","version":"9.1"},"capabilities":{"logs":false,"x":[1,{}]}}"#,
            #"{"clientInfo":{"name":"a","name":"b","version":null},"capabilities":{"logs":null},"rootPath":"/p","initializationOptions":{"a":[]}}"#,
            #"{"workspace":"/aü","clientInfo":null,"capabilities":null,"protocolVersion":null}"#, "{}", "null",
        ]
        let unusual = [#"{"protocolVersion":1.5}"#, #"{"protocolVersion":"1"}"#, #"{"clientInfo":{}}"#, #"{"clientInfo":{"name":5}}"#,
                       #"{"clientInfo":[]}"#, #"{"capabilities":{"logs":"yes"}}"#, #"{"capabilities":true}"#, #"{"workspace":["/w"]}"#,
                       #"{"clientInfo":{"name":"a","version":1}}"#, "[]"]
        for params in usual + unusual {
            let text = #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":"# + params + "}"
            guard case .single(.message(let message)) = decoder.decode(Array(text.utf8)) else {
                Issue.record("not a message: \(params)")
                continue
            }
            let fast = InitializeWorkspace.request(message)
            let full = try? decoder.params(InitializeRequest.self, from: message)
            #expect((fast != nil) == usual.contains(params), "\(params)")
            guard let fast else { continue }
            #expect(fast.protocolVersion == full?.protocolVersion && fast.workspace == full?.workspace && fast.rootUri == full?.rootUri
                        && fast.rootPath == full?.rootPath && fast.clientInfo == full?.clientInfo && fast.capabilities == full?.capabilities,
                    "\(params): \(fast) against \(String(describing: full))")
        }
    }

    /// `InitializeWorkspace.request` reads these members by name: one added to the request must be read there too.
    @Test("the params' fast path knows every member of InitializeRequest")
    func fastPathKnowsEveryMember() {
        func members(_ value: Any) -> [String] { Mirror(reflecting: value).children.compactMap(\.label).sorted() }
        #expect(members(InitializeRequest()) == ["capabilities", "clientInfo", "protocolVersion", "rootPath", "rootUri", "workspace"])
        #expect(members(InitializeRequest.ClientInfo(name: "a")) == ["name", "version"])
        #expect(members(InitializeRequest.ClientCapabilities()) == ["logs"])
    }

    @Test("a file URI's path is URL's, taken from the text when it needs no decoding")
    func filePathsMatchFoundation() {
        let uris = ["file:///tmp/w", "file:///tmp/w/", "file:///", "file:///tmp/a%20b", "file://localhost/tmp/w", "file:///tmp/./x/../y",
                    "file:///tmp/ü", "file:///tmp/x?q=1", "file:///tmp/x#f", "file:///A-Z_a.z~0", "file:///tmp//x", "file:///tmp/%C3%BC"]
        for uri in uris {
            #expect(InitializeWorkspace.filePath(ofURI: uri) == URL(string: uri)?.path, "\(uri)")
        }
        for notFile in ["http://example.com/x", "/tmp/x", "not a uri"] {
            #expect(InitializeWorkspace.filePath(ofURI: notFile) == nil, "\(notFile)")
        }
    }

    @Test("naming puts the workspace in an initialize's bytes as the params' last member, the rest kept")
    func naming() throws {
        let decoder = MessageDecoder()
        for text in [#"{"jsonrpc":"2.0","id":0,"method":"initialize"}"#,
                     #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":null} "#,
                     #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{ }}"#,
                     #"{"jsonrpc":"2.0","id":0,"params":{"workspace":null,"capabilities":{"x":[1]}},"method":"initialize"}"#] {
            let bytes = Array(text.utf8)
            guard case .single(.message(let message)) = decoder.decode(bytes) else {
                Issue.record("not a message: \(text)")
                continue
            }
            let named = ServeProxy.naming("/tmp/a \"b\"", in: bytes, params: message.paramsText.map { $0.startIndex..<$0.endIndex })
            guard case .object(var expected) = try JSONParser().parse(bytes), case .object(let actual) = try JSONParser().parse(named) else {
                Issue.record("not an object: \(text)")
                continue
            }
            var params = expected["params"]?.objectValue ?? [:]
            params["workspace"] = .string("/tmp/a \"b\"")
            expected["params"] = .object(params)
            #expect(actual == expected, "\(text)")
        }
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
