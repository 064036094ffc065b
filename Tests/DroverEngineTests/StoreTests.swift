import CSQLite
import DroverProtocol
import Foundation
import Testing

@testable import DroverEngine

// MARK: Helpers

/// Runs `body` with a fresh folder under the temporary directory and removes it afterwards.
func withTemporaryDirectory<T>(_ body: (URL) throws -> T) throws -> T {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("drover-store-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url)
}

/// The permission bits of `path` (without following a symlink).
func permissions(_ path: String) throws -> Int {
    var info = stat()
    guard lstat(path, &info) == 0 else { throw StoreError.io("stat", path, errno: errno) }
    return Int(info.st_mode & 0o777)
}

enum Fixtures {
    static let at = "2026-01-02T03:04:05.678Z"

    static func run(
        _ id: String, status: RunStatus = .running, createdAt: String = at, lastSeq: Int = 0, output: String? = nil
    ) -> Run {
        Run(
            id: id, pipelineId: "default", task: "fix the \"flaky\" test / ünïcødé ✓", inputs: ["branch": "main"],
            status: status, createdAt: createdAt, updatedAt: createdAt, currentStep: "plan",
            steps: [
                Step(id: "plan", kind: .agent, role: "planner", state: .done, attempts: 1, output: output,
                     startedAt: at, finishedAt: at, decision: Decision(id: "d1", question: "Which?", options: ["a", "b"], chosen: "a")),
                Step(id: "implement", kind: .agent, approval: Approval(id: "a1", status: .pending, proposal: "diff")),
                Step(id: "test", kind: .tests),
            ],
            failure: nil, usage: Usage(inputTokens: 10, outputTokens: 20, costUSD: 0.1), lastSeq: lastSeq)
    }

    /// One event of every type, in protocol order, with awkward strings and optional members both set and unset.
    static func everyBody() -> [EventBody] {
        let failure = Failure(kind: .tests, message: "2 tests failed\nsee log", hint: "run `swift test`", stepId: "test")
        return [
            .runCreated(.init(
                pipelineId: "default", task: "quotes \" and \\ and / and 😀", inputs: ["k": "v", "empty": ""],
                steps: [StepInfo(id: "plan", kind: .agent, role: "planner"), StepInfo(id: "test", kind: .tests)])),
            .runStarted,
            .stepStarted(.init(stepId: "plan", attempt: 1)),
            .stepCompleted(.init(stepId: "plan", attempt: 1, output: "line 1\nline 2\t\u{0}end")),
            .stepFailed(.init(stepId: "test", attempt: 2, failure: failure)),
            .stepInterrupted(.init(stepId: "implement", attempt: 3)),
            .decisionRequested(.init(stepId: "plan", decisionId: "d1", question: "Which DB?", options: ["sqlite", "none"])),
            .decisionResolved(.init(stepId: "plan", decisionId: "d1", choice: "sqlite")),
            .approvalRequested(.init(stepId: "implement", approvalId: "a1", proposal: "+ added\n- removed")),
            .approvalResolved(.init(stepId: "implement", approvalId: "a1", status: .changesRequested, feedback: "smaller")),
            .approvalResolved(.init(stepId: "implement", approvalId: "a1", status: .approved, proposal: "v2")),
            .usageRecorded(.init(stepId: "plan", model: "m-1", inputTokens: 1234, outputTokens: 56, costUSD: 0.0123456789)),
            .runRetried(.init(fromStep: "test")),
            .runRestarted(.init(fromStep: "plan")),
            .runCompleted,
            .runFailed(.init(failure: Failure(kind: .internal, message: "boom", hint: "report it"))),
            .runCancelled(.init(reason: "user asked")),
        ]
    }

    static func events(_ runId: String, bodies: [EventBody], from first: Int = 1) -> [Event] {
        bodies.enumerated().map { Event(runId: runId, seq: first + $0.offset, at: at, body: $0.element) }
    }

    static func events(_ runId: String, count: Int, from first: Int = 1) -> [Event] {
        (0..<count).map { Event(runId: runId, seq: first + $0, at: at, body: .stepStarted(.init(stepId: "s", attempt: $0))) }
    }
}

// MARK: Store

@Suite struct StoreTests {
    @Test func everyEventTypeRoundTrips() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("drover.db").path
            let events = Fixtures.events("r1", bodies: Fixtures.everyBody())
            #expect(Set(events.map(\.type)) == Set(EventBody.allTypes))

            let store = try SQLiteRunStore(path: path)
            try store.append(events, snapshot: Fixtures.run("r1", lastSeq: events.count))
            #expect(try store.events(runId: "r1", afterSeq: 0, limit: 1000) == events)
            #expect(try store.lastSeq(runId: "r1") == events.count)

            // A fresh connection reads the same values from disk.
            let reopened = try SQLiteRunStore(path: path)
            #expect(try reopened.events(runId: "r1", afterSeq: 0, limit: 1000) == events)
            #expect(try reopened.run(id: "r1") == Fixtures.run("r1", lastSeq: events.count))
        }
    }

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

    @Test func appendReplacesTheSnapshot() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteRunStore(path: dir.appendingPathComponent("drover.db").path)
            #expect(try store.run(id: "r1") == nil)

            let first = Fixtures.run("r1", status: .running, lastSeq: 1)
            try store.append(Fixtures.events("r1", count: 1), snapshot: first)
            #expect(try store.run(id: "r1") == first)

            var second = Fixtures.run("r1", status: .done, lastSeq: 3, output: "all done")
            second.updatedAt = "2026-01-02T04:00:00.000Z"
            try store.append(Fixtures.events("r1", count: 2, from: 2), snapshot: second)
            #expect(try store.run(id: "r1") == second)
            #expect(try store.runs(statuses: nil, afterRunId: nil, limit: 10) == [second])
            #expect(try store.runs(statuses: [.running], afterRunId: nil, limit: 10).isEmpty)

            // A snapshot-only append is allowed and leaves the events alone.
            var third = second
            third.task = "renamed"
            try store.append([], snapshot: third)
            #expect(try store.run(id: "r1") == third)
            #expect(try store.events(runId: "r1", afterSeq: 0, limit: 10).count == 3)
        }
    }

    @Test func takenSeqThrowsAndWritesNothing() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteRunStore(path: dir.appendingPathComponent("drover.db").path)
            let original = Fixtures.run("r1", lastSeq: 2)
            try store.append(Fixtures.events("r1", count: 2), snapshot: original)

            // Seq 2 is taken, seq 3 would be new: neither the new event nor the snapshot may land.
            let clash = Fixtures.events("r1", count: 2, from: 2)
            let error = #expect(throws: StoreError.self) {
                try store.append(clash, snapshot: Fixtures.run("r1", status: .failed, lastSeq: 3))
            }
            #expect(error?.kind == .seqConflict)
            #expect(error?.message.contains("seq 2") == true)
            #expect(try store.events(runId: "r1", afterSeq: 0, limit: 10) == Fixtures.events("r1", count: 2))
            #expect(try store.run(id: "r1") == original)

            // The store stays usable after the rollback.
            try store.append(Fixtures.events("r1", count: 1, from: 3), snapshot: Fixtures.run("r1", lastSeq: 3))
            #expect(try store.lastSeq(runId: "r1") == 3)
        }
    }

    @Test(arguments: [
        ("gap after the stored seqs", [4]),
        ("duplicate within the batch", [3, 3]),
        ("out of order within the batch", [3, 5]),
        ("first event of a run is not seq 1", [0]),
    ])
    func badSeqsAreRefused(_ label: String, _ seqs: [Int]) throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteRunStore(path: dir.appendingPathComponent("drover.db").path)
            try store.append(Fixtures.events("r1", count: 2), snapshot: Fixtures.run("r1", lastSeq: 2))
            let events = seqs.map { Event(runId: "r1", seq: $0, at: Fixtures.at, body: .runCompleted) }
            #expect(throws: StoreError.self, "\(label)") {
                try store.append(events, snapshot: Fixtures.run("r1", status: .done))
            }
            #expect(try store.lastSeq(runId: "r1") == 2)
            #expect(try store.run(id: "r1")?.status == .running)
        }
    }

    @Test func eventsOfAnotherRunAreRefused() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteRunStore(path: dir.appendingPathComponent("drover.db").path)
            let error = #expect(throws: StoreError.self) {
                try store.append(Fixtures.events("other", count: 1), snapshot: Fixtures.run("r1"))
            }
            #expect(error?.kind == .invalidAppend)
            #expect(try store.run(id: "r1") == nil)
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

    @Test func eventsPageByAfterSeqAndLimit() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteRunStore(path: dir.appendingPathComponent("drover.db").path)
            let all = Fixtures.events("r1", count: 10)
            try store.append(all, snapshot: Fixtures.run("r1", lastSeq: 10))
            try store.append(Fixtures.events("r2", count: 3), snapshot: Fixtures.run("r2", lastSeq: 3))

            #expect(try store.events(runId: "r1", afterSeq: 0, limit: 3) == Array(all[0..<3]))
            #expect(try store.events(runId: "r1", afterSeq: 3, limit: 3) == Array(all[3..<6]))
            #expect(try store.events(runId: "r1", afterSeq: 9, limit: 5) == [all[9]])
            #expect(try store.events(runId: "r1", afterSeq: 10, limit: 5).isEmpty)
            #expect(try store.events(runId: "r1", afterSeq: -5, limit: 100) == all)
            #expect(try store.events(runId: "r1", afterSeq: 0, limit: 0).isEmpty)
            #expect(try store.events(runId: "r1", afterSeq: 0, limit: .max) == all)
            #expect(try store.events(runId: "nope", afterSeq: 0, limit: 10).isEmpty)

            // Paging to the end visits every event once.
            var seen: [Event] = []
            while case let page = try store.events(runId: "r1", afterSeq: seen.last?.seq ?? 0, limit: 4), !page.isEmpty {
                seen += page
            }
            #expect(seen == all)
        }
    }

    @Test func runsAreNewestFirstWithFilterAndCursor() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteRunStore(path: dir.appendingPathComponent("drover.db").path)
            // (id, status, createdAt); b and c share a timestamp so the id breaks the tie.
            let specs: [(String, RunStatus, String)] = [
                ("a", .done, "2026-01-01T00:00:00.000Z"),
                ("b", .running, "2026-01-02T00:00:00.000Z"),
                ("c", .blocked, "2026-01-02T00:00:00.000Z"),
                ("d", .failed, "2026-01-03T00:00:00.000Z"),
                ("e", .running, "2026-01-04T00:00:00.000Z"),
            ]
            for (id, status, createdAt) in specs.shuffled() {
                try store.append([], snapshot: Fixtures.run(id, status: status, createdAt: createdAt))
            }
            func ids(_ statuses: Set<RunStatus>? = nil, after: String? = nil, limit: Int = 100) throws -> [String] {
                try store.runs(statuses: statuses, afterRunId: after, limit: limit).map(\.id)
            }

            #expect(try ids() == ["e", "d", "c", "b", "a"])
            #expect(try ids(limit: 2) == ["e", "d"])
            #expect(try ids(after: "d", limit: 2) == ["c", "b"])
            #expect(try ids(after: "c") == ["b", "a"])
            #expect(try ids(after: "a").isEmpty)
            #expect(try ids([.running]) == ["e", "b"])
            #expect(try ids([.running, .blocked]) == ["e", "c", "b"])
            // The cursor may be a run the filter excludes: it only marks a place in the order.
            #expect(try ids([.running, .blocked], after: "d") == ["c", "b"])
            #expect(try ids([.running], after: "e") == ["b"])
            #expect(try ids([.queued]).isEmpty)
            #expect(try ids([]).isEmpty)
            #expect(try ids(limit: 0).isEmpty)

            var paged: [String] = []
            while case let page = try ids(after: paged.last, limit: 2), !page.isEmpty { paged += page }
            #expect(paged == ["e", "d", "c", "b", "a"])

            let error = #expect(throws: StoreError.self) { try ids(after: "missing") }
            #expect(error?.kind == .notFound)
        }
    }

    @Test func filesAreUserOnly() throws {
        try withTemporaryDirectory { dir in
            let layout = StoreLayout(workspace: dir)
            try layout.prepare()
            let store = try SQLiteRunStore(path: layout.databasePath)
            try store.append(Fixtures.events("r1", count: 1), snapshot: Fixtures.run("r1"))

            #expect(try permissions(layout.root.path) == 0o700)
            #expect(try permissions(layout.logsDirectory.path) == 0o700)
            #expect(try permissions(layout.databasePath) == 0o600)
            #expect(try permissions(layout.databasePath + "-wal") == 0o600)
            #expect(try permissions(layout.databasePath + "-shm") == 0o600)
            #expect(try String(contentsOfFile: layout.gitignorePath, encoding: .utf8) == "*\n")
        }
    }

    @Test func storeCreatesAMissingFolderUserOnly() throws {
        try withTemporaryDirectory { dir in
            let folder = dir.appendingPathComponent("fresh")
            _ = try SQLiteRunStore(path: folder.appendingPathComponent("drover.db").path)
            #expect(try permissions(folder.path) == 0o700)
            #expect(try permissions(folder.appendingPathComponent("drover.db").path) == 0o600)
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

// MARK: Layout

@Suite struct StoreLayoutTests {
    @Test(arguments: [
        ("a", true), ("Z", true), ("0", true), ("run-1", true), ("r_1.2-x", true), ("a.b.c", true),
        ("20260102-abc_DEF.1", true), (String(repeating: "a", count: 128), true),
        ("", false), ("../x", false), ("..", false), (".", false), ("a/b", false), ("/abs", false),
        ("a..b", false), ("x..", false), (".hidden", false), ("-flag", false), ("_x", false),
        ("a b", false), ("a\\b", false), ("a\nb", false), ("a\u{0}b", false), ("é", false), ("a:b", false),
        ("~", false), (String(repeating: "a", count: 129), false), (String(repeating: "a", count: 200), false),
    ])
    func idValidation(_ id: String, _ valid: Bool) {
        #expect(StoreLayout.isValidID(id) == valid, "\(id.debugDescription)")
    }

    @Test func pathsLiveUnderDotDrover() throws {
        let layout = StoreLayout(workspace: URL(fileURLWithPath: "/work/project"))
        #expect(layout.root.path == "/work/project/.drover")
        #expect(layout.databasePath == "/work/project/.drover/drover.db")
        #expect(layout.lockPath == "/work/project/.drover/engine.lock")
        #expect(layout.logsDirectory.path == "/work/project/.drover/logs")
        #expect(try layout.logFile(runId: "r1", stepId: "plan", attempt: 2).path == "/work/project/.drover/logs/r1/plan.2.log")
        #expect(try layout.agentRecordFile(runId: "r1", stepId: "plan", attempt: 2).path == "/work/project/.drover/logs/r1/plan.2.pid")
    }

    @Test(arguments: [("../x", "plan"), ("r1", "../../etc/passwd"), ("a/b", "plan"), ("r1", ""), ("", "plan")])
    func logFileRefusesBadIDs(_ runId: String, _ stepId: String) {
        let layout = StoreLayout(workspace: URL(fileURLWithPath: "/work/project"))
        let error = #expect(throws: StoreError.self) { try layout.logFile(runId: runId, stepId: stepId, attempt: 1) }
        #expect(error?.kind == .invalidID)
        #expect(error?.message.contains("invalid") == true)
        #expect(throws: StoreError.self) { try layout.agentRecordFile(runId: runId, stepId: stepId, attempt: 1) }
    }

    @Test func prepareIsRepeatableAndKeepsAnExistingGitignore() throws {
        try withTemporaryDirectory { dir in
            let layout = StoreLayout(workspace: dir)
            try FileManager.default.createDirectory(at: layout.root, withIntermediateDirectories: true)
            #expect(chmod(layout.root.path, 0o755) == 0)
            try "custom\n".write(toFile: layout.gitignorePath, atomically: false, encoding: .utf8)

            try layout.prepare()
            try layout.prepare()
            #expect(try permissions(layout.root.path) == 0o700)  // tightened
            #expect(try String(contentsOfFile: layout.gitignorePath, encoding: .utf8) == "custom\n")
            #expect(FileManager.default.fileExists(atPath: layout.logsDirectory.path))
        }
    }

    @Test func prepareRefusesASymlinkedFolder() throws {
        try withTemporaryDirectory { dir in
            let elsewhere = dir.appendingPathComponent("elsewhere")
            try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
            let workspace = dir.appendingPathComponent("ws")
            try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
            let layout = StoreLayout(workspace: workspace)
            try FileManager.default.createSymbolicLink(atPath: layout.root.path, withDestinationPath: elsewhere.path)
            let error = #expect(throws: StoreError.self) { try layout.prepare() }
            #expect(error?.kind == .io)
            #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere.path).isEmpty)
        }
    }
}
