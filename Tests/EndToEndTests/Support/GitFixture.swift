import Foundation
import PostgresTestServer

/// Git for end-to-end tests: a workspace that is a repository with one commit, and `git` run on a thread
/// of its own (a blocking wait on the test process's cooperative pool, or on Dispatch's global queues,
/// which are the same threads on Linux, would stall the suites running beside it: `onOwnThread`).
enum GitFixture {
    /// A workspace that is a git repository on branch `main` with one commit (`a.txt`, plus `files`).
    static func workspace(pipelines: [String: Any] = [:], config: Any? = nil, files: [String: String] = [:]) async throws -> EngineWorkspace {
        let workspace = try EngineWorkspace(pipelines: pipelines, config: config)
        try await git(workspace.path, "init", "-q", "-b", "main")
        // The test servers' DROVER_CONFIG_DIR is <workspace>/config: not the user's work.
        try Data("config/\n".utf8).writeUnsynced(to: URL(fileURLWithPath: workspace.path + "/.git/info/exclude"))
        var all = files
        all["a.txt"] = all["a.txt"] ?? "one\n"
        for (path, text) in all {
            let file = workspace.url.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).writeUnsynced(to: file)
        }
        try await git(workspace.path, ["add", "--"] + all.keys.sorted())
        try await git(workspace.path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
        return workspace
    }

    @discardableResult
    static func git(_ directory: String, _ arguments: String...) async throws -> String {
        try await git(directory, arguments)
    }

    /// Runs `git -C directory arguments`; throws when it exits non-zero.
    @discardableResult
    static func git(_ directory: String, _ arguments: [String]) async throws -> String {
        try await onOwnThread { try runGit(directory, arguments) }
    }

    private static func runGit(_ directory: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", directory] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw UnexpectedResponse(description: "git \(arguments) failed in \(directory)")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }
}
