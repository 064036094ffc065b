import DroverProtocol
import Foundation

/// A run's change between two commits, as `run/diff` returns it and `run/apply` applies it.
struct RunChanges: Sendable {
    var files: [ChangedFile]
    var patch: String

    /// Reads `git diff from..to` in the repository at `git`: the file list (renames detected) and the
    /// unified patch, split per file.
    static func between(_ from: String, _ to: String, git: Git) throws -> RunChanges {
        let range = ["\(from)", "\(to)"]
        let flags = ["-M", "--no-color", "--no-ext-diff"]
        let patch = try git.raw(["diff"] + flags + range)
        let statuses = try git.run(["diff", "--name-status", "-z"] + flags + range).stdout
        let counts = try git.run(["diff", "--numstat", "-z"] + flags + range).stdout
        let sections = splitPatch(patch)
        var files: [ChangedFile] = []
        var statusFields = statuses.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }[...]
        var countFields = counts.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }[...]
        while let code = statusFields.popFirst(), !code.isEmpty {
            let status: ChangedFile.Status
            var oldPath: String?
            switch code.first {
            case "A": status = .added
            case "D": status = .deleted
            case "R", "C":
                status = .renamed
                oldPath = statusFields.popFirst()
            default: status = .modified
            }
            let path = statusFields.popFirst() ?? ""
            // numstat -z: "add\tdel\tpath" or, for a rename, "add\tdel\t" then old and new path fields.
            let count = countFields.popFirst() ?? ""
            let parts = count.split(separator: "\t", omittingEmptySubsequences: false)
            if parts.count == 3, parts[2].isEmpty { _ = countFields.popFirst(); _ = countFields.popFirst() }
            let binary = parts.first == "-"
            let additions = parts.count > 0 ? Int(parts[0]) ?? 0 : 0
            let deletions = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            let section = sections.first { $0.newPath == path || $0.oldPath == (oldPath ?? path) }?.text ?? ""
            files.append(ChangedFile(path: path, oldPath: oldPath, status: status, additions: additions, deletions: deletions,
                                     binary: binary, patch: section))
        }
        return RunChanges(files: files, patch: patch)
    }

    /// Every path the change touches (renames count with both names).
    var paths: Set<String> {
        var all = Set(files.map(\.path))
        for file in files { if let old = file.oldPath { all.insert(old) } }
        return all
    }

    /// One `diff --git a/X b/Y` section of a patch.
    struct Section {
        var oldPath: String
        var newPath: String
        var text: String
    }

    /// Splits a unified patch at its `diff --git` lines.
    static func splitPatch(_ patch: String) -> [Section] {
        var sections: [Section] = []
        var current: [Substring] = []
        func flush() {
            guard let header = current.first else { return }
            let (old, new) = paths(fromHeader: header)
            sections.append(Section(oldPath: old, newPath: new, text: current.joined(separator: "\n") + "\n"))
            current = []
        }
        for line in patch.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("diff --git ") { flush() }
            if !current.isEmpty || line.hasPrefix("diff --git ") { current.append(line) }
        }
        if current.last == "" { current.removeLast() }
        flush()
        return sections
    }

    /// `diff --git a/old b/new` → (old, new). Paths with spaces are split at ` b/` (core.quotepath is off).
    private static func paths(fromHeader header: Substring) -> (String, String) {
        let rest = header.dropFirst("diff --git ".count)
        guard let split = rest.range(of: " b/") else { return (String(rest), String(rest)) }
        let old = rest[..<split.lowerBound]
        let new = rest[split.upperBound...]
        return (String(old.hasPrefix("a/") ? old.dropFirst(2) : old), String(new))
    }
}
