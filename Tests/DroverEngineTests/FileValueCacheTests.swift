@testable import DroverEngine
import Foundation
import Testing

/// Config, trust and pipeline files are parsed again only when they change: a `stat` per read
/// otherwise, and an edit counts from the next read on.
@Suite struct FileValueCacheTests {
    /// A cache that counts how often it parsed.
    final class Counting: @unchecked Sendable {
        let lock = NSLock()
        var made = 0
        let cache: FileValueCache<String>
        init(settleSeconds: Int) { cache = FileValueCache(settleSeconds: settleSeconds) }
        func read(_ path: String) -> String {
            cache.value(at: path) { path in
                lock.withLock { made += 1 }
                return (try? String(contentsOfFile: path, encoding: .utf8)) ?? "absent"
            }
        }
    }

    @Test("a settled file is parsed once; an edit in place, a rename over it and its removal are each seen at the next read")
    func changesAreSeen() throws {
        let dir = try TempDir()
        let path = dir.url.appendingPathComponent("config.json").path
        let counting = Counting(settleSeconds: -1)  // every file counts as settled: the identity alone decides
        #expect(counting.read(path) == "absent")
        try "one".write(toFile: path, atomically: false, encoding: .utf8)
        #expect(counting.read(path) == "one")
        #expect(counting.read(path) == "one")
        #expect(counting.made == 2, "the unchanged file was parsed again")
        try "three".write(toFile: path, atomically: false, encoding: .utf8)  // in place
        #expect(counting.read(path) == "three")
        try "four!".write(toFile: path, atomically: true, encoding: .utf8)  // a new inode renamed over it
        #expect(counting.read(path) == "four!")
        try FileManager.default.removeItem(atPath: path)
        #expect(counting.read(path) == "absent")
    }

    @Test("a file changed within the settle time is parsed at every read (timestamps are coarse)")
    func freshFilesAreReadAgain() throws {
        let dir = try TempDir()
        let path = dir.url.appendingPathComponent("config.json").path
        try "one".write(toFile: path, atomically: false, encoding: .utf8)
        let counting = Counting(settleSeconds: 3600)
        #expect(counting.read(path) == "one")
        // Same size, same inode, possibly the same timestamp tick: still seen.
        try "two".write(toFile: path, atomically: false, encoding: .utf8)
        #expect(counting.read(path) == "two")
    }

    @Test("a config edit takes effect at the next load")
    func configEditTakesEffect() throws {
        let dir = try TempDir()
        let workspace = dir.url.appendingPathComponent("ws"), config = dir.url.appendingPathComponent("config")
        try dir.write("config/config.json", #"{"agents": {"writer": {"driver": "fake", "script": [[{"result": "x"}]]}}, "concurrency": {"maxRuns": 3}}"#)
        var loaded = EngineConfig.load(workspace: workspace, configDirectory: config)
        #expect(loaded.errors.isEmpty, "\(loaded.errors)")
        #expect(loaded.agent(forRole: "writer")?.spec.driver == "fake" && loaded.maxRuns == 3)
        try dir.write("config/config.json", #"{"agents": {"writer": {"driver": "command", "command": "w"}}, "concurrency": {"maxRuns": 5}}"#)
        try dir.write("ws/.drover/config.json", #"{"concurrency": {"maxRuns": 1}}"#)
        loaded = EngineConfig.load(workspace: workspace, configDirectory: config)
        #expect(loaded.errors.isEmpty, "\(loaded.errors)")
        #expect(loaded.agent(forRole: "writer")?.spec.driver == "command")
        #expect(loaded.maxRuns == 1, "the workspace's value wins")
    }

    @Test("timestamps read back without a date formatter")
    func timestampsRoundTrip() {
        let date = Date(timeIntervalSince1970: 1_795_000_000.125)
        let text = Timestamp.string(date)
        #expect(text == "2026-11-18T11:06:40.125Z")
        #expect(Timestamp.string(Date(timeIntervalSince1970: 981_173_106 + 1.0 / 128)) == "2001-02-03T04:05:06.007Z", "every field padded")
        #expect(Timestamp.date(text) == date)
        #expect(Timestamp.date("2026-11-18T11:06:40Z") == Date(timeIntervalSince1970: 1_795_000_000))
        #expect(Timestamp.date("2026-11-18 09:46:40Z") == nil)
        #expect(Timestamp.date("2026-11-18T09:46:40+01:00") == nil)
    }

    @Test("run ids carry their creation second (UTC) and five random characters of [0-9a-z]")
    func runIdsCarryTheirSecond() {
        let date = Date(timeIntervalSince1970: 1_795_000_000.125)
        let ids = (0..<200).map { _ in Identifiers.newRunID(at: date) }
        for id in ids {
            #expect(id.hasPrefix("r-20261118-110640-"), "\(id)")
            let suffix = id.dropFirst("r-20261118-110640-".count)
            #expect(suffix.count == 5 && suffix.allSatisfy { $0.isASCII && ($0.isNumber || $0.isLowercase) }, "\(id)")
        }
        #expect(Set(ids).count > 190, "the suffixes are random")
    }
}
