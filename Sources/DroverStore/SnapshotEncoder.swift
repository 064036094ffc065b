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
        var bare = run
        bare.steps = []
        guard case .object(var members) = try JSONValueEncoder.encode(bare), members.removeValue(forKey: "steps") != nil else {
            return try EventCodec().encodeSnapshot(run)
        }
        let previous = steps[run.id] ?? []
        var encoded: [(step: Step, json: [UInt8])] = []
        encoded.reserveCapacity(run.steps.count)
        for (index, step) in run.steps.enumerated() {
            if index < previous.count, previous[index].step == step {
                encoded.append(previous[index])
            } else {
                var json: [UInt8] = []
                JSONWriter.append(try JSONValueEncoder.encode(step), to: &json)
                encoded.append((step, json))
            }
        }
        if run.status.isTerminal {
            steps[run.id] = nil
        } else {
            if steps[run.id] == nil, steps.count >= rememberedRuns { steps.removeAll() }
            steps[run.id] = encoded
        }
        return Self.object(members, steps: encoded.map(\.json))
    }

    /// `members` and `"steps": [steps…]` as one object, keys in `JSONWriter`'s order (by UTF-8 bytes):
    /// each member's value is written by `JSONWriter`, the steps as they are. The keys are sorted once,
    /// here (every commit writes a snapshot).
    private static func object(_ members: [String: JSONValue], steps: [[UInt8]]) -> [UInt8] {
        let stepsKey = "steps"
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256 + steps.reduce(0) { $0 + $1.count + 1 })
        bytes.append(UInt8(ascii: "{"))
        var wroteSteps = false
        func appendSteps() {
            if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
            JSONWriter.appendString(stepsKey, to: &bytes)
            JSONWriter.appendLiteral(":[", to: &bytes)
            for (index, step) in steps.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                bytes.append(contentsOf: step)
            }
            bytes.append(UInt8(ascii: "]"))
            wroteSteps = true
        }
        for (key, value) in members.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            if !wroteSteps, stepsKey.utf8.lexicographicallyPrecedes(key.utf8) { appendSteps() }
            if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
            JSONWriter.appendString(key, to: &bytes)
            bytes.append(UInt8(ascii: ":"))
            JSONWriter.append(value, to: &bytes)
        }
        if !wroteSteps { appendSteps() }
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }
}
