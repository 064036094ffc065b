import DroverProtocol
import DroverStore
import Foundation

/// What the engine keeps in memory of one run it drives; all of it is derived from the store and
/// dropped together (when the run ends, when a claim starts, when another writer got there first).
struct RunRecord {
    /// The latest snapshot (equal to the stored one while the engine owns the run).
    var snapshot: Run?
    /// Gate and failure history, built from the event log on first use.
    var history: RunHistory?
    /// The pipeline the run follows, loaded when it starts or is first advanced.
    var pipeline: Engine.LoadedPipeline?
}

/// The engine's single writer: `commit` folds events into a run, stores them in one transaction and
/// publishes them to the listeners, in that order, only while the engine owns the run. It also
/// owns the per-run records the commit keeps current.
///
/// Owned and used only by the `Engine` actor (it is not `Sendable`): actor isolation is what makes
/// commits strictly sequential, so `seq` stays gapless and listeners see events in commit order.
final class RunLedger {
    let store: any RunStore
    let ownership: any RunOwnership
    let queries: RunQueries
    private let now: @Sendable () -> Date
    private var records: [String: RunRecord] = [:]
    private var listeners: [Int: @Sendable (EngineOutput) -> Void] = [:]
    private var nextListenerId = 1

    init(store: any RunStore, ownership: any RunOwnership, workspace: URL, now: @escaping @Sendable () -> Date) {
        self.store = store
        self.ownership = ownership
        self.queries = RunQueries(store: store, workspace: workspace)
        self.now = now
    }

    // MARK: Publishing

    func addListener(_ listener: @escaping @Sendable (EngineOutput) -> Void) -> Int {
        let id = nextListenerId
        nextListenerId += 1
        listeners[id] = listener
        return id
    }

    func removeListener(_ id: Int) {
        listeners[id] = nil
    }

    /// Calls every listener in registration order; listeners only queue (they never do I/O).
    func publish(_ output: EngineOutput) {
        for id in listeners.keys.sorted() { listeners[id]?(output) }
    }

    // MARK: Committing

    /// Stamps `bodies` with the next seqs and the current time, folds them, stores events and
    /// snapshot in one transaction, then publishes them. Returns the new run.
    @discardableResult
    func commit(_ bodies: [EventBody], runId: String) throws -> Run {
        try hold(runId)
        var run = try records[runId]?.snapshot ?? store.run(id: runId)
        let at = Timestamp.string(now())
        var seq = run?.lastSeq ?? 0
        var events: [Event] = []
        for body in bodies {
            seq += 1
            let event = Event(runId: runId, seq: seq, at: at, body: body)
            run = try RunReducer.apply(event, to: run)
            events.append(event)
        }
        guard let snapshot = run else { throw EngineError.internalError("commit of no events to unknown run \(runId)") }
        do {
            try store.append(events, snapshot: snapshot)
        } catch {
            throw appendFailure(error, runId: runId)
        }
        if var history = records[runId]?.history {
            for event in events { history.apply(event) }
            records[runId]?.history = history
        }
        for event in events { publish(.event(event)) }
        if snapshot.status.isTerminal {
            // Finished runs leave memory (a long-lived engine sees many); retry or restart reloads them.
            records[runId] = nil
            ownership.release(runId: runId)
        } else {
            records[runId, default: RunRecord()].snapshot = snapshot
        }
        return snapshot
    }

    // MARK: Reading the records

    /// The run as this engine last committed or read it. Kept only while the engine owns the run:
    /// on a shared store another engine or worker may change a run this one does not own.
    func run(_ runId: String) throws -> Run {
        if let run = records[runId]?.snapshot, ownership.holds(runId: runId) { return run }
        let run = try queries.run(runId)
        records[runId, default: RunRecord()].snapshot = run
        return run
    }

    func history(_ runId: String) throws -> RunHistory {
        if let history = records[runId]?.history, ownership.holds(runId: runId) { return history }
        let history = try queries.history(runId)
        records[runId, default: RunRecord()].history = history
        return history
    }

    /// The cached pipeline of `runId`, or the one `load` returns (then cached).
    func pipeline(_ runId: String, load: () throws -> Engine.LoadedPipeline) throws -> Engine.LoadedPipeline {
        if let pipeline = records[runId]?.pipeline { return pipeline }
        let pipeline = try load()
        records[runId, default: RunRecord()].pipeline = pipeline
        return pipeline
    }

    /// Claims a new run and seeds its record (no history yet, the pipeline it was started with).
    func begin(_ runId: String, pipeline: Engine.LoadedPipeline) throws {
        try hold(runId)  // before seeding: a new claim drops the record
        records[runId] = RunRecord(snapshot: nil, history: RunHistory(), pipeline: pipeline)
    }

    // MARK: Ownership

    /// Drops what is kept of `runId` (it is read from the store again when needed).
    func forget(_ runId: String) {
        records[runId] = nil
    }

    /// Forgets `runId` and gives up the claim on it (the run was handed to workers).
    func letGo(_ runId: String) {
        records[runId] = nil
        ownership.release(runId: runId)
    }

    /// Renews this engine's claim on `runId`, or claims it and drops what was kept of it before.
    /// Throws `conflict` (and drops the record) when the run is not, or no longer, this engine's.
    private func hold(_ runId: String) throws {
        do {
            if ownership.holds(runId: runId) {
                try ownership.renew(runId: runId)
            } else {
                try ownership.claim(runId: runId)
                records[runId] = nil
            }
        } catch {
            records[runId] = nil
            throw EngineError.conflict("\(error)")
        }
    }

    /// The error for a failed append. A seq conflict means another writer appended to the run: the
    /// record is stale, so it is dropped and the caller told to reload.
    private func appendFailure(_ error: any Error, runId: String) -> EngineError {
        if let error = error as? RunOwnershipError {
            // The store's own check of the lease refused the append (fencing): the run is not ours.
            records[runId] = nil
            return .conflict("\(error)")
        }
        if let error = error as? StoreError, error.kind == .seqConflict {
            records[runId] = nil
            return .conflict("Run \(runId) was changed by another writer (\(error)); run/get shows it as it is now, try again")
        }
        return .internalError("cannot store events of run \(runId): \(error)")
    }
}
