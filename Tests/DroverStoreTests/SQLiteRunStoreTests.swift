import CSQLite
import DroverProtocol
import DroverStore
import Foundation
import Testing

@testable import DroverSQLite

/// What only the SQLite store does; what every store does is in `RunStoreConformanceTests`.
@Suite struct SQLiteRunStoreTests {
    @Test func eventColumnsHoldTheWireFields() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteRunStore(path: dir.appendingPathComponent("drover.db").path)
            let events = Fixtures.events("r1", bodies: [.runStarted, .stepStarted(.init(stepId: "plan", attempt: 1))])
            try store.append(events, snapshot: Fixtures.run("r1"))

            let rows = try store.database.prepare("SELECT run_id, seq, type, at, data FROM events ORDER BY seq")
            var columns: [[String]] = []
            while try rows.step() { columns.append((0..<5).map { rows.text($0) ?? "NULL" }) }
            #expect(columns == [
                ["r1", "1", "run.started", Fixtures.at, "{}"],
                ["r1", "2", "step.started", Fixtures.at, #"{"attempt":1,"stepId":"plan"}"#],
            ])

            // `data` is exactly the `data` member of the event's wire JSON.
            let wire = try JSONSerialization.jsonObject(with: JSONCoding.makeEncoder().encode(events[1])) as? [String: Any]
            let column = try JSONSerialization.jsonObject(with: Data(columns[1][4].utf8)) as? [String: Any]
            #expect((wire?["data"] as? NSDictionary) == (column as NSDictionary?))
        }
    }

    @Test func transactionRollsBackEverythingOnThrow() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteRunStore(path: dir.appendingPathComponent("drover.db").path)
            let db = store.database
            let insert = "INSERT INTO events (run_id, seq, type, at, data) VALUES ('r1', 1, 'run.started', 'now', '{}')"
            let error = #expect(throws: SQLiteError.self) {
                try db.transaction {
                    try db.exec(insert)
                    try db.exec(insert)  // same (run_id, seq): primary key violation
                }
            }
            #expect(error?.isConstraintViolation == true)
            #expect(!db.inTransaction)
            #expect(try db.scalarInt("SELECT count(*) FROM events") == 0)
        }
    }

    @Test("a full database is StoreError .full, says so, and keeps what was stored before")
    func fullDiskIsAFullStoreError() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteRunStore(path: dir.appendingPathComponent("drover.db").path)
            try store.append(Fixtures.events("r1", bodies: [.runStarted]), snapshot: Fixtures.run("r1"))
            // A database that may not grow fails as a full disk does (SQLITE_FULL).
            let pages = try store.database.scalarInt("PRAGMA page_count") ?? 0
            _ = try store.database.scalarInt("PRAGMA max_page_count = \(pages)")
            let big = String(repeating: "x", count: 64 * 1024)
            let events = Fixtures.events("r1", bodies: [.stepStarted(.init(stepId: big, attempt: 1))], from: 2)
            let error = #expect(throws: StoreError.self) { try store.append(events, snapshot: Fixtures.run("r1")) }
            #expect(error?.kind == .full)
            #expect(error?.isTransientWriteFailure == true)
            #expect(error?.message.contains("is full") == true, "\(error?.message ?? "")")
            #expect(try store.lastSeq(runId: "r1") == 1)
            #expect(!store.database.inTransaction)
        }
    }

    /// The engine counts its running runs at every admission (`concurrency.maxRuns`); the writable store
    /// answers from the statuses its own appends stored. The count must be the table's through every move a
    /// run makes (queued → running → blocked → running → paused → running → done, a retry back to running,
    /// a cancel), through an append that was refused or failed (a full disk), and in a store opened again
    /// (an engine restarted with runs running).
    @Test("the count of running runs follows every status move, refused and failed appends, and a reopen")
    func runningCountFollowsEveryStatusMove() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("drover.db").path
            let store = try SQLiteRunStore(path: path)
            let reader = try SQLiteRunStore(path: path, readOnly: true)
            var seqs: [String: Int] = [:]
            func move(_ runId: String, to status: RunStatus) throws {
                let seq = seqs[runId, default: 0] + 1
                try store.append(Fixtures.events(runId, count: 1, from: seq), snapshot: Fixtures.run(runId, status: status, lastSeq: seq))
                seqs[runId] = seq
            }
            func expectCounts(_ running: Int, _ blockedOrPaused: Int, _ note: Comment) throws {
                // The read-only store counts from the table: the writer's answer must be the same.
                #expect(try reader.countRuns(statuses: [.running]) == running, note)
                #expect(try store.countRuns(statuses: [.running]) == running, note)
                #expect(try store.countRuns(statuses: [.blocked, .paused]) == blockedOrPaused, note)
                #expect(try store.countRuns(statuses: [.running, .done]) == reader.countRuns(statuses: [.running, .done]), note)
            }
            try move("a", to: .running)
            try move("b", to: .queued)
            try expectCounts(1, 0, "a running, b queued: first counts read the table")
            for (status, running, waiting) in [(RunStatus.blocked, 0, 1), (.running, 1, 0), (.paused, 0, 1), (.running, 1, 0)] {
                try move("a", to: status)
                try expectCounts(running, waiting, "a \(status)")
            }
            try move("b", to: .running)
            try move("c", to: .running)
            try expectCounts(3, 0, "three running")
            try move("c", to: .cancelled)
            try move("a", to: .done)
            try expectCounts(1, 0, "a done, c cancelled")
            try move("a", to: .running)  // retried
            try expectCounts(2, 0, "a retried")

            // A refused append (a seq taken) changes nothing.
            #expect(throws: StoreError.self) {
                try store.append(Fixtures.events("b", count: 1, from: 1), snapshot: Fixtures.run("b", status: .failed))
            }
            try expectCounts(2, 0, "after a refused append")
            // A failed one (the disk full) neither: the run keeps the status stored.
            let pages = try store.database.scalarInt("PRAGMA page_count") ?? 0
            _ = try store.database.scalarInt("PRAGMA max_page_count = \(pages)")
            let big = Fixtures.events("b", bodies: [.stepStarted(.init(stepId: String(repeating: "x", count: 64 * 1024), attempt: 1))],
                                      from: seqs["b", default: 0] + 1)
            #expect(throws: StoreError.self) { try store.append(big, snapshot: Fixtures.run("b", status: .done)) }
            try expectCounts(2, 0, "after a failed append")
            _ = try store.database.scalarInt("PRAGMA max_page_count = 1000000")
            try move("b", to: .done)
            try expectCounts(1, 0, "b done once the disk has room")

            // A store opened again (a restarted engine) counts what is stored.
            let reopened = try SQLiteRunStore(path: path)
            #expect(try reopened.countRuns(statuses: [.running]) == 1)
            try reopened.append(Fixtures.events("a", count: 1, from: seqs["a", default: 0] + 1), snapshot: Fixtures.run("a", status: .done))
            #expect(try reopened.countRuns(statuses: [.running]) == 0)
            #expect(try reader.countRuns(statuses: [.running]) == 0)
        }
    }

    /// Another process that opens the store (the CLI's `drover status`, a worker) must see the engine's
    /// connection: SQLite's shared lock on the `-shm` file says so. Without it, the newcomer believes it
    /// is alone, truncates the shared memory and the engine dies with SIGBUS inside SQLite (seen once in
    /// conformance's slow-client case); opening and closing `-shm` to set its mode had dropped that lock.
    @Test("an open store still holds SQLite's lock on its shared memory, so other processes see it")
    func openStoreKeepsItsSharedMemoryLock() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("drover.db").path
            let store = try SQLiteRunStore(path: path)
            try store.append(Fixtures.events("r1", bodies: [.runStarted]), snapshot: Fixtures.run("r1"))
            var info = stat()
            #expect(lstat(path + "-shm", &info) == 0)
            #expect(info.st_mode & 0o777 == 0o600)
            let held = posixLocksOfThisProcess(onInode: info.st_ino)
            #expect(!held.isEmpty, "no POSIX lock of this process on \(path)-shm in /proc/locks")
            withExtendedLifetime(store) {}  // the connection must be open while /proc/locks is read
        }
    }

    @Test func databaseSymlinkIsRefused() throws {
        try withTemporaryDirectory { dir in
            let target = dir.appendingPathComponent("elsewhere.db").path
            let link = dir.appendingPathComponent("drover.db").path
            _ = try SQLiteRunStore(path: target)
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
            let error = #expect(throws: StoreError.self) { try SQLiteRunStore(path: link) }
            #expect(error?.message.contains("symlink") == true)
            #expect(throws: StoreError.self) { try SQLiteRunStore(path: link, readOnly: true) }
        }
    }

    @Test func readOnlyStoreReadsWhileAWriterHoldsTheDatabase() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("drover.db").path
            let writer = try SQLiteRunStore(path: path)
            let lock = try StoreLock(path: dir.appendingPathComponent("engine.lock").path)
            defer { lock.release() }
            let committed = Fixtures.events("r1", count: 2)
            try writer.append(committed, snapshot: Fixtures.run("r1", lastSeq: 2))

            let reader = try SQLiteRunStore(path: path, readOnly: true)
            #expect(try reader.events(runId: "r1", afterSeq: 0, limit: 10) == committed)

            // While the writer is inside a write transaction, the reader sees the last commit.
            try writer.database.transaction {
                try writer.database.exec(
                    "INSERT INTO events (run_id, seq, type, at, data) VALUES ('r1', 3, 'run.completed', 'x', '{}')")
                #expect(try reader.events(runId: "r1", afterSeq: 0, limit: 10) == committed)
                #expect(try reader.run(id: "r1")?.lastSeq == 2)
                #expect(try reader.runs(statuses: nil, afterRunId: nil, limit: 10).map(\.id) == ["r1"])
            }
            #expect(try reader.lastSeq(runId: "r1") == 3)

            let error = #expect(throws: StoreError.self) {
                try reader.append(Fixtures.events("r1", count: 1, from: 4), snapshot: Fixtures.run("r1"))
            }
            #expect(error?.kind == .readOnly)
        }
    }

    @Test func readOnlyStoreReadsAfterTheWriterClosed() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("drover.db").path
            weak var closed: SQLiteDatabase?
            do {
                let writer = try SQLiteRunStore(path: path)
                try writer.append(Fixtures.events("r1", count: 2), snapshot: Fixtures.run("r1"))
                closed = writer.database
            }
            // The connection (and its cached statements) went away with the store.
            #expect(closed == nil)
            let reader = try SQLiteRunStore(path: path, readOnly: true)
            #expect(try reader.events(runId: "r1", afterSeq: 0, limit: 10) == Fixtures.events("r1", count: 2))
        }
    }

    @Test func readOnlyStoreNeedsAnExistingStore() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("drover.db").path
            let error = #expect(throws: StoreError.self) { try SQLiteRunStore(path: path, readOnly: true) }
            #expect(error?.kind == .notFound)
            #expect(!FileManager.default.fileExists(atPath: path))
        }
    }

    @Test func newerSchemaIsRefused() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("drover.db").path
            try SQLiteRunStore(path: path).database.exec("PRAGMA user_version = 99")
            let error = #expect(throws: StoreError.self) { try SQLiteRunStore(path: path) }
            #expect(error?.kind == .unsupportedSchema)
            #expect(throws: StoreError.self) { try SQLiteRunStore(path: path, readOnly: true) }
        }
    }

    @Test func reopeningKeepsDataAndSettings() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("drover.db").path
            try SQLiteRunStore(path: path).append(Fixtures.events("r1", count: 3), snapshot: Fixtures.run("r1"))
            let store = try SQLiteRunStore(path: path)
            #expect(try store.lastSeq(runId: "r1") == 3)
            #expect(try store.database.scalarInt("PRAGMA user_version") == SQLiteRunStore.schemaVersion)
            #expect(try store.database.scalarText("PRAGMA journal_mode") == "wal")
            #expect(try store.database.scalarInt("PRAGMA synchronous") == 1)  // NORMAL
        }
    }

    /// Not a test of speed (timing is never asserted): run with DROVER_STORE_BENCH=1 to print how long
    /// 10 000 single-event appends take.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["DROVER_STORE_BENCH"] != nil))
    func appendThroughput() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteRunStore(path: dir.appendingPathComponent("drover.db").path)
            let count = 10_000
            var snapshot = Fixtures.run("bench")
            let clock = ContinuousClock()
            let elapsed = try clock.measure {
                for seq in 1...count {
                    snapshot.lastSeq = seq
                    let event = Event(runId: "bench", seq: seq, at: Fixtures.at, body: .stepStarted(.init(stepId: "s", attempt: seq)))
                    try store.append([event], snapshot: snapshot)
                }
            }
            print("appendThroughput: \(count) single-event appends in \(elapsed)")
            #expect(try store.lastSeq(runId: "bench") == count)
        }
    }
}
