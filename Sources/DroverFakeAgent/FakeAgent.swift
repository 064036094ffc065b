import DroverEngine
import DroverProtocol
import DroverSupport
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `drover agent-fake`: plays a ``FakeScript`` as an agent speaking the line protocol.
///
/// Launch it as `<drover binary> agent-fake` with the prompt on stdin and the script in the environment
/// variable `DROVER_FAKE_SCRIPT` (``FakeScript/jsonText``) or in a file given by `--script FILE`
/// (the file wins). `DROVER_ATTEMPT` (1-based, default 1) picks the turn.
///
/// Exit status: 0 when the turn ends (after `ask`, or after its last action), 1 for `fail` or a refused
/// `write`, 2 for a bad invocation or script (the reason on stderr).
public enum FakeAgent {
    /// The subcommand of the `drover` executable that runs the fake agent (the driver launches it).
    public static let subcommand = FakeDriver.subcommand
    /// The environment variable that carries the script's JSON.
    public static let scriptEnvironmentKey = FakeDriver.scriptEnvironmentKey

    /// Runs the fake agent to completion and returns its exit status (`hang` never returns).
    /// - Parameter arguments: the arguments after `agent-fake`.
    public static func main(arguments: [String], environment: [String: String]) -> Int32 {
        do {
            let script = try loadScript(arguments: arguments, environment: environment)
            let attempt = try attemptNumber(environment)
            let prompt = readStandardInput()
            var player = FakePlayer(prompt: prompt, attempt: attempt, environment: environment)
            return player.play(script.turn(forAttempt: attempt))
        } catch let error as UsageError {
            printError(error.message)
            return 2
        } catch {
            printError("\(error)")
            return 2
        }
    }

    private struct UsageError: Error {
        var message: String
    }

    private static func loadScript(arguments: [String], environment: [String: String]) throws -> FakeScript {
        var scriptFile: String?
        var remaining = arguments[...]
        while let argument = remaining.popFirst() {
            if argument == "--script" {
                guard let file = remaining.popFirst() else { throw UsageError(message: "--script needs a file") }
                scriptFile = file
            } else if argument.hasPrefix("--script=") {
                scriptFile = String(argument.dropFirst("--script=".count))
            } else {
                throw UsageError(message: "unknown argument \(argument); usage: drover agent-fake [--script FILE] (or set \(scriptEnvironmentKey))")
            }
        }
        let text: Data
        let source: String
        if let scriptFile {
            source = scriptFile
            guard let data = FileManager.default.contents(atPath: scriptFile) else {
                throw UsageError(message: "cannot read the script file \(scriptFile)")
            }
            text = data
        } else if let value = environment[scriptEnvironmentKey] {
            source = scriptEnvironmentKey
            text = Data(value.utf8)
        } else {
            throw UsageError(message: "no script: set \(scriptEnvironmentKey) to the script's JSON or pass --script FILE")
        }
        let json: JSONValue
        do {
            json = try JSONParser().parse(Array(text))
        } catch {
            throw UsageError(message: "the script in \(source) is not valid JSON: \(describeInvalidJSON(text))")
        }
        do {
            return try FakeScript(json: json)
        } catch let error as FakeScriptError {
            throw UsageError(message: "the script in \(source) is invalid:\n  " + error.problems.joined(separator: "\n  "))
        }
    }

    /// JSONDecoder only says "not valid JSON"; JSONSerialization says where, which is what a script's
    /// author needs. Used on the error path only.
    private static func describeInvalidJSON(_ data: Data) -> String {
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            if let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String { return detail }
        }
        return data.isEmpty ? "it is empty" : "it cannot be parsed"
    }

    private static func attemptNumber(_ environment: [String: String]) throws -> Int {
        guard let value = environment["DROVER_ATTEMPT"] else { return 1 }
        guard let attempt = Int(value.trimmingCharacters(in: .whitespaces)), attempt >= 1 else {
            throw UsageError(message: "DROVER_ATTEMPT must be a positive integer, got \"\(value)\"")
        }
        return attempt
    }

    private static func readStandardInput() -> String {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress!, $0.count) }
            if count > 0 {
                bytes.append(contentsOf: buffer[0..<count])
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                break
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    fileprivate static func printError(_ message: String) {
        writeAll(2, "drover agent-fake: \(message)\n")
    }
}

