import DroverEngine
import DroverProtocol
import DroverStore
import Foundation

/// What encoding a run's snapshots and events costs, three ways on the same values in one process:
/// through the `JSONValue` tree (the stores' way before `JSONStreamEncoder`), through `Encodable`
/// straight to bytes (`JSONValueEncoder.encodeBytes`), and as the stores encode them now.
enum EncodingCost {
    /// Nanoseconds per snapshot and per event's data.
    struct Figures {
        var tree = 0.0
        var encodable = 0.0
        var stores = 0.0
    }

    /// The figures for the events of a run of `steps` instant steps (each snapshot that run's store
    /// would write), each encoded `rounds` times each way.
    static func measure(steps count: Int, rounds: Int) throws -> (snapshot: Figures, event: Figures) {
        let runId = "r-20260101-000000-encode"
        let at = "2026-01-01T00:00:00.000Z"
        var bodies: [EventBody] = [
            .runCreated(.init(pipelineId: "instant", task: "bench \"0\"", steps: (1...count).map { StepInfo(id: "s\($0)", kind: .agent) })),
            .runWorkspace(.init(isolation: .none, path: "/tmp/drover-bench-0123/ws", note: "the workspace is not a git repository")),
            .runStarted,
        ]
        for index in 1...count {
            bodies.append(.stepStarted(.init(stepId: "s\(index)", attempt: 1)))
            bodies.append(.usageRecorded(.init(stepId: "s\(index)", model: "bench", inputTokens: 1, outputTokens: 1, costUSD: 0.0001)))
            bodies.append(.stepCompleted(.init(stepId: "s\(index)", attempt: 1, output: "ok")))
        }
        bodies.append(.runCompleted)
        let events = bodies.enumerated().map { Event(runId: runId, seq: $0.offset + 1, at: at, body: $0.element) }
        var snapshots: [Run] = []
        var folded: Run?
        for event in events {
            folded = try RunReducer.apply(event, to: folded)
            if let run = folded { snapshots.append(run) }
        }
        let codec = EventCodec()
        let clock = ContinuousClock()
        var snapshot = (tree: Duration.zero, encodable: Duration.zero, stores: Duration.zero)
        var event = snapshot
        for _ in 0..<rounds {
            snapshot.tree += try clock.measure { for run in snapshots { _ = tree(try JSONValueEncoder.encode(run)) } }
            snapshot.encodable += try clock.measure { for run in snapshots { _ = try JSONValueEncoder.encodeBytes(ThroughEncodable(run: run)) } }
            // A fresh encoder each round: every run a store meets is new to it once.
            let encoder = SnapshotEncoder()
            snapshot.stores += try clock.measure { for run in snapshots { _ = try encoder.encode(run) } }
            event.tree += try clock.measure { for item in events { _ = tree(try JSONValueEncoder.encode(DataOnly(body: item.body))["data"] ?? .null) } }
            event.encodable += try clock.measure { for item in events { _ = try JSONValueEncoder.encodeMemberBytes("data", of: DataOnly(body: item.body)) } }
            event.stores += try clock.measure { for item in events { _ = try codec.encodeData(of: item.body) } }
        }
        func nanoseconds(_ duration: Duration, _ count: Int) -> Double { seconds(duration) * 1e9 / Double(count * rounds) }
        return (Figures(tree: nanoseconds(snapshot.tree, snapshots.count), encodable: nanoseconds(snapshot.encodable, snapshots.count),
                        stores: nanoseconds(snapshot.stores, snapshots.count)),
                Figures(tree: nanoseconds(event.tree, events.count), encodable: nanoseconds(event.encodable, events.count),
                        stores: nanoseconds(event.stores, events.count)))
    }

    private static func tree(_ value: JSONValue) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        JSONWriter.append(value, to: &bytes)
        return bytes
    }
}

/// `{"data": payload}`, as `EventCodec` encodes an event's data through `Encodable`.
private struct DataOnly: Encodable {
    var body: EventBody

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: Event.CodingKeys.self)
        try body.encodeData(to: &container)
    }
}

/// A run encoded through its `Encodable` conformance (`encodeBytes` of a `Run` writes it by hand).
private struct ThroughEncodable: Encodable {
    var run: Run

    func encode(to encoder: Encoder) throws { try run.encode(to: encoder) }
}
