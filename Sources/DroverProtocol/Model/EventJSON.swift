// The JSON of the events every run records written by hand (see RunJSON.swift for why): the bytes of
// their payloads' `Encodable` conformances, members in key order. `WrittenJSONTests` keep each equal
// to its conformance and fail when a member is added to these types and not here.

extension Event {
    /// This event's JSON (a `run/event`'s params, a `run/events` page's item), the bytes
    /// `JSONValueEncoder.encodeBytes(self)` writes; nil if its data is not written by hand.
    public func writtenJSON() -> [UInt8]? {
        guard let data = body.writtenDataJSON() else { return nil }
        var object = JSONObjectWriter(capacity: 96 + runId.utf8.count + data.count)
        object.string(#""at":"#, at)
        object.json(#""data":"#, data)
        object.string(#""runId":"#, runId)
        object.int(#""seq":"#, seq)
        object.string(#""type":"#, type)
        return object.finished()
    }
}

extension EventBody {
    /// The JSON of the event's `data` member written by hand for the events every run records (and
    /// usage reports, which come in bursts): the bytes `Event`'s `Encodable` conformance writes there.
    /// Nil for the other events (encode them through `Encodable`) and for a number that is not finite.
    public func writtenDataJSON() -> [UInt8]? {
        switch self {
        case .runStarted, .runCompleted: return Array("{}".utf8)
        case .runCreated(let data): return data.writtenJSON()
        case .runQueued(let data): return data.writtenJSON()
        case .runWorkspace(let data): return data.writtenJSON()
        case .stepStarted(let data), .stepInterrupted(let data): return data.writtenJSON()
        case .stepCompleted(let data): return data.writtenJSON()
        case .usageRecorded(let data): return data.writtenJSON()
        default: return nil
        }
    }
}

extension EventBody.StepAttempt {
    /// This payload's JSON, the bytes `JSONValueEncoder.encodeBytes(self)` writes.
    public func writtenJSON() -> [UInt8]? {
        var object = JSONObjectWriter(capacity: 48 + stepId.utf8.count)
        object.int(#""attempt":"#, attempt)
        object.string(#""role":"#, role)
        object.string(#""stepId":"#, stepId)
        return object.finished()
    }
}

extension EventBody.StepCompleted {
    /// This payload's JSON, the bytes `JSONValueEncoder.encodeBytes(self)` writes.
    public func writtenJSON() -> [UInt8]? {
        var object = JSONObjectWriter(capacity: 48 + stepId.utf8.count + output.utf8.count)
        object.int(#""attempt":"#, attempt)
        object.string(#""output":"#, output)
        object.string(#""stepId":"#, stepId)
        return object.finished()
    }
}

extension EventBody.UsageRecorded {
    /// This payload's JSON, the bytes `JSONValueEncoder.encodeBytes(self)` writes; nil if a cost is not finite.
    public func writtenJSON() -> [UInt8]? {
        var object = JSONObjectWriter(capacity: 192 + model.utf8.count)
        object.int(#""cacheReadTokens":"#, cacheReadTokens)
        object.int(#""cacheWriteTokens":"#, cacheWriteTokens)
        object.double(#""costUSD":"#, costUSD)
        object.int(#""inputTokens":"#, inputTokens)
        object.string(#""model":"#, model)
        object.int(#""outputTokens":"#, outputTokens)
        object.string(#""priceSource":"#, priceSource?.rawValue)
        object.double(#""reportedCostUSD":"#, reportedCostUSD)
        object.string(#""stepId":"#, stepId)
        return object.finished()
    }
}

extension EventBody.RunCreated {
    /// This payload's JSON, the bytes `JSONValueEncoder.encodeBytes(self)` writes.
    public func writtenJSON() -> [UInt8]? {
        var object = JSONObjectWriter(capacity: 96 + task.utf8.count + 48 * steps.count)
        object.encoded(#""budget":"#, budget)
        object.encoded(#""dependsOn":"#, dependsOn)
        object.encoded(#""inputs":"#, inputs)
        object.string(#""notice":"#, notice)
        object.string(#""parentRunId":"#, parentRunId)
        object.string(#""parentStepId":"#, parentStepId)
        object.string(#""pipelineId":"#, pipelineId)
        guard let stepsJSON = JSONObjectWriter.array(steps, { $0.writtenJSON() }) else { return nil }
        object.json(#""steps":"#, stepsJSON)
        object.string(#""task":"#, task)
        return object.finished()
    }
}

extension EventBody.RunQueued {
    /// This payload's JSON, the bytes `JSONValueEncoder.encodeBytes(self)` writes.
    public func writtenJSON() -> [UInt8]? {
        var object = JSONObjectWriter(capacity: 64 + (message?.utf8.count ?? 0))
        object.string(#""message":"#, message)
        object.string(#""reason":"#, reason.rawValue)
        object.string(#""retryAt":"#, retryAt)
        object.string(#""stepId":"#, stepId)
        object.encoded(#""waitingFor":"#, waitingFor)
        return object.finished()
    }
}

extension StepInfo {
    /// This step's JSON, the bytes `JSONValueEncoder.encodeBytes(self)` writes.
    public func writtenJSON() -> [UInt8]? {
        var object = JSONObjectWriter(capacity: 48 + id.utf8.count)
        object.string(#""id":"#, id)
        object.string(#""kind":"#, kind.rawValue)
        object.string(#""role":"#, role)
        return object.finished()
    }
}

extension EventBody.WorkspaceRecorded {
    /// This payload's JSON, the bytes `JSONValueEncoder.encodeBytes(self)` writes.
    public func writtenJSON() -> [UInt8]? {
        var object = JSONObjectWriter(capacity: 96 + path.utf8.count + (note?.utf8.count ?? 0))
        object.string(#""base":"#, base)
        object.string(#""baseCommit":"#, baseCommit)
        object.string(#""branch":"#, branch)
        object.string(#""isolation":"#, isolation.rawValue)
        object.string(#""note":"#, note)
        object.string(#""path":"#, path)
        object.string(#""remote":"#, remote)
        return object.finished()
    }
}
