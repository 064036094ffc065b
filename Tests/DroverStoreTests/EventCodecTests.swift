import DroverProtocol
import DroverStore
import Foundation
import Testing

/// `{"data": payload}` as JSONEncoder writes it, the reference for a stored event's `data`.
private struct DataMember: Encodable {
    var body: EventBody

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: Event.CodingKeys.self)
        try body.encodeData(to: &container)
    }
}

/// What the stores write must stay the bytes earlier builds wrote (JSONEncoder's, sorted keys): a
/// store written by one build reads the same in the next, and clients see the same JSON.
@Suite struct EventCodecTests {
    @Test func everyEventsDataIsJSONEncodersBytes() throws {
        let codec = EventCodec()
        for body in Fixtures.everyBody() {
            let envelope = try JSONCoding.makeEncoder().encode(DataMember(body: body))
            let expected = String(decoding: envelope.dropFirst(#"{"data":"#.utf8.count).dropLast(), as: UTF8.self)
            #expect(String(decoding: try codec.encodeData(of: body), as: UTF8.self) == expected, "\(body.type)")
            #expect(try codec.decodeBody(type: body.type, data: Data(try codec.encodeData(of: body)), runId: "r", seq: 1) == body)
        }
    }

    @Test func snapshotsAreJSONEncodersBytes() throws {
        var runs = [Fixtures.run("r1"), Fixtures.run("r2", status: .done, lastSeq: 7, output: "line\n\u{1}\"quoted\" ✓")]
        var full = Fixtures.run("r3", output: "")
        full.inputs = [:]
        full.failure = Failure(kind: .timeout, message: "slow\t", hint: "", stepId: "plan")
        full.dependsOn = []
        full.queueReason = .rateLimit
        full.retryAt = Fixtures.at
        full.workspace = RunWorkspace(isolation: .worktree, path: "/w/é", branch: "drover/r3", base: "HEAD", baseCommit: "abc")
        full.budget = RunBudget(maxUSD: 1e-7, maxTokens: Int.max)
        full.usage = Usage(inputTokens: Int.max, outputTokens: 0, costUSD: 12345678.25)
        full.parentRunId = "r0"
        full.parentStepId = "plan"
        runs.append(full)
        runs.append(Run(id: "", pipelineId: "", task: "", status: .queued, createdAt: "", updatedAt: "", steps: []))
        let snapshots = SnapshotEncoder()
        for run in runs {
            let expected = String(decoding: try JSONCoding.makeEncoder().encode(run), as: UTF8.self)
            #expect(String(decoding: try EventCodec().encodeSnapshot(run), as: UTF8.self) == expected, "\(run.id)")
            // Twice: the second reuses the steps' JSON.
            #expect(String(decoding: try snapshots.encode(run), as: UTF8.self) == expected, "\(run.id)")
            #expect(String(decoding: try snapshots.encode(run), as: UTF8.self) == expected, "\(run.id)")
        }
    }
}
