import DroverEngine
import DroverProtocol
import Foundation

/// `drover diff RUN [STEP]`: the run's change against its base (or one step's commits): a file list,
/// then the unified patch, in colour on a terminal. Reads the store read-only and git, like `drover
/// status`, so it works while another engine drives the workspace.
enum DiffCommand {
    static let subcommand = Subcommand(
        name: "diff",
        usage: "diff RUN [STEP] [--stat] [--workspace DIR]",
        summary: "Show what an isolated run changed (or one step of it): the files, then the patch.",
        options: [
            OptionSpec(name: "--stat", value: nil, help: "only the list of files with their added and removed lines"),
            Workspace.option,
            StoreChoice.option,
        ],
        run: run
    )

    static func run(_ arguments: ParsedArguments) async throws -> Int32 {
        let (runId, stepId) = try RunArgument.runId(arguments, command: "diff", then: "step id")
        let workspace = try Workspace.resolve(arguments)
        let (queries, run) = try Workspace.loadRun(runId, workspace: workspace, store: StoreChoice.resolve(arguments))
        let diff = try RunDiffReader(workspace: workspace).diff(run: run, history: queries.history(run.id), stepId: stepId)
        let t = Terminal.current
        let what = "Run \(run.id)" + (stepId.map { ", step \($0)" } ?? "")
        guard !diff.files.isEmpty else {
            Console.line("\(what) changed no files")
            return 0
        }
        Console.line(t.bold(what) + t.separator + summary(diff.files) + t.separator
                     + t.dim("\(diff.from.prefix(10))..\(diff.to.prefix(10))"))
        Console.line(fileList(diff.files, terminal: t))
        if !arguments.has("--stat") {
            Console.line("")
            Console.write(colour(patch: diff.patch, terminal: t))
        }
        return 0
    }

    /// "2 files changed, +3 -1".
    static func summary(_ files: [ChangedFile]) -> String {
        let added = files.reduce(0) { $0 + $1.additions }, removed = files.reduce(0) { $0 + $1.deletions }
        return Format.count(files.count, "file") + " changed, +\(added) -\(removed)"
    }

    /// One line per file: status letter, path (old → new for a rename), added and removed lines.
    static func fileList(_ files: [ChangedFile], terminal t: Terminal) -> String {
        let rows = files.map { file -> [String] in
            let letter: String
            switch file.status {
            case .added: letter = t.green("A")
            case .modified: letter = t.yellow("M")
            case .deleted: letter = t.red("D")
            case .renamed: letter = t.cyan("R")
            }
            let path = file.oldPath.map { "\($0) \(t.arrow) \(file.path)" } ?? file.path
            let counts = file.binary ? "binary" : t.green("+\(file.additions)") + " " + t.red("-\(file.deletions)")
            return ["  " + letter, path, counts]
        }
        return Format.table(rows)
    }

    /// The patch with git's colours on a terminal: headers bold, hunks cyan, additions green, removals red.
    static func colour(patch: String, terminal t: Terminal) -> String {
        guard t.styled else { return patch }
        var inHeader = false
        return patch.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let text = String(line)
            if text.hasPrefix("diff --git ") { inHeader = true; return t.bold(text) }
            if text.hasPrefix("@@") { inHeader = false; return t.cyan(text) }
            if inHeader { return t.bold(text) }
            if text.hasPrefix("+") { return t.green(text) }
            if text.hasPrefix("-") { return t.red(text) }
            return text
        }.joined(separator: "\n")
    }
}
