import DroverProtocol
import DroverStore
import Foundation

extension Engine {
    /// `pipeline/list`: every pipeline, broken ones with their errors.
    public func listPipelines() -> [PipelineInfo] {
        PipelineCatalog.load(workspace: options.workspace, configDirectory: options.configDirectory).infos
    }

    /// `run/list`: newest first, without step outputs; `limit` 1…500, default 50.
    public func listRuns(_ request: RunListRequest) throws -> RunListResult {
        let limit = request.limit ?? 50
        guard (1...500).contains(limit) else { throw ResponseError.invalidParams("limit must be between 1 and 500, got \(limit)") }
        if let cursor = request.cursor, try store.run(id: cursor) == nil {
            throw ResponseError.invalidParams("cursor '\(cursor)' is not a nextCursor from an earlier run/list")
        }
        let statuses = request.status.map(Set.init)
        let page = try store.runs(statuses: statuses, afterRunId: request.cursor, limit: limit + 1)
        let runs = Array(page.prefix(limit))
        return RunListResult(runs: runs.map(\.summary), nextCursor: page.count > limit ? runs.last?.id : nil)
    }

    /// `run/get`.
    public func getRun(_ runId: String) throws -> Run { try loadRun(runId) }

    /// `run/events`: events after `afterSeq` (default 0), at most `limit` (default 1000, max 10000).
    public func events(_ request: RunEventsRequest) throws -> RunEventsResult {
        let run = try loadRun(request.runId)
        let limit = request.limit ?? 1000
        guard (1...10_000).contains(limit) else { throw ResponseError.invalidParams("limit must be between 1 and 10000, got \(limit)") }
        let afterSeq = request.afterSeq ?? 0
        guard afterSeq >= 0 else { throw ResponseError.invalidParams("afterSeq must be 0 or more, got \(afterSeq)") }
        let page = try store.events(runId: run.id, afterSeq: afterSeq, limit: limit + 1)
        return RunEventsResult(events: Array(page.prefix(limit)), lastSeq: run.lastSeq, more: page.count > limit)
    }

    /// `inbox/list`: every open gate of every blocked run, oldest first.
    public func inbox() throws -> InboxListResult {
        var items: [InboxItem] = []
        var cursor: String?
        while true {
            let page = try store.runs(statuses: [.blocked], afterRunId: cursor, limit: 200)
            for run in page {
                let history = try history(run.id)
                for step in run.steps where step.state == .waiting {
                    if let decision = step.decision, decision.chosen == nil {
                        items.append(InboxItem(
                            runId: run.id, stepId: step.id, kind: .decision, id: decision.id, question: decision.question,
                            options: decision.options, since: history.decision(decision.id)?.requestedAt ?? run.updatedAt))
                    }
                    if let approval = step.approval, approval.status == .pending {
                        items.append(InboxItem(
                            runId: run.id, stepId: step.id, kind: .approval, id: approval.id, proposal: approval.proposal,
                            since: history.approval(approval.id)?.requestedAt ?? run.updatedAt))
                    }
                }
            }
            guard let last = page.last, page.count == 200 else { break }
            cursor = last.id
        }
        return InboxListResult(items: items.sorted { ($0.since, $0.runId) < ($1.since, $1.runId) })
    }

    /// `step/log`: bytes `offset..<offset+limit` of an attempt's log (default: the latest attempt).
    /// `eof` is true once the slice reaches the end of the file and the attempt is over.
    public func stepLog(_ request: StepLogRequest) throws -> StepLogResult {
        let run = try loadRun(request.runId)
        guard let step = run.step(request.stepId) else {
            throw ResponseError(code: .notFound,
                                message: "Run \(run.id) has no step '\(request.stepId)'; its steps: \(run.steps.map(\.id).joined(separator: ", "))",
                                data: .object(["kind": .string("not_found")]))
        }
        let attempt = request.attempt ?? step.attempts
        let offset = request.offset ?? 0
        let limit = request.limit ?? 65_536
        guard offset >= 0, limit > 0 else { throw ResponseError.invalidParams("offset must be 0 or more and limit more than 0") }
        if attempt == 0 { return StepLogResult(text: "", nextOffset: offset, eof: true) }
        guard (1...step.attempts).contains(attempt) else {
            throw ResponseError(code: .notFound,
                                message: "Step '\(step.id)' of run \(run.id) has no attempt \(attempt); it has run \(step.attempts) time(s)",
                                data: .object(["kind": .string("not_found")]))
        }
        let isLive = live[run.id].map { $0.stepId == step.id && $0.attempt == attempt } ?? false
        let file = try StoreLayout(workspace: options.workspace).logFile(runId: run.id, stepId: step.id, attempt: attempt)
        guard let handle = try? FileHandle(forReadingFrom: file) else {
            return StepLogResult(text: "", nextOffset: offset, eof: !isLive)
        }
        defer { try? handle.close() }
        let size = Int((try? handle.seekToEnd()) ?? 0)
        guard offset < size else { return StepLogResult(text: "", nextOffset: offset, eof: !isLive) }
        try handle.seek(toOffset: UInt64(offset))
        var bytes = [UInt8](try handle.read(upToCount: limit) ?? Data())
        // Never cut a UTF-8 character in half: stop before an incomplete trailing sequence.
        if offset + bytes.count < size {
            let trimmed = trimIncompleteUTF8(bytes)
            if trimmed.isEmpty && !bytes.isEmpty {
                // The limit is smaller than the character at `offset`: return that whole character
                // (a few bytes over the limit) rather than nothing, or paging would never progress.
                bytes += [UInt8](try handle.read(upToCount: 3) ?? Data())
                if offset + bytes.count < size { bytes = trimIncompleteUTF8(bytes) }
            } else {
                bytes = trimmed
            }
        }
        let next = offset + bytes.count
        return StepLogResult(text: String(decoding: bytes, as: UTF8.self), nextOffset: next, eof: next >= size && !isLive)
    }

    private func trimIncompleteUTF8(_ bytes: [UInt8]) -> [UInt8] {
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

    /// `workspace/trust`: records the user's answer; returns the new state.
    public func setTrust(_ trusted: Bool) throws -> Bool {
        try trustStore.setTrusted(options.workspace, trusted)
        return isTrusted()
    }

    /// Whether the user trusts this workspace.
    public func isTrusted() -> Bool { trustStore.isTrusted(options.workspace) }
}
