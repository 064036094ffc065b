// The JSON of a run's snapshot written by hand, because the stores write one at every commit: the bytes
// of `Run`'s and `Step`'s `Encodable` conformances (what `JSONValueEncoder.encodeBytes` writes), a few
// times cheaper than `Encoder`'s dispatch. Members in key order (by UTF-8 bytes); nested types that
// change rarely go through the encoder. `WrittenJSONTests` keep each equal to its conformance on values
// with every member set and with none, and fail when a member is added to these types and not here.

extension Run {
    /// This run's JSON with `steps` (its steps' JSON array, e.g. kept from an earlier snapshot), the
    /// bytes `JSONValueEncoder.encodeBytes(self)` writes; nil if a number is not finite.
    public func writtenJSON(steps: [UInt8]) -> [UInt8]? {
        guard let usage = usage.writtenJSON() else { return nil }
        var workspaceJSON: [UInt8]?
        if let workspace {
            guard let json = workspace.writtenJSON() else { return nil }
            workspaceJSON = json
        }
        var object = JSONObjectWriter(capacity: 256 + steps.count)
        object.encoded(#""budget":"#, budget)
        object.string(#""createdAt":"#, createdAt)
        object.string(#""currentStep":"#, currentStep)
        object.encoded(#""dependsOn":"#, dependsOn)
        object.encoded(#""failure":"#, failure)
        object.string(#""id":"#, id)
        object.encoded(#""inputs":"#, inputs)
        object.int(#""lastSeq":"#, lastSeq)
        object.string(#""parentRunId":"#, parentRunId)
        object.string(#""parentStepId":"#, parentStepId)
        object.string(#""pipelineId":"#, pipelineId)
        object.string(#""queueReason":"#, queueReason?.rawValue)
        object.string(#""retryAt":"#, retryAt)
        object.string(#""status":"#, status.rawValue)
        object.json(#""steps":"#, steps)
        object.string(#""task":"#, task)
        object.string(#""updatedAt":"#, updatedAt)
        object.json(#""usage":"#, usage)
        object.json(#""workspace":"#, workspaceJSON)
        return object.finished()
    }
}

extension Run {
    /// This run's JSON, the bytes `JSONValueEncoder.encodeBytes(self)` writes; nil if a number is not finite.
    public func writtenJSON() -> [UInt8]? {
        guard let stepsJSON = JSONObjectWriter.array(steps, { $0.writtenJSON() }) else { return nil }
        return writtenJSON(steps: stepsJSON)
    }
}

extension Step {
    /// This step's JSON, the bytes `JSONValueEncoder.encodeBytes(self)` writes.
    public func writtenJSON() -> [UInt8]? {
        var object = JSONObjectWriter(capacity: 128)
        object.encoded(#""approval":"#, approval)
        object.int(#""attempts":"#, attempts)
        object.encoded(#""children":"#, children)
        object.encoded(#""decision":"#, decision)
        object.string(#""finishedAt":"#, finishedAt)
        object.string(#""id":"#, id)
        object.string(#""kind":"#, kind.rawValue)
        object.string(#""output":"#, output)
        object.string(#""role":"#, role)
        object.string(#""startedAt":"#, startedAt)
        object.string(#""state":"#, state.rawValue)
        return object.finished()
    }
}

extension Usage {
    /// This usage's JSON, the bytes `JSONValueEncoder.encodeBytes(self)` writes; nil if the cost is not finite.
    public func writtenJSON() -> [UInt8]? {
        var object = JSONObjectWriter(capacity: 112)
        object.int(#""cacheReadTokens":"#, cacheReadTokens)
        object.int(#""cacheWriteTokens":"#, cacheWriteTokens)
        object.double(#""costUSD":"#, costUSD)
        object.int(#""inputTokens":"#, inputTokens)
        object.int(#""outputTokens":"#, outputTokens)
        return object.finished()
    }
}

extension RunWorkspace {
    /// This workspace's JSON, the bytes `JSONValueEncoder.encodeBytes(self)` writes.
    public func writtenJSON() -> [UInt8]? {
        var object = JSONObjectWriter(capacity: 128 + path.utf8.count + (note?.utf8.count ?? 0))
        object.encoded(#""applied":"#, applied)
        object.string(#""base":"#, base)
        object.string(#""baseCommit":"#, baseCommit)
        object.string(#""branch":"#, branch)
        object.bool(#""branchDeleted":"#, branchDeleted)
        object.bool(#""discarded":"#, discarded)
        object.string(#""isolation":"#, isolation.rawValue)
        object.string(#""note":"#, note)
        object.string(#""path":"#, path)
        object.string(#""remote":"#, remote)
        object.bool(#""removed":"#, removed)
        return object.finished()
    }
}
