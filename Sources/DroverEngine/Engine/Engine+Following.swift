import DroverProtocol
import DroverStore

/// A store shared with other engines (PostgreSQL): what they commit reaches this engine's clients as
/// `run/event`s, and gate answers reach the engine that drives the run.
///
/// The feed only says which run moved; `RunLedger.catchUp` reads the events after the last seq this
/// engine published and publishes them, so clients get each event once, in seq order, whoever wrote
/// it — after a lost connection too (the feed's next `.heads` names every run that moved meanwhile).
/// For a run this engine drives, another engine's events are gate answers (`answerAsGuest`): a
/// permission answer goes to the live agent, any other answer lets the run go on here.
extension Engine {
    /// Follows `feed` until it finishes (`shutdown` stops it).
    func follow(_ feed: any StoreChangeFeed) async {
        changeFeed = feed
        for await change in feed.changes { storeChanged(change) }
    }

    func storeChanged(_ change: StoreChange) {
        switch change {
        case .heads(let heads, initial: true):
            ledger.markPublished(heads)
        case .heads(let heads, initial: false):
            for (runId, seq) in heads.sorted(by: { $0.key < $1.key }) where seq > ledger.publishedSeqs[runId] ?? 0 {
                heard(runId)
            }
        case .committed(let runId, let lastSeq):
            if lastSeq > ledger.publishedSeqs[runId] ?? 0 { heard(runId) }
        }
    }

    /// Publishes another writer's new events of `runId` and acts on them.
    private func heard(_ runId: String) {
        do {
            actOnOthersEvents(try ledger.catchUp(runId), runId: runId)
        } catch {
            log("cannot read what another engine committed to run \(runId): \(error)")
        }
    }

    /// For a run this engine drives: hands permission answers to the waiting agent, and advances a run
    /// an answer set going. Runs driven elsewhere only needed publishing.
    func actOnOthersEvents(_ events: [Event], runId: String) {
        guard !events.isEmpty, ledger.ownership.holds(runId: runId) else { return }
        for case .decisionResolved(let answer) in events.map(\.body) where answer.attempt != nil {
            deliverPermissionAnswer(runId: runId, decisionId: answer.decisionId)
        }
        if live[runId] == nil, (try? loadRun(runId))?.status == .running { scheduleAdvance(runId) }
    }

    /// Applies a gate rule to a run another engine drives: reads the run as stored, appends the answer
    /// as a guest, and leaves acting on it to the driver. Retried when the driver commits meanwhile.
    func answerAsGuest(runId: String, rule: (Run, RunHistory) throws -> GateOutcome) throws -> Run {
        for _ in 0..<5 {
            try ledger.catchUp(runId)
            guard let run = try ledger.store.run(id: runId) else { throw EngineError.notFound("run", runId) }
            switch try rule(run, try queries.history(runId)) {
            case .unchanged:
                return run
            case .append(let bodies):
                do {
                    return try ledger.appendAsGuest(bodies, to: run)
                } catch let error as StoreError where error.kind == .seqConflict {
                    continue
                } catch let error as EngineError {
                    throw error
                } catch {
                    throw EngineError.internalError("cannot store the answer to run \(runId): \(error)")
                }
            }
        }
        throw EngineError.conflict("Run \(runId) kept changing on the engine that drives it; try again")
    }
}
