import CSQLite
import DroverEngine
import DroverProtocol
import DroverSQLite
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
}
