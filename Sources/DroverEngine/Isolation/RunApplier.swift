import DroverProtocol
import Foundation

/// Brings a run's change (`baseCommit..tip`) onto the branch checked out in the user's workspace.
///
/// Nothing in the user's tree changes unless the change applies cleanly: first the repository must not
/// be mid-merge or mid-rebase, then no file the run changed may have uncommitted changes of the user's
/// (`data.reason: "uncommitted"`), then the merge or patch is tried without touching the tree (`git
/// merge-tree`, `git apply --check`); a conflict is refused with `data.reason: "conflict"`; both list `data.files`.
struct RunApplier: Sendable {
    let git: Git

    /// What was done.
    struct Outcome: Sendable {
        var into: String?
        var commit: String?
    }

    func apply(runId: String, strategy: ApplyStrategy, baseCommit: String, tip: String, carriedIn: Bool) throws -> Outcome {
        if let state = try RunWorktrees.operationInProgress(git: git) {
            throw EngineError.conflict("the workspace's repository is in the middle of a \(state); finish or abort it, then apply run \(runId)")
        }
        let changes = try RunChanges.between(baseCommit, tip, git: git)
        guard !changes.files.isEmpty else {
            throw EngineError.conflict("run \(runId) changed no files; there is nothing to apply")
        }
        let dirty = try uncommittedPaths().intersection(changes.paths).sorted()
        if !dirty.isEmpty {
            throw Self.refusal(
                kind: "uncommitted", files: dirty,
                "Not applied: you have uncommitted changes to \(dirty.count) file(s) run \(runId) also changed: "
                + dirty.joined(separator: ", ") + ". Commit or stash them, then apply again")
        }
        let into = try? git.checked(["symbolic-ref", "--short", "-q", "HEAD"])
        let message = "drover: apply run \(runId) (\(strategy.rawValue))"
        switch strategy {
        case .merge:
            guard !carriedIn else {
                throw EngineError.invalid(
                    "run \(runId) started from your uncommitted changes (includeUncommitted), so a merge would commit them too; "
                    + "use strategy squash or patch")
            }
            let check = try git.run(["merge-tree", "--write-tree", "--name-only", "--no-messages", "HEAD", tip])
            if check.status == 1 {
                let files = check.trimmed.split(separator: "\n").dropFirst().map(String.init).filter { !$0.isEmpty }
                throw Self.conflict(runId: runId, files: files)
            }
            guard check.status == 0 else { throw EngineError.internalError("\(GitError(arguments: ["merge-tree"], output: check))") }
            try git.checked(["merge", "--no-ff", "--no-edit", "-m", message, tip])
            return Outcome(into: into, commit: try git.checked(["rev-parse", "HEAD"]))
        case .squash, .patch:
            let binaryPatch = try git.run(["diff", "--binary", "--no-color", "--no-ext-diff", baseCommit, tip]).stdout
            let check = try git.run(["apply", "--check", "--binary", "-"], input: binaryPatch)
            if check.status != 0 {
                throw Self.conflict(runId: runId, files: Self.filesNamed(inApplyErrors: check.stderr, among: changes.paths))
            }
            try git.checked(["apply", "--binary", "-"], input: binaryPatch)
            guard strategy == .squash else { return Outcome(into: into, commit: nil) }
            let paths = changes.paths.sorted()
            try git.checked(["add", "--all", "--"] + paths)
            try git.checked(["commit", "--quiet", "--no-verify", "-m", message, "--"] + paths)
            return Outcome(into: into, commit: try git.checked(["rev-parse", "HEAD"]))
        }
    }

    /// Paths with uncommitted changes (staged, unstaged or untracked) in the user's tree.
    private func uncommittedPaths() throws -> Set<String> {
        let fields = try git.run(["status", "--porcelain", "-z", "--untracked-files=all"]).stdout
            .split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        var paths: Set<String> = []
        var index = 0
        while index < fields.count {
            let entry = fields[index]
            if entry.count > 3 { paths.insert(String(entry.dropFirst(3))) }
            // A rename's entry is followed by its source path.
            if entry.first == "R" || entry.first == "C" { index += 1; if index < fields.count { paths.insert(fields[index]) } }
            index += 1
        }
        return paths
    }

    static func conflict(runId: String, files: [String]) -> EngineError {
        refusal(kind: "conflict", files: files,
                "Not applied: run \(runId) conflicts with your branch in " + (files.isEmpty ? "some files" : files.joined(separator: ", "))
                + ". Your working tree was not changed; resolve it by hand (`git merge \(RunWorktrees.branch(runId: runId))`) "
                + "or apply with another strategy")
    }

    static func refusal(kind: String, files: [String], _ message: String) -> EngineError {
        EngineError(.conflict, message, details: ["reason": .string(kind), "files": .array(files.map(JSONValue.string))])
    }

    /// The run's paths that `git apply --check` complained about.
    static func filesNamed(inApplyErrors stderr: String, among paths: Set<String>) -> [String] {
        paths.filter { stderr.contains(": \($0):") || stderr.contains(" \($0):") || stderr.contains("error: \($0)") }.sorted()
    }
}
