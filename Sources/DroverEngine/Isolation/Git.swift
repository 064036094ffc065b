import Foundation
import Synchronization

/// Runs the real `git` in one directory, with an environment of our own: none of the user's `GIT_*`
/// variables (a `GIT_DIR` inherited from a hook would point every command at another repository),
/// no system config, no prompts, and no transport allowed, so nothing here ever reaches the network.
/// Commits are made as "Drover" so they work on machines without a configured identity.
///
/// The one exception is `networked`: the engine's own fetches, clones and pushes of a run's branch
/// (`RepositoryCache`, `RunDiffReader` for a run that worked elsewhere) reach the remote with the
/// user's ssh agent and credential helpers, still without prompts. Agents never run through it.
struct Git: Sendable {
    /// Where the commands run (`git -C`).
    let directory: String
    /// The `PATH` used to find `git`.
    let searchPath: String
    /// Transports allowed (the engine's fetch/push of a run's branch); false: no network at all.
    private(set) var allowsNetwork = false
    /// What a networked git takes from the user's environment: their ssh agent, ssh command and CA files.
    private let credentialEnvironment: [String: String]

    init(directory: String, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.directory = directory
        self.searchPath = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        self.credentialEnvironment = environment.filter { ["SSH_AUTH_SOCK", "GIT_SSH_COMMAND", "SSL_CERT_FILE", "SSL_CERT_DIR"].contains($0.key) }
    }

    /// The same repository, with the engine's network access (see the type's comment).
    var networked: Git {
        var copy = self
        copy.allowsNetwork = true
        return copy
    }

    /// What a finished command printed.
    struct Output: Sendable {
        var status: Int32
        var stdout: Data
        var stderr: String
        var text: String { String(decoding: stdout, as: UTF8.self) }
        var trimmed: String { text.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// The flags every command gets: identity, no hooks of the user's in our own commits, no network.
    static let fixedConfig = [
        "-c", "user.name=Drover", "-c", "user.email=drover@localhost", "-c", "commit.gpgsign=false",
        "-c", "protocol.allow=never", "-c", "core.quotepath=false", "-c", "color.ui=false",
    ]

    /// `fixedConfig` with transports allowed.
    static let networkConfig = fixedConfig.enumerated().filter { index, flag in
        flag != "protocol.allow=never" && !(flag == "-c" && fixedConfig[index + 1] == "protocol.allow=never")
    }.map(\.element)

    /// Runs `git <arguments>`; returns the output whatever the exit status.
    func run(_ arguments: [String], input: Data? = nil) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", directory] + (allowsNetwork ? Self.networkConfig : Self.fixedConfig) + arguments
        var environment = ["PATH": searchPath, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1",
                           "GIT_SSH_COMMAND": "false", "GIT_ASKPASS": "true"]
        if allowsNetwork {
            environment["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"  // never asks; the user's own wins below
            environment["GIT_ASKPASS"] = nil
            environment.merge(credentialEnvironment) { $1 }
        }
        if let home = ProcessInfo.processInfo.environment["HOME"] { environment["HOME"] = home }
        process.environment = environment
        let stdout = Pipe(), stderr = Pipe(), stdin = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try process.run()
        // Read both pipes at once: a child that fills one while we wait on the other would block forever.
        // On threads of their own, not DispatchQueue.global(): on Linux that is the cooperative pool, which
        // a reader would hold for as long as git runs (and, were it busy, stderr would wait unread).
        let errorData = SharedData()
        let errorDone = DispatchSemaphore(value: 0)
        startThread(name: "git-stderr") {
            let data = stderr.fileHandleForReading.readDataToEndOfFile()
            errorData.value.withLock { $0 = data }
            errorDone.signal()
        }
        if let input {
            startThread(name: "git-stdin") {
                try? stdin.fileHandleForWriting.write(contentsOf: input)
                try? stdin.fileHandleForWriting.close()
            }
        }
        let data = stdout.fileHandleForReading.readDataToEndOfFile()
        errorDone.wait()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: data,
                      stderr: String(decoding: errorData.value.withLock { $0 }, as: UTF8.self))
    }

    /// Runs `git <arguments>` and returns its trimmed stdout; throws `GitError` on a non-zero exit.
    @discardableResult
    func checked(_ arguments: [String], input: Data? = nil) throws -> String {
        let output = try run(arguments, input: input)
        guard output.status == 0 else { throw GitError(arguments: arguments, output: output) }
        return output.trimmed
    }

    /// Like `checked`, but keeps stdout as it is (patches end in a newline that matters).
    func raw(_ arguments: [String]) throws -> String {
        let output = try run(arguments)
        guard output.status == 0 else { throw GitError(arguments: arguments, output: output) }
        return output.text
    }
}

/// A git command that exited non-zero; the message quotes its stderr.
struct GitError: Error, CustomStringConvertible {
    var arguments: [String]
    var status: Int32
    var stderr: String

    init(arguments: [String], output: Git.Output) {
        self.arguments = arguments
        self.status = output.status
        self.stderr = output.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    var description: String {
        "`git \(arguments.joined(separator: " "))` failed (exit \(status))" + (stderr.isEmpty ? "" : ": \(stderr)")
    }
}

/// Bytes read on one thread and taken on another.
private final class SharedData: Sendable {
    let value = Mutex(Data())
}
