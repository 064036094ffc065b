import DroverProtocol
import DroverStore

/// What changed in one run since a reader last looked.
public struct RunChange: Sendable, Hashable {
    /// The run as it is now.
    public var run: Run
    /// Its events after the seq the reader had, ascending, through `run.lastSeq`.
    public var events: [Event]
}

extension RunQueries {
    /// The change feed by `seq`: for each run a reader follows (run id → the last seq it has), the
    /// run as it is now and the events it has not seen, in the order given; runs with nothing new are
    /// left out. A reader beside the engine polls this to follow runs (`drover logs --follow`); the
    /// events and the run agree (the events end at `run.lastSeq`), whatever is committed meanwhile.
    public func changes(afterRunSeqs seen: [(runId: String, seq: Int)]) throws -> [RunChange] {
        try seen.compactMap { runId, seq in
            let now = try run(runId)
            guard now.lastSeq > seq else { return nil }
            return RunChange(run: now, events: try events(runId: runId, after: max(seq, 0), through: now.lastSeq))
        }
    }
}
