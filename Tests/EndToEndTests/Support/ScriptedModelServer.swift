import Foundation
import PostgresTestServer

/// One scripted model server (a Python subprocess from Tests/Agents: `fake_anthropic.py` for Claude Code,
/// `fake_openai_responses.py` for Codex) and a scratch folder for the CLI it serves; both go away with it.
final class ScriptedModelServer {
    let port: Int
    /// A scratch folder: the CLI's HOME and TMPDIR (and CODEX_HOME), the script and the request log.
    let scratch: URL
    private let process: Process
    private let stdin: Pipe
    private var requestLog: URL { scratch.appendingPathComponent("requests.jsonl") }
    private var scriptFile: URL { scratch.appendingPathComponent("script.json") }

    /// Starts `server` (a script in Tests/Agents) on a free port with `turns` (see the script for their shape).
    /// Async: Python takes a while to start on a loaded machine, and its port is awaited on a thread of its own.
    init(server: String = "fake_anthropic.py", turns: [[String: Any]] = []) async throws {
        scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("drover-e2e-model-\(UUID().uuidString.prefix(8))", isDirectory: true)
        for folder in ["home", "tmp"] {
            try FileManager.default.createDirectory(at: scratch.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        let script = scratch.appendingPathComponent("script.json")
        try JSONSerialization.data(withJSONObject: turns).writeUnsynced(to: script)

        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", PackageRoot.agentsFolder.appendingPathComponent(server).path,
                             "--script", script.path, "--log", scratch.appendingPathComponent("requests.jsonl").path]
        stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        // The server's first line is `PORT <n>`; it exits when its stdin closes (on deinit).
        let output = stdout.fileHandleForReading
        let line = try await onOwnThread {
            var line: [UInt8] = []
            while let byte = try output.read(upToCount: 1)?.first, byte != 0x0A { line.append(byte) }
            return line
        }
        guard let port = String(decoding: line, as: UTF8.self).split(separator: " ").last.flatMap({ Int($0) }) else {
            process.terminate()
            throw UnexpectedResponse(description: "\(server) did not print its port: \(String(decoding: line, as: UTF8.self))")
        }
        self.port = port
    }

    deinit {
        try? stdin.fileHandleForWriting.close()
        // The scratch folder goes once the server has exited (it may still write its log).
        let process = process
        let scratch = scratch
        BackgroundCleanup.run {
            process.waitUntilExit()
            try? FileManager.default.removeItem(at: scratch)
        }
    }

    /// Replaces the script before the CLI's first request (the server reads it then): for turns that
    /// name paths only known once the workspace exists.
    func play(_ turns: [[String: Any]]) throws {
        try JSONSerialization.data(withJSONObject: turns, options: [.withoutEscapingSlashes]).write(to: scriptFile)
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
}

/// Where a real agent CLI is for the end-to-end tests: `variable` when set (Tests/run-all.sh sets it), else
/// what `locator` (a script in Tests/Agents) prints; nil when there is none.
func locateAgentCLI(variable: String, locator: String) -> String? {
    if let path = ProcessInfo.processInfo.environment[variable] {
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", PackageRoot.agentsFolder.appendingPathComponent(locator).path]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return nil }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let path = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    return !path.isEmpty && FileManager.default.isExecutableFile(atPath: path) ? path : nil
}
