import CSQLite
import DroverEngine
import DroverProtocol
import DroverSQLite
import DroverStore
import Foundation

/// The anchors for the store: raw SQLite on the same machine, and `SQLiteRunStore.append` alone.
enum StoreAnchors {
    /// Single-row transactions per second (BEGIN; INSERT; COMMIT), with the store's own settings
    /// (WAL, synchronous NORMAL) and a table shaped like `events`: the rate one commit per event
    /// could at best reach.
    static func rawTransactionsPerSecond(path: String, count: Int) -> Double {
        var db: OpaquePointer?
        guard sqlite3_open(path, &db) == SQLITE_OK, let db else { return 0 }
        defer { sqlite3_close(db) }
        sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;", nil, nil, nil)
        sqlite3_exec(db, "CREATE TABLE events (run_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, at TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (run_id, seq)) WITHOUT ROWID", nil, nil, nil)
        var insert: OpaquePointer?
        sqlite3_prepare_v2(db, "INSERT INTO events VALUES ('r-raw', ?1, 'usage.recorded', '2026-01-01T00:00:00.000Z', '{\"stepId\":\"burst\",\"model\":\"bench\",\"inputTokens\":1,\"outputTokens\":1,\"costUSD\":0}')", -1, &insert, nil)
        defer { sqlite3_finalize(insert) }
        let start = ContinuousClock.now
        for seq in 1...count {
            sqlite3_exec(db, "BEGIN IMMEDIATE", nil, nil, nil)
            sqlite3_bind_int64(insert, 1, Int64(seq))
            sqlite3_step(insert)
            sqlite3_reset(insert)
            sqlite3_exec(db, "COMMIT", nil, nil, nil)
        }
        return Double(count) / seconds(ContinuousClock.now - start)
    }

    /// Mean time of one `SQLiteRunStore.append` of one event (with its snapshot), as the engine's
    /// commit does it for a usage event.
    static func appendSeconds(path: String, count: Int) throws -> Double {
        let store = try SQLiteRunStore(path: path)
        let runId = "r-20260101-000000-bench"
        let created = Event(runId: runId, seq: 1, at: "2026-01-01T00:00:00.000Z", body: .runCreated(.init(
            pipelineId: "p", task: "bench", steps: [StepInfo(id: "burst", kind: .agent)])))
        var snapshot = try RunReducer.apply(created, to: nil)
        try store.append([created], snapshot: snapshot)
        let events = (2...(count + 1)).map { seq in
            Event(runId: runId, seq: seq, at: "2026-01-01T00:00:00.000Z", body: .usageRecorded(.init(
                stepId: "burst", model: "bench", inputTokens: 1, outputTokens: 1, costUSD: 0)))
        }
        let start = ContinuousClock.now
        for event in events {
            snapshot = try RunReducer.apply(event, to: snapshot)
            try store.append([event], snapshot: snapshot)
        }
        return seconds(ContinuousClock.now - start) / Double(count)
    }

    /// What one commit's store work costs, in seconds per commit, on a run of `steps` steps committed as
    /// the steps pipeline commits it (one event each: `step.started`, then `step.completed`): the snapshot
    /// encoded as the stores do (`SnapshotEncoder`, unchanged steps reused) and encoded whole (as before
    /// it), the event's data encoded, and the whole `SQLiteRunStore.append` (both encodings and the transaction).
    static func commitParts(path: String, steps count: Int) throws -> (snapshot: Double, wholeSnapshot: Double, event: Double, append: Double) {
        let store = try SQLiteRunStore(path: path)
        let runId = "r-20260101-000000-parts"
        let at = "2026-01-01T00:00:00.000Z"
        var events = [Event(runId: runId, seq: 1, at: at, body: .runCreated(.init(
            pipelineId: "steps", task: "bench", steps: (1...count).map { StepInfo(id: "s\($0)", kind: .agent) })))]
        events.append(Event(runId: runId, seq: 2, at: at, body: .runStarted))
        for index in 1...count {
            events.append(Event(runId: runId, seq: events.count + 1, at: at, body: .stepStarted(.init(stepId: "s\(index)", attempt: 1))))
            events.append(Event(runId: runId, seq: events.count + 1, at: at, body: .stepCompleted(.init(stepId: "s\(index)", attempt: 1, output: "ok"))))
        }
        let encoder = SnapshotEncoder()
        let codec = EventCodec()
        var snapshot: Run?
        var parts = (snapshot: Duration.zero, wholeSnapshot: Duration.zero, event: Duration.zero, append: Duration.zero)
        let clock = ContinuousClock()
        for event in events {
            snapshot = try RunReducer.apply(event, to: snapshot)
            guard let run = snapshot else { continue }
            parts.snapshot += try clock.measure { _ = try encoder.encode(run) }
            parts.wholeSnapshot += try clock.measure { _ = try codec.encodeSnapshot(run) }
            parts.event += try clock.measure { _ = try codec.encodeData(of: event.body) }
            parts.append += try clock.measure { try store.append([event], snapshot: run) }
        }
        let commits = Double(events.count)
        return (seconds(parts.snapshot) / commits, seconds(parts.wholeSnapshot) / commits,
                seconds(parts.event) / commits, seconds(parts.append) / commits)
    }
}
