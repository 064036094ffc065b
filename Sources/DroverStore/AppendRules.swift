import DroverProtocol

/// The checks every store makes on an append before it writes anything, written once so that
/// backends refuse the same appends with the same `StoreError` kinds.
public enum AppendRules {
    /// Checks that every event of the batch belongs to `runId` and that the seqs are consecutive.
    /// - Throws: `StoreError` `.invalidAppend`.
    public static func checkBatch(_ events: [Event], of runId: String) throws {
        for (index, event) in events.enumerated() {
            guard event.runId == runId else {
                throw StoreError(.invalidAppend, "event seq \(event.seq) belongs to run '\(event.runId)', not '\(runId)'")
            }
            if index > 0, event.seq != events[index - 1].seq + 1 {
                throw StoreError(
                    .invalidAppend,
                    "events of run '\(runId)' must have consecutive seqs; \(event.seq) follows \(events[index - 1].seq)")
            }
        }
    }

    /// Checks that a batch starting at `firstSeq` continues a run whose highest stored seq is `stored`
    /// (0 for none): the first event of a run has seq 1, and seqs have no gaps.
    /// - Throws: `StoreError` `.seqConflict` if `firstSeq` is taken (another writer got there first),
    ///   `.invalidAppend` for a gap.
    public static func checkContinuation(firstSeq: Int, stored: Int, runId: String) throws {
        if firstSeq <= stored {
            throw StoreError.seqConflict(runId: runId, seq: firstSeq, stored: stored)
        }
        if firstSeq != stored + 1 {
            throw StoreError(.invalidAppend, "run '\(runId)' continues at seq \(stored + 1), not \(firstSeq); seqs have no gaps")
        }
    }
}
