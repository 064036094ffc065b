import DroverProtocol

/// A run's snapshot as stored (the bytes of `EventCodec.encodeSnapshot`), made reusing the JSON of the
/// steps that did not change since the run's previous snapshot.
///
/// Every append stores the whole snapshot, and a commit changes one step at most: encoding every step
/// again made the snapshot the largest cost of a step in a long pipeline (its cost grew with the
/// pipeline's length). Steps are compared by value, which is cheap for the unchanged ones: they share
/// their strings' storage with the previous snapshot.
///
/// Owned by one store instance and, like it, used by one caller at a time. Remembers runs that have not
/// ended, a bounded number of them.
public final class SnapshotEncoder {
    private var steps: [String: [(step: Step, json: [UInt8])]] = [:]
    private let rememberedRuns: Int

    /// - Parameter rememberedRuns: how many unfinished runs' steps are kept before all are forgotten.
    public init(rememberedRuns: Int = 256) {
        self.rememberedRuns = rememberedRuns
    }

    /// The snapshot's JSON, byte-identical to `EventCodec().encodeSnapshot(run)`.
    public func encode(_ run: Run) throws -> [UInt8] {
        let previous = steps[run.id] ?? []
        var encoded: [(step: Step, json: [UInt8])] = []
        encoded.reserveCapacity(run.steps.count)
        for (index, step) in run.steps.enumerated() {
            if index < previous.count, previous[index].step == step {
                encoded.append(previous[index])
            } else {
                encoded.append((step, try step.writtenJSON() ?? JSONValueEncoder.encodeBytes(step)))
            }
        }
        if run.status.isTerminal {
            steps[run.id] = nil
        } else {
            if steps[run.id] == nil, steps.count >= rememberedRuns { steps.removeAll() }
            steps[run.id] = encoded
        }
        let stepsJSON = JSONObjectWriter.array(encoded.map(\.json))
        // Written by hand, or refused (a number that is not finite): the encoder then throws JSONEncoder's error.
        return try run.writtenJSON(steps: stepsJSON) ?? JSONValueEncoder.encodeBytes(run)
    }
}
