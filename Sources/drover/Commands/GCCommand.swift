import DroverEngine
import DroverProtocol
import DroverServer
import Foundation

/// `drover gc [--older-than 7d] [--force]`: discards the worktrees of finished and applied runs past an
/// age (through the engine, so each is recorded as `run.discarded`), says what it removed and how much
/// space that freed, and keeps every branch with unmerged work unless `--force`.
enum GCCommand {
    static let subcommand = Subcommand(
        name: "gc",
        usage: "gc [--older-than AGE] [--force] [--workspace DIR]",
        summary: "Remove the worktrees of finished runs (default: older than 7 days); unmerged branches stay unless --force.",
        options: [
            OptionSpec(name: "--older-than", value: "AGE", help: "only runs that ended longer ago than AGE: 30m, 12h, 7d (default 7d; 0 for all)"),
            OptionSpec(name: "--force", value: nil, help: "also delete branches whose commits are not merged anywhere"),
            Workspace.option,
            StoreChoice.option,
        ],
        run: run
    )

    static func run(_ arguments: ParsedArguments) async throws -> Int32 {
        let age = try parseAge(arguments.value("--older-than") ?? "7d")
        let workspace = try Workspace.resolve(arguments)
        let store = try StoreChoice.resolve(arguments)
        let t = Terminal.current
        guard try Workspace.queries(workspace, store: store) != nil else {
            Console.line("Nothing to collect: no run has worked in \(workspace.path) yet")
            return 0
        }
        try stopIdleEngine(workspace)
        let host = try EngineHost.open(workspace: workspace, backend: store.backend)
        let engine = host.engine
        let collected = try await engine.garbageCollect(olderThan: age, force: arguments.has("--force"))
        await engine.waitUntilIdle()
        withExtendedLifetime(host) {}
        guard !collected.isEmpty else {
            Console.line("Nothing to collect: no finished isolated run is older than \(arguments.value("--older-than") ?? "7d")")
            return 0
        }
        var freed: Int64 = 0
        for item in collected {
            freed += item.bytesFreed
            var parts: [String] = []
            if item.worktreeRemoved { parts.append("removed its \(item.isSnapshot ? "snapshot" : "worktree") (\(size(item.bytesFreed)))") }
            if item.branchDeleted, let branch = item.branch { parts.append("deleted branch \(branch)") }
            Console.line("\(t.ok) \(item.runId) (\(item.status.rawValue)): " + (parts.isEmpty ? (item.snapshotKept == nil ? "nothing left to remove" : "nothing removed") : parts.joined(separator: ", ")))
            if let kept = item.snapshotKept { Console.line(t.dim("    kept its snapshot: \(kept)")) }
            if let kept = item.branchKept { Console.line(t.dim("    kept branch \(item.branch ?? ""): \(kept)")) }
        }
        let copies = collected.filter(\.worktreeRemoved).count
        let kept = collected.filter { $0.branchKept != nil }.count, snapshotsKept = collected.filter { $0.snapshotKept != nil }.count
        Console.line(t.bold("Freed \(size(freed))") + " from \(Format.count(copies, "worktree"))"
                     + "; branches deleted: \(collected.filter(\.branchDeleted).count)" + (kept > 0 ? ", \(kept) kept" : "")
                     + (snapshotsKept > 0 ? "; snapshots kept: \(snapshotsKept)" : ""))
        return 0
    }

    /// gc works on the store itself, so the workspace's engine must not be driving it: an idle engine
    /// (nothing working or queued) is stopped — it loses nothing — and a busy one is left alone with
    /// a message saying when to come back.
    private static func stopIdleEngine(_ workspace: URL) throws {
        guard let link = try EngineConnector.connect(workspace: workspace, hello: EngineConnector.hello(.status)) else { return }
        close(link.fd)
        // Parsed once: `reply` reads the answer line anew each time.
        let reply = link.reply
        let working = reply["liveAttempts"] as? Int ?? 0, queued = reply["queuedRuns"] as? Int ?? 0
        guard working == 0, queued == 0 else {
            throw CLIError("the workspace's engine (pid \(reply["pid"] ?? "?")) has \(Format.count(working, "agent")) working and "
                           + "\(Format.count(queued, "run")) queued; run `drover gc` once they are done (`drover engine drain` starts no new ones)")
        }
        EngineCommand.stopEngine(workspace)
        // Its socket closes a moment before the process (and its lock on the store) is gone.
        guard let pid = reply["pid"] as? Int, pid > 0 else { return }
        let deadline = Date().addingTimeInterval(10)
        while kill(pid_t(pid), 0) == 0, Date() < deadline { usleep(10_000) }
    }

    /// "30m", "12h", "7d", "2w" or "0" → seconds.
    static func parseAge(_ text: String) throws -> TimeInterval {
        let units: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]
        if text == "0" { return 0 }
        guard let unit = text.last, let factor = units[unit], let number = Double(text.dropLast()), number >= 0 else {
            throw UsageError(description: "--older-than takes an age like 30m, 12h, 7d or 2w (or 0 for every finished run), not '\(text)'")
        }
        return number * factor
    }

    /// Bytes for people: "0 B", "12.3 KB", "4.5 MB", "1.2 GB".
    static func size(_ bytes: Int64) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(bytes), index = 0
        while value >= 1024, index < units.count - 1 { value /= 1024; index += 1 }
        return index == 0 ? "\(bytes) B" : String(format: "%.1f", value) + " " + units[index]
    }
}
