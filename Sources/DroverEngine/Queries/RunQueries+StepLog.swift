import DroverProtocol
import DroverStore
import Foundation

extension RunQueries {
    /// `step/log`: bytes `offset..<offset+limit` of an attempt's log (default: the latest attempt),
    /// never cutting a UTF-8 character. `eof` is true once the slice reaches the end of the file
    /// and the attempt is over.
    public func stepLog(_ request: StepLogRequest) throws -> StepLogResult {
        try stepLog(request, of: run(request.runId))
    }

    /// `step/log` of a run the caller has loaded already (the engine's snapshot).
    func stepLog(_ request: StepLogRequest, of run: Run) throws -> StepLogResult {
        guard let step = run.step(request.stepId) else {
            throw EngineError(.notFound, "Run \(run.id) has no step '\(request.stepId)'; its steps: \(run.steps.map(\.id).joined(separator: ", "))")
        }
        let attempt = request.attempt ?? step.attempts
        let offset = request.offset ?? 0
        let limit = request.limit ?? 65_536
        guard offset >= 0, limit > 0 else { throw EngineError.invalid("offset must be 0 or more and limit more than 0") }
        if attempt == 0 { return StepLogResult(text: "", nextOffset: offset, eof: true) }
        guard (1...step.attempts).contains(attempt) else {
            throw EngineError(.notFound, "Step '\(step.id)' of run \(run.id) has no attempt \(attempt); it has run \(step.attempts) time(s)")
        }
        // The attempt's agent may still be writing: the step works on this attempt (whoever drives it).
        let isLive = step.state == .working && step.attempts == attempt
        let file = try layout.existingLogFile(runId: run.id, stepId: step.id, attempt: attempt)
        guard let handle = try? FileHandle(forReadingFrom: file) else {
            return StepLogResult(text: "", nextOffset: offset, eof: !isLive)
        }
        defer { try? handle.close() }
        let size = Int((try? handle.seekToEnd()) ?? 0)
        guard offset < size else { return StepLogResult(text: "", nextOffset: offset, eof: !isLive) }
        try handle.seek(toOffset: UInt64(offset))
        var bytes = [UInt8](try handle.read(upToCount: limit) ?? Data())
        // Never cut a UTF-8 character in half: stop before an incomplete trailing sequence, also at
        // the end of a live log, whose writer may be halfway through one.
        if offset + bytes.count < size || isLive {
            let trimmed = Self.trimIncompleteUTF8(bytes)
            if trimmed.isEmpty && !bytes.isEmpty && offset + bytes.count < size {
                // The limit is smaller than the character at `offset`: return that whole character
                // (a few bytes over the limit) rather than nothing, or paging would never progress.
                bytes += [UInt8](try handle.read(upToCount: 3) ?? Data())
                if offset + bytes.count < size || isLive { bytes = Self.trimIncompleteUTF8(bytes) }
            } else {
                bytes = trimmed
            }
        }
        let next = offset + bytes.count
        return StepLogResult(text: String(decoding: bytes, as: UTF8.self), nextOffset: next, eof: next >= size && !isLive)
    }

    /// `bytes` without an incomplete UTF-8 sequence at its end.
    private static func trimIncompleteUTF8(_ bytes: [UInt8]) -> [UInt8] {
        var index = bytes.count - 1
        var continuation = 0
        while index >= 0, bytes[index] & 0xC0 == 0x80, continuation < 3 {
            index -= 1
            continuation += 1
        }
        guard index >= 0 else { return bytes }
        let lead = bytes[index]
        let needed = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0
        return needed > continuation ? Array(bytes[..<index]) : bytes
    }
}
