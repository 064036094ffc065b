import DroverEngine
import DroverProtocol
import DroverStore
import Foundation

/// What encoding a run's snapshots and events costs, through the `JSONValue` tree (the stores' way
/// before `JSONStreamEncoder`) and as the stores encode them now, on the same values in one process.
enum EncodingCost {
    /// Nanoseconds per snapshot and per event's data, tree vs now, for the events of a run of `steps`
    /// instant steps (each snapshot that run's store would write), encoded `rounds` times each way.
    static func measure(steps count: Int, rounds: Int) throws -> (treeSnapshot: Double, snapshot: Double, treeEvent: Double, event: Double) {
        let runId = "r-20260101-000000-encode"
        let at = "2026-01-01T00:00:00.000Z"
        var bodies: [EventBody] = [
            .runCreated(.init(pipelineId: "instant", task: "bench \"0\"", steps: (1...count).map { StepInfo(id: "s\($0)", kind: .agent) })),
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
        var times = (treeSnapshot: Duration.zero, snapshot: Duration.zero, treeEvent: Duration.zero, event: Duration.zero)
        for _ in 0..<rounds {
            times.treeSnapshot += try clock.measure { for run in snapshots { _ = tree(try JSONValueEncoder.encode(run)) } }
            // A fresh encoder each round: every run a store meets is new to it once.
            let encoder = SnapshotEncoder()
            times.snapshot += try clock.measure { for run in snapshots { _ = try encoder.encode(run) } }
            times.treeEvent += try clock.measure {
                for event in events { _ = tree(try JSONValueEncoder.encode(DataOnly(body: event.body))["data"] ?? .null) }
            }
            times.event += try clock.measure { for event in events { _ = try codec.encodeData(of: event.body) } }
        }
        func nanoseconds(_ duration: Duration, _ count: Int) -> Double { seconds(duration) * 1e9 / Double(count * rounds) }
        return (nanoseconds(times.treeSnapshot, snapshots.count), nanoseconds(times.snapshot, snapshots.count),
                nanoseconds(times.treeEvent, events.count), nanoseconds(times.event, events.count))
    }

    private static func tree(_ value: JSONValue) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        JSONWriter.append(value, to: &bytes)
        return bytes
    }
}

/// `{"data": payload}`, as `EventCodec` encodes an event's data.
private struct DataOnly: Encodable {
    var body: EventBody

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: Event.CodingKeys.self)
        try body.encodeData(to: &container)
    }
}
