import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The real Claude Code CLI (bundled in the `claude-agent-sdk` wheel) and a scripted Messages API server
/// for it (Tests/Agents/fake_anthropic.py), so end-to-end tests run a real `claude` offline.
enum ClaudeCLI {
    /// The CLI's path: `DROVER_CLAUDE_BIN` when set (Tests/run-all.sh sets it), else the binary bundled in
    /// the `claude-agent-sdk` Python package (Tests/Agents/locate_claude.py), if installed; nil when there is none.
    static let path: String? = {
        if let path = ProcessInfo.processInfo.environment["DROVER_CLAUDE_BIN"] {
            return FileManager.default.isExecutableFile(atPath: path) ? path : nil
        }
        guard let output = try? run(["python3", agentsFolder.appendingPathComponent("locate_claude.py").path]) else { return nil }
        let path = output.trimmingCharacters(in: .whitespacesAndNewlines)
        return !path.isEmpty && FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }()

    /// Why the tests that need the CLI are skipped when it is missing.
    static let missingReason: Comment = "the Claude Code CLI is not installed: `pip install claude-agent-sdk` (or set DROVER_CLAUDE_BIN)"

    /// Tests/Agents: the scripted model server, the CLI locator and recorded transcripts.
    static var agentsFolder: URL {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while directory.path != "/" && !FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("Tests/Agents")
    }

    private static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}

/// One scripted model server (a `fake_anthropic.py` subprocess) and a scratch HOME for the CLI; both
/// go away with it.
final class ScriptedModelServer {
    let port: Int
    /// A scratch folder: the CLI's HOME and TMPDIR, the script and the request log.
    let scratch: URL
    private let process: Process
    private let stdin: Pipe
    private var requestLog: URL { scratch.appendingPathComponent("requests.jsonl") }

    private var scriptFile: URL { scratch.appendingPathComponent("script.json") }

    /// Starts the server on a free port with `turns` (see fake_anthropic.py for their shape).
    init(turns: [[String: Any]] = []) throws {
        scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("drover-e2e-claude-\(UUID().uuidString.prefix(8))", isDirectory: true)
        for folder in ["home", "tmp"] {
            try FileManager.default.createDirectory(at: scratch.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        let script = scratch.appendingPathComponent("script.json")
        try JSONSerialization.data(withJSONObject: turns).write(to: script)
        let requestLog = scratch.appendingPathComponent("requests.jsonl")

        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.serverScript, "--script", script.path, "--log", requestLog.path]
        stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        // The server's first line is `PORT <n>`; it exits when its stdin closes (on deinit).
        var line: [UInt8] = []
        while let byte = try stdout.fileHandleForReading.read(upToCount: 1)?.first, byte != 0x0A { line.append(byte) }
        guard let port = String(decoding: line, as: UTF8.self).split(separator: " ").last.flatMap({ Int($0) }) else {
            process.terminate()
            throw UnexpectedResponse(description: "fake_anthropic.py did not print its port: \(String(decoding: line, as: UTF8.self))")
        }
        self.port = port
    }

    deinit {
        try? stdin.fileHandleForWriting.close()
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: scratch)
    }

    /// Replaces the script before the CLI's first request (the server reads it then): for turns that
    /// name paths only known once the workspace exists.
    func play(_ turns: [[String: Any]]) throws {
        try JSONSerialization.data(withJSONObject: turns, options: [.withoutEscapingSlashes]).write(to: scriptFile)
    }

    /// The `env` of a claude role that talks to this server, offline, with a scratch HOME.
    var environment: [String: String] {
        ["ANTHROPIC_BASE_URL": "http://127.0.0.1:\(port)", "ANTHROPIC_API_KEY": "test",
         "HOME": scratch.appendingPathComponent("home").path, "TMPDIR": scratch.appendingPathComponent("tmp").path,
         "DISABLE_TELEMETRY": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1",
         "DISABLE_ERROR_REPORTING": "1"]
    }

    /// The model requests the CLI made (one per agent turn), in order: their JSON bodies.
    func modelRequests() -> [[String: Any]] {
        let text = (try? String(contentsOf: requestLog, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let entry = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  entry["turn"] != nil else { return nil }
            return entry["body"] as? [String: Any]
        }
    }

    private static var serverScript: String { ClaudeCLI.agentsFolder.appendingPathComponent("fake_anthropic.py").path }
}
