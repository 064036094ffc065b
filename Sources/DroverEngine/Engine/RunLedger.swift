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
    /// For a run this engine does not own: the `lastSeq` of the run `history` was read for.
    var historySeq: Int?
    /// The pipeline the run follows, loaded when it starts or is first advanced.
    var pipeline: Engine.LoadedPipeline?
    /// Events folded into `snapshot` but not stored or published yet (`RunLedger.stage`): they go first
    /// in the run's next commit, and are forgotten with the record if that commit fails.
    var staged: [Event] = []
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
    /// Per run, the last seq the listeners were given (or, for runs older than this engine on a shared
    /// store, the seq it found them at): what is after it is news (`Following`).
    private(set) var publishedSeqs: [String: Int] = [:]
    /// Other writers' events a commit took in before its own (see `commit`), for the engine to act on.
    private var heardWhileCommitting: [(runId: String, events: [Event])] = []

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
        if case .event(let event) = output { publishedSeqs[event.runId] = max(publishedSeqs[event.runId] ?? 0, event.seq) }
        for id in listeners.keys.sorted() { listeners[id]?(output) }
    }

    // MARK: Committing

    /// Stamps `bodies` with the next seqs and the current time, folds them, stores events and
    /// snapshot in one transaction, then publishes them. Returns the new run.
    ///
    /// A seq conflict means another writer got there first — on a shared store, another engine that
    /// answered one of this run's gates (`appendAsGuest`). Our events were decided on the run as it was,
    /// so they are refused, never re-applied; the other writer's events are taken in and published
    /// (`takeHeard()` hands them to the engine to act on) and the caller is told to try again.
    @discardableResult
    func commit(_ bodies: [EventBody], runId: String) throws -> Run {
        try hold(runId)
        do {
            return try append(bodies, runId: runId)
        } catch let error as StoreError where error.kind == .seqConflict {
            records[runId] = nil
            if let heard = try? catchUp(runId) { heardWhileCommitting.append((runId, heard)) }
            throw appendFailure(error, runId: runId)
        } catch let error as StoreError {
            throw appendFailure(error, runId: runId)
        }
    }

    /// Folds, stores and publishes `bodies` after the run's cached (or stored) snapshot, and the events
    /// staged before them.
    private func append(_ bodies: [EventBody], runId: String) throws -> Run {
        var run = try records[runId]?.snapshot ?? (Self.createsRun(bodies) ? nil : store.run(id: runId))
        let at = Timestamp.string(now())
        var seq = run?.lastSeq ?? 0
        var events = records[runId]?.staged ?? []
        for body in bodies {
            seq += 1
            let event = Event(runId: runId, seq: seq, at: at, body: body)
            run = try RunReducer.apply(event, to: run)
            events.append(event)
        }
        guard let snapshot = run, !events.isEmpty else { throw EngineError.internalError("commit of no events to run \(runId)") }
        do {
            try store.append(events, snapshot: snapshot)
        } catch {
            // The cached snapshot holds staged events the store did not take: read the run again.
            if records[runId]?.staged.isEmpty == false { records[runId] = nil }
            throw error
        }
        records[runId]?.staged = []
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

    /// Whether `bodies` begin a run, which has no stored snapshot to read first (should its id be taken
    /// after all, the store refuses seq 1 as a conflict).
    private static func createsRun(_ bodies: [EventBody]) -> Bool {
        if case .runCreated? = bodies.first { return true }
        return false
    }

    /// Folds `bodies` into the run's record now but stores and publishes them with the run's next commit,
    /// so a change that is always followed by another costs one transaction, not two: a queued run's
    /// `run.started` goes with what its first step records (`Engine.startQueued`). Until then the engine
    /// sees the run changed and everyone else, the store included, sees it as it was; a crash forgets them.
    /// The caller commits (at least `commitStaged`) before its actor turn ends.
    func stage(_ bodies: [EventBody], runId: String) throws {
        try hold(runId)  // may drop the record: the run is read after it
        var run = try self.run(runId)
        let at = Timestamp.string(now())
        var staged = records[runId]?.staged ?? []
        for body in bodies {
            let event = Event(runId: runId, seq: run.lastSeq + 1, at: at, body: body)
            run = try RunReducer.apply(event, to: run)
            staged.append(event)
        }
        records[runId, default: RunRecord()].snapshot = run
        records[runId]?.staged = staged
    }

    /// Whether `runId` has staged events no commit has stored yet.
    func hasStaged(_ runId: String) -> Bool {
        records[runId]?.staged.isEmpty == false
    }

    // MARK: Other writers (a shared store)

    /// Publishes what other writers appended to `runId` since this engine last published it, and folds
    /// it into the run's record (or drops the record when it cannot follow). Returns those events.
    /// A run they ended is given up, as one this engine ends.
    @discardableResult
    func catchUp(_ runId: String) throws -> [Event] {
        let pageSize = 500
        var events: [Event] = []
        while true {
            let page = try store.events(runId: runId, afterSeq: events.last?.seq ?? publishedSeqs[runId] ?? 0, limit: pageSize)
            events += page
            if page.count < pageSize { break }
        }
        guard !events.isEmpty else { return [] }
        if var record = records[runId] {
            record.snapshot = record.snapshot.flatMap { Self.fold(events, into: $0) }
            if record.snapshot == nil { record.history = nil }
            if var history = record.history {
                for event in events { history.apply(event) }
                record.history = history
            }
            records[runId] = record
        }
        for event in events { publish(.event(event)) }
        if ownership.holds(runId: runId), (try? run(runId))?.status.isTerminal == true {
            records[runId] = nil
            ownership.release(runId: runId)
        }
        return events
    }

    /// `snapshot` with the events after its `lastSeq`; nil when they do not follow it without a gap.
    private static func fold(_ events: [Event], into snapshot: Run) -> Run? {
        var run = snapshot
        for event in events where event.seq > snapshot.lastSeq {
            guard event.seq == run.lastSeq + 1, let next = try? RunReducer.apply(event, to: run) else { return nil }
            run = next
        }
        return run
    }

    /// Records the seqs a shared store's runs were at when this engine began to follow it: older
    /// events are history, not news.
    func markPublished(_ heads: [String: Int]) {
        for (runId, seq) in heads { publishedSeqs[runId] = max(publishedSeqs[runId] ?? 0, seq) }
    }

    /// What commits took in from other writers since the last call.
    func takeHeard() -> [(runId: String, events: [Event])] {
        defer { heardWhileCommitting = [] }
        return heardWhileCommitting
    }

    /// Whether another engine drives `runId` now (holds its lease). Otherwise this engine claims it,
    /// as a commit would, and answers false.
    /// - Throws: `conflict` when this engine can no longer own runs at all.
    func isDrivenElsewhere(_ runId: String) throws -> Bool {
        if ownership.holds(runId: runId) { return false }
        do {
            try ownership.claim(runId: runId)
            records[runId] = nil
            return false
        } catch let error as RunOwnershipError where error.kind == .heldElsewhere {
            return true
        } catch {
            throw EngineError.conflict("\(error)")
        }
    }

    /// Appends `bodies` to `run` (as just read from the store) for a run another engine drives: a gate
    /// answered by this engine's client. The store's seqs keep the log whole; the driver hears the
    /// events through its own `catchUp` and acts on them. Everything up to them is published in order.
    /// - Throws: `StoreError` `.seqConflict` when the driver committed meanwhile (read again and retry).
    func appendAsGuest(_ bodies: [EventBody], to run: Run) throws -> Run {
        let at = Timestamp.string(now())
        var snapshot = run
        var events: [Event] = []
        for body in bodies {
            let event = Event(runId: run.id, seq: snapshot.lastSeq + 1, at: at, body: body)
            snapshot = try RunReducer.apply(event, to: snapshot)
            events.append(event)
        }
        try store.appendAsGuest(events, snapshot: snapshot)
        records[run.id] = nil
        try catchUp(run.id)
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

    /// The history of `run`, which the caller has just read from the store. A run this engine does not
    /// own (a blocked run it never claimed, one on a shared store) keeps its history only while the run's
    /// `lastSeq` says nothing was appended since: `inbox/list` asks for every blocked run's history on
    /// each call, and folding each one's whole event log again made it grow with the events.
    func history(of run: Run) throws -> RunHistory {
        if ownership.holds(runId: run.id) { return try history(run.id) }
        if let record = records[run.id], let history = record.history, record.historySeq == run.lastSeq { return history }
        let history = try queries.history(run.id)
        records[run.id, default: RunRecord()].history = history
        records[run.id]?.historySeq = run.lastSeq
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
    /// record is stale, so it is dropped and the caller told to reload. A full disk or a failed file
    /// system or server is `storeUnavailable`: nothing was written and the record still holds.
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
        if let error = error as? StoreError, error.isTransientWriteFailure {
            return .storeUnavailable("cannot store events of run \(runId): \(error)")
        }
        return .internalError("cannot store events of run \(runId): \(error)")
    }
}
