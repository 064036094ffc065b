import Foundation

/// The config and the workspace's trust as read during one stretch of synchronous engine work: an
/// admission that starts runs' first steps, an attempt's outcome and what follows it, a run's start.
///
/// Each read of either is a `stat` per file (`FileValueCache`), and such a stretch asked for the config
/// up to three times. Nothing can interleave with synchronous actor code, and no file read in it is
/// written by it, so asking once answers them all; every new stretch reads the files again, so an edit
/// counts from the next one on, as before (a run started or an attempt launched after the edit sees it).
struct TurnReads {
    var config: EngineConfig?
    var trusted: Bool?
}

extension Engine {
    /// Runs `body` with the config and trust read at most once each (`TurnReads`). `body` is synchronous,
    /// so no other work of the engine runs before the reads are forgotten; nested calls share the outer reads.
    func readingFilesOnce<T>(_ body: () throws -> T) rethrows -> T {
        guard turnReads == nil else { return try body() }
        turnReads = TurnReads()
        defer { turnReads = nil }
        return try body()
    }

    /// The config files as they are now (read at every run start, admission and attempt: they may change
    /// while the engine runs); within `readingFilesOnce`, as first read there.
    func loadConfig() -> EngineConfig {
        if let config = turnReads?.config { return config }
        let config = EngineConfig.load(configFiles)
        turnReads?.config = config
        return config
    }

    /// Whether the user trusts this workspace; within `readingFilesOnce`, as first read there.
    public func isTrusted() -> Bool {
        if let trusted = turnReads?.trusted { return trusted }
        let trusted = trustStore.isTrusted(key: trustKey)
        turnReads?.trusted = trusted
        return trusted
    }
}
