import DroverEngine
import DroverProtocol
import DroverSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A client's way to a workspace's engine: connect to its socket, starting the engine when none
/// answers.
public enum EngineConnector {
    /// An open connection to an engine, after the hello exchange.
    public struct Link: Sendable {
        public let fd: Int32
        /// The engine's answer line (a JSON object: `pid`, `workspace`, or the status of a `status` request).
        let answer: JSONObjectText

        /// The answer as plain values (`reply["pid"] as? Int`), parsed when asked for.
        public var reply: [String: Any] { EngineWire.object(answer.bytes) ?? [:] }

        /// One member of the answer, parsed alone (no tree of the rest).
        public func value(_ key: String) -> JSONValue? { answer.value(key) }

        /// One member of the answer as JSON text, for messages ("?" when absent).
        public func text(_ key: String) -> String { answer.text(key) }

        /// nil unless `line` is a JSON object.
        init?(fd: Int32, line: [UInt8]) {
            guard let answer = JSONObjectText(line) else { return nil }
            self.fd = fd
            self.answer = answer
        }
    }

    /// The first line a client sends for `operation`, plus `options`.
    public static func hello(_ operation: EngineWire.Operation, _ options: [(key: String, value: JSONValue)] = []) -> EngineWire.Hello {
        EngineWire.Hello(operation, options)
    }

    /// Sends `hello` to the engine of `workspace` (with `descriptors` attached), if one listens; nil if
    /// none does (or it is just going away). Throws when the engine refuses the client.
    public static func connect(workspace: URL, hello: EngineWire.Hello, passing descriptors: [Int32] = []) throws -> Link? {
        try connect(workspacePath: workspace.standardizedFileURL.path, hello: hello, passing: descriptors)
    }

    /// `connect(workspace:hello:passing:)` for a standardized path; `following` goes with the hello line, before
    /// the answer is awaited (a handover's pending bytes: no round trip between them).
    public static func connect(workspacePath: String, hello: EngineWire.Hello, passing descriptors: [Int32] = [],
                               following: [UInt8] = []) throws -> Link? {
        let address = EngineAddress(workspacePath: workspacePath)
        let fd: Int32
        do {
            fd = try UnixSocket.connect(to: address.socketPath)
        } catch let error as SocketError where [ENOENT, ECONNREFUSED, ENOTDIR].contains(error.code) {
            return nil
        } catch {
            throw EngineAttachError("cannot reach the engine at \(address.socketPath): \(error)")
        }
        guard EngineWire.writeLine(fd, line: hello.line, passing: descriptors, following: following),
              let line = EngineWire.readLineBytes(fd), let link = Link(fd: fd, line: line) else {
            close(fd)
            return nil
        }
        if case .string(let refusal)? = link.value("error") {
            close(fd)
            throw EngineAttachError("the engine of \(workspacePath) refused this client: \(refusal)")
        }
        return link
    }

    /// Connects to the engine of `workspace`, starting it (`<executable> engine start`) when none
    /// answers; throws with the reason when it cannot be started or reached within `timeout`.
    /// - Parameter engineEnvironment: added to a started engine's environment (the store choice
    ///   travels as `DROVER_STORE_URL`, never on a command line where `ps` would show a password).
    public static func attach(workspace: URL, hello: EngineWire.Hello, passing descriptors: [Int32] = [],
                              executable: String? = nil,
                              engineEnvironment: [String: String] = [:], timeout: Duration = .seconds(30)) throws -> Link {
        try attach(workspacePath: workspace.standardizedFileURL.path, hello: hello, passing: descriptors, executable: executable,
                   engineEnvironment: engineEnvironment, timeout: timeout)
    }

    /// `attach(workspace:…)` for a standardized path; `executable` (default: this one) is looked up only
    /// if an engine must be started.
    public static func attach(workspacePath: String, hello: EngineWire.Hello, passing descriptors: [Int32] = [],
                              following: [UInt8] = [], executable: String? = nil,
                              engineEnvironment: [String: String] = [:], timeout: Duration = .seconds(30)) throws -> Link {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let link = try connect(workspacePath: workspacePath, hello: hello, passing: descriptors, following: following) { return link }
            guard ContinuousClock.now < deadline else {
                throw EngineAttachError("the engine of \(workspacePath) did not answer within \(timeout); see \(workspacePath)/.drover/engine.log")
            }
            try start(workspace: URL(fileURLWithPath: workspacePath), executable: executable ?? EngineHost.currentExecutable(),
                      environment: engineEnvironment)
        }
    }

    /// Runs `<executable> engine start --workspace DIR` and waits for it: it returns once an engine
    /// listens (this one or one that won a race), else throws its message.
    ///
    /// posix_spawn and waitpid, not Foundation's `Process`: in a fully static build `Process.waitUntilExit`
    /// never saw the child end, so a cold `drover serve` hung until its 30 s deadline.
    public static func start(workspace: URL, executable: String, environment: [String: String] = [:]) throws {
        let arguments = ["engine", "start", "--quiet", "--workspace", workspace.path]
        let finished: FinishedChild
        do {
            finished = try FinishedChild.run(executable, arguments: arguments,
                                             environment: ProcessInfo.processInfo.environment.merging(environment) { _, new in new })
        } catch {
            throw EngineAttachError("cannot run \(executable) engine start: \(error)")
        }
        guard finished.exitedCleanly else {
            let text = finished.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
            throw EngineAttachError(text.isEmpty ? "the engine of \(workspace.path) could not start; see \(workspace.path)/.drover/engine.log"
                                                 : text.replacingOccurrences(of: "drover: ", with: ""))
        }
    }
}
