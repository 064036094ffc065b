import DroverProtocol
import DroverStore

/// Commits only to runs this engine owns, and cached state only while it owns them.
///
/// A run is claimed at its first commit here, renewed at every later one and released when it ends
/// (`commit`). What the engine caches of a run (`snapshots`, `histories`) is trusted only under the
/// claim: a new claim drops it, and so does an append that meets another writer's seqs.
extension Engine {
    /// Renews this engine's claim on `runId`, or claims it and drops what was cached of it before.
    /// Throws `conflict` (and drops the cache) when the run is not, or no longer, this engine's.
    func holdRun(_ runId: String) throws {
        do {
            if ownership.holds(runId: runId) {
                try ownership.renew(runId: runId)
            } else {
                try ownership.claim(runId: runId)
                forgetCachedState(of: runId)
            }
        } catch {
            forgetCachedState(of: runId)
            throw EngineError.conflict("\(error)")
        }
    }

    /// Drops the cached snapshot and history of `runId`; the next use reads them from the store.
    func forgetCachedState(of runId: String) {
        snapshots[runId] = nil
        histories[runId] = nil
    }

    /// The error for a failed append. A seq conflict means another writer appended to the run: the
    /// cache is stale, so it is dropped and the caller told to reload.
    func appendFailure(_ error: any Error, runId: String) -> EngineError {
        if let error = error as? StoreError, error.kind == .seqConflict {
            forgetCachedState(of: runId)
            return .conflict("Run \(runId) was changed by another writer (\(error)); run/get shows it as it is now, try again")
        }
        return .internalError("cannot store events of run \(runId): \(error)")
    }
}