/// Plays one turn; holds what templates need.
private struct FakePlayer {
    let prompt: String
    let attempt: Int
    let environment: [String: String]

    /// Returns the exit status.
    mutating func play(_ turn: [FakeAction]) -> Int32 {
        for action in turn {
            switch action {
            case .say(let text):
                emit(.log(fill(text)))
            case .sleep(let seconds):
                sleep(seconds: seconds)
            case .usage(let model, let input, let output, let costUSD):
                emit(.usage(model: model, inputTokens: input, outputTokens: output, costUSD: costUSD))
            case .ask(let question, let options):
                emit(.decision(question: fill(question), options: options.map(fill)))
                return 0
            case .write(let path, let text):
                if let refusal = write(path: fill(path), text: fill(text)) {
                    FakeAgent.printError(refusal)
                    return 1
                }
            case .result(let text):
                emit(.result(output: fill(text)))
            case .fail(let text):
                writeAll(2, fill(text) + "\n")
                return 1
            case .hang:
                // Wait for the signal that ends us; pause() returns after a handled signal, so loop.
                while true { pause() }
            case .spam(let count):
                for index in 0..<count { emit(.log("spam \(index + 1)/\(count)")) }
            case .progress(let fraction, let message):
                emit(.progress(fraction: fraction, message: message.map(fill)))
            case .session(let id):
                emit(.session(id: fill(id)))
            case .rateLimit(let message, let retryAfter):
                emit(.rateLimited(message: message.map(fill), retryAfterSeconds: retryAfter))
                return 0
            }
        }
        return 0
    }

    /// One protocol line, written straight to fd 1: the reader follows the agent live.
    private func emit(_ line: AgentLine) {
        writeAll(1, line.encoded + "\n")
    }

    private func sleep(seconds: Double) {
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }

    /// Writes `text` to `path` under the working directory; returns why not, if refused or failed.
    private func write(path: String, text: String) -> String? {
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        if path.hasPrefix("/") {
            return "refusing to write \(path): the path must be relative to the working directory"
        }
        if components.isEmpty || components.contains("..") {
            return "refusing to write \(path): the path must stay inside the working directory"
        }
        let fileManager = FileManager.default
        let root = URL(fileURLWithPath: fileManager.currentDirectoryPath).resolvingSymlinksInPath()
        let target = root.appendingPathComponent(components.joined(separator: "/"))
        let parent = target.deletingLastPathComponent()
        do {
            try fileManager.createDirectory(at: parent, withIntermediateDirectories: true)
        } catch {
            return "cannot write \(path): \(error.localizedDescription)"
        }
        // A symlinked folder inside the working directory could still lead outside it.
        let realParent = parent.resolvingSymlinksInPath().standardizedFileURL.path
        let rootPath = root.standardizedFileURL.path
        guard realParent == rootPath || realParent.hasPrefix(rootPath.hasSuffix("/") ? rootPath : rootPath + "/") else {
            return "refusing to write \(path): it leads outside the working directory"
        }
        do {
            try Data(text.utf8).write(to: target)
        } catch {
            return "cannot write \(path): \(error.localizedDescription)"
        }
        return nil
    }

    /// Fills `{{prompt}}`, `{{attempt}}` and `{{env.NAME}}` in one pass (so a prompt that contains
    /// `{{attempt}}` stays as it is); unknown placeholders are left alone.
    private func fill(_ text: String) -> String {
        Template.substitute(text) { key in
            if key == "prompt" { return prompt }
            if key == "attempt" { return String(attempt) }
            if key.hasPrefix("env.") { return environment[String(key.dropFirst(4))] ?? "" }
            return nil
        }
    }
}
