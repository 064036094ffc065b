import DroverProtocol
import DroverStore
import Foundation

/// Isolation for a workspace that is not a git repository: the run works in a copy of it,
/// `<workspace>/.drover/worktrees/<run-id>` (`cp --reflink=auto -a`, so a copy-on-write filesystem shares
/// the blocks; `.drover` left out), with a **private git repository inside the copy**. Its first commit is
/// the workspace as the run found it (`baseCommit`); each attempt's changes are committed on top, exactly
/// as in a worktree. So `run/diff` is the same `git diff` of two commits, and `run/apply` is a `git apply`
/// of that patch into the workspace (git applies patches to a folder that is not a repository).
///
/// A private repository rather than `git diff --no-index` against the workspace: the workspace keeps
/// changing under the user's hands, so the run's base must be frozen somewhere; the per-step commits,
/// `run/diff {stepId}` and the tests → fixer loop then work unchanged.
struct RunSnapshots: Sendable {
    let workspace: URL
    let environment: [String: String]

    var snapshotsDirectory: URL { workspace.appendingPathComponent(".drover/worktrees", isDirectory: true) }

    func path(runId: String) -> String { snapshotsDirectory.appendingPathComponent(runId).path }

    /// The private repository of a snapshot at `path`.
    func git(at path: String) -> Git { Git(directory: path, environment: environment) }

    /// Copies the workspace (without `.drover`) and commits the copy as the run's base.
    func create(runId: String) throws -> EventBody.WorkspaceRecorded {
        let path = path(runId: runId)
        guard !FileManager.default.fileExists(atPath: path) else {
            throw EngineError.conflict("the snapshot path \(path) already exists; remove it and start again")
        }
        try PrivateFiles.makeDirectory(snapshotsDirectory.path)
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            let entries = try FileManager.default.contentsOfDirectory(atPath: workspace.path).filter { $0 != ".drover" }.sorted()
            if !entries.isEmpty {
                try Self.copy(entries.map { workspace.appendingPathComponent($0).path }, into: path, environment: environment)
            }
            let git = git(at: path)
            try git.checked(["init", "--quiet", "--template="]) // no sample hooks: a smaller copy
            try git.checked(["add", "--all"])
            try git.checked(["commit", "--quiet", "--no-verify", "--allow-empty", "-m",
                             "drover: snapshot of \(workspace.path) for run \(runId)"])
            let base = try git.checked(["rev-parse", "HEAD"])
            return EventBody.WorkspaceRecorded(
                isolation: .snapshot, path: path, baseCommit: base,
                note: "the workspace is not a git repository: the run works in a copy of it, with a private git repository for its diff")
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            if let error = error as? EngineError { throw error }
            throw EngineError.internalError("cannot make the snapshot of run \(runId): \(error)")
        }
    }

    /// `cp --reflink=auto -a SOURCES… DESTINATION/`: copy-on-write where the filesystem allows, a plain copy elsewhere.
    static func copy(_ sources: [String], into destination: String, environment: [String: String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["cp", "--reflink=auto", "-a", "--"] + sources + [destination + "/"]
        process.environment = ["PATH": environment["PATH"] ?? "/usr/bin:/bin", "LC_ALL": "C"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw EngineError.internalError("copying the workspace failed: \(message.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    /// Removes a run's snapshot; true if it was there.
    @discardableResult
    func remove(runId: String) throws -> Bool {
        let path = path(runId: runId)
        guard FileManager.default.fileExists(atPath: path) else { return false }
        try FileManager.default.removeItem(atPath: path)
        return true
    }

    /// `run/apply` of a snapshot run: its change (`base..tip` in the snapshot's repository) written into the
    /// workspace as a patch. Refused, changing nothing, when the user changed one of the run's files since
    /// the run started (`data.reason: "uncommitted"`) or the patch does not apply (`"conflict"`).
    func apply(runId: String, snapshotPath: String, baseCommit: String, tip: String) throws {
        let repository = git(at: snapshotPath)
        let changes = try RunChanges.between(baseCommit, tip, git: repository)
        guard !changes.files.isEmpty else { throw EngineError.conflict("run \(runId) changed no files; there is nothing to apply") }
        var changedSince: [String] = []
        for path in changes.paths.sorted() {
            let file = workspace.appendingPathComponent(path).path
            let before = try? repository.checked(["rev-parse", "--verify", "--quiet", "\(baseCommit):\(path)"])
            let now = FileManager.default.fileExists(atPath: file) ? try? repository.checked(["hash-object", "--no-filters", "--", file]) : nil
            if before != now { changedSince.append(path) }
        }
        if !changedSince.isEmpty {
            throw RunApplier.refusal(
                kind: "uncommitted", files: changedSince,
                "Not applied: you changed \(changedSince.count) file(s) run \(runId) also changed since it started: "
                + changedSince.joined(separator: ", ") + ". Save or move your version, then apply again")
        }
        let patch = try repository.run(["diff", "--binary", "--no-color", "--no-ext-diff", baseCommit, tip]).stdout
        let target = Git(directory: workspace.path, environment: environment)
        let check = try target.run(["apply", "--check", "--binary", "-"], input: patch)
        guard check.status == 0 else {
            let files = RunApplier.filesNamed(inApplyErrors: check.stderr, among: changes.paths)
            throw RunApplier.refusal(kind: "conflict", files: files,
                                     "Not applied: run \(runId)'s change does not apply to your files in "
                                     + (files.isEmpty ? "some files" : files.joined(separator: ", ")) + ". Nothing was changed")
        }
        try target.checked(["apply", "--binary", "-"], input: patch)
    }
}
