import Foundation

/// Where a workspace's drover state lives: `<workspace>/.drover/` and the files inside it.
public struct StoreLayout: Sendable, Hashable {
    /// The workspace directory.
    public let workspace: URL
    /// `<workspace>/.drover/`.
    public let root: URL
    /// `root`'s path, kept: paths built on it by hand cost less than URLs built on `root` (see `reportFile`).
    private let rootPath: String
    /// `logsDirectory`'s path, kept for `logFile`, which every attempt asks for.
    private let logsPath: String

    /// Describes the layout of `workspace`; touches nothing on disk (see `prepare()`).
    public init(workspace: URL) {
        self.workspace = workspace.standardizedFileURL
        self.root = self.workspace.appendingPathComponent(".drover", isDirectory: true)
        self.rootPath = root.path
        self.logsPath = rootPath + "/logs"
    }

    /// A run's report, `.drover/reports/<runId>.md` (written by `run/report` once the run ended, then kept
    /// true as the run changes).
    /// Throws if `runId` is not a valid id.
    public func reportFile(runId: String) throws -> String {
        try Self.validateID(runId, what: "run id")
        return "\(rootPath)/reports/\(runId).md"
    }

    /// The SQLite database, `.drover/drover.db`.
    public var databasePath: String { root.appendingPathComponent("drover.db").path }
    /// Per-step agent logs, `.drover/logs/`.
    public var logsDirectory: URL { root.appendingPathComponent("logs", isDirectory: true) }
    /// The file `StoreLock` locks and records its owner in, `.drover/engine.lock`.
    public var lockPath: String { root.appendingPathComponent("engine.lock").path }
    /// Keeps all of `.drover/` out of git, `.drover/.gitignore`.
    public var gitignorePath: String { root.appendingPathComponent(".gitignore").path }

    /// The log of one attempt of one step, `logs/<runId>@<stepId>.<attempt>.log`: every run's logs in one
    /// folder, so an attempt creates its log file and nothing else (a folder per run cost every run a
    /// mkdir, a new inode, among the dearest steps of a short run). `@` is in no id, so names never collide.
    /// Throws `StoreError.invalidID` before an id that could escape `logs/` becomes a path.
    public func logFile(runId: String, stepId: String, attempt: Int) throws -> URL {
        try Self.validateID(runId, what: "run id")
        try Self.validateID(stepId, what: "step id")
        guard attempt >= 0 else { throw StoreError(.invalidID, "invalid attempt \(attempt): must not be negative") }
        // Built as a path: `appendingPathComponent` without a directory hint asks the file system whether
        // the (not yet existing) file is a folder, and with `logsDirectory` made again it was a third of
        // what building an attempt's invocation cost.
        return URL(fileURLWithPath: "\(logsPath)/\(runId)@\(stepId).\(attempt).log", isDirectory: false)
    }

    /// The attempt's log to read: `logFile`, or where builds before it wrote the log
    /// (`logs/<runId>/<stepId>.<attempt>.log`) when only that one exists. Throws like `logFile`.
    public func existingLogFile(runId: String, stepId: String, attempt: Int) throws -> URL {
        let file = try logFile(runId: runId, stepId: stepId, attempt: attempt)
        guard access(file.path, F_OK) != 0 else { return file }
        let older = try olderAttemptFile(runId: runId, stepId: stepId, attempt: attempt, suffix: "log")
        return access(older.path, F_OK) == 0 ? older : file
    }

    /// Which process runs each live attempt, `.drover/agents`: one slot per attempt, so that the next
    /// engine kills what it names if this one dies (see `AgentRecordTable` in the engine).
    public var agentTablePath: String { root.appendingPathComponent("agents").path }

    /// Where builds before `agentTablePath` recorded an attempt's process, `logs/<runId>/<stepId>.<attempt>.pid`:
    /// still read when reaping what such an engine left. Throws like `logFile`.
    public func agentRecordFile(runId: String, stepId: String, attempt: Int) throws -> URL {
        try olderAttemptFile(runId: runId, stepId: stepId, attempt: attempt, suffix: "pid")
    }

    /// An attempt's file as builds before `logFile`'s layout kept it: `logs/<runId>/<stepId>.<attempt>.<suffix>`.
    private func olderAttemptFile(runId: String, stepId: String, attempt: Int, suffix: String) throws -> URL {
        try Self.validateID(runId, what: "run id")
        try Self.validateID(stepId, what: "step id")
        guard attempt >= 0 else { throw StoreError(.invalidID, "invalid attempt \(attempt): must not be negative") }
        return logsDirectory.appendingPathComponent(runId, isDirectory: true).appendingPathComponent("\(stepId).\(attempt).\(suffix)")
    }

    /// Creates `.drover/` (mode 0700) and `logs/`, and a `.gitignore` of `*` if there is none.
    /// Safe to call every time the engine starts; refuses symlinks in place of these folders.
    /// Then checks that drover can write there (`checkWritable`).
    public func prepare() throws {
        try PrivateFiles.makeDirectory(root.path)
        try PrivateFiles.makeDirectory(logsDirectory.path)
        try PrivateFiles.createFile(gitignorePath, mode: 0o644, contents: "*\n")
        try checkWritable()
    }

    /// The files a driving engine writes: its folders, the database with its WAL files, the lock and the log.
    var writtenPaths: [String] {
        [root.path, logsDirectory.path, databasePath, databasePath + "-wal", databasePath + "-shm", lockPath,
         root.appendingPathComponent("engine.log").path, agentTablePath]
    }

    /// Throws `StoreError` `.readOnly` naming the first of `writtenPaths` that exists and cannot be
    /// written (a read-only disk, a file or folder without write permission), with the reason, so
    /// an engine refuses at start instead of failing at its first write.
    public func checkWritable() throws {
        for path in writtenPaths where access(path, F_OK) == 0 && access(path, W_OK) != 0 {
            let reason = String(cString: strerror(errno))
            throw StoreError(.readOnly, "cannot write \(path) (\(reason)): drover keeps this workspace's runs in \(root.path), "
                + "which must be writable by you (remount the disk read-write or fix its permissions, e.g. chmod u+w)")
        }
    }

    /// The longest id accepted, in characters.
    public static let maxIDLength = 128

    /// Whether `id` may name a run or step on disk: `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$` without `..`.
    public static func isValidID(_ id: String) -> Bool {
        let bytes = id.utf8
        guard let first = bytes.first, bytes.count <= maxIDLength, isAlphanumeric(first) else { return false }
        var previous: UInt8 = 0
        for byte in bytes {
            guard isAlphanumeric(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
                || byte == UInt8(ascii: "-")
            else { return false }
            if byte == UInt8(ascii: "."), previous == UInt8(ascii: ".") { return false }
            previous = byte
        }
        return true
    }

    /// Throws `StoreError.invalidID` naming `what` (e.g. "run id") unless `id` is valid.
    public static func validateID(_ id: String, what: String) throws {
        guard isValidID(id) else { throw StoreError.invalidID(what, id) }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
