import DroverProtocol
import Foundation

/// The bytes a store keeps for events and snapshots, shared by every backend so that they agree and
/// a database written by one build reads in the next.
///
/// An event is kept as its own columns (run id, seq, type, at) plus `data`: the JSON of the event's
/// `data` member exactly as the wire writes it (`{}` for events without a payload). A snapshot is the
/// run's wire JSON. Both are UTF-8 text, ready for a TEXT column (SQLite) or a JSONB one (PostgreSQL).
///
/// Not thread-safe: it reuses one decoder (creating one per event costs more than an insert), so
/// each store owns its codec.
public final class EventCodec {
    // Our parser and tree decoder, not Foundation's JSONDecoder: on Linux that took ~0.3 ms per
    // snapshot, so a run/list page of 50 took 15 ms.
    private let parser = JSONParser()
    private let decoder = JSONValueDecoder()

    public init() {}

    /// The JSON of the event's `data` member alone, as `Event`'s own Codable writes it.
    public func encodeData(of body: EventBody) throws -> [UInt8] {
        if let written = body.writtenDataJSON() { return written }
        // `Event` encodes its payload only through a keyed container, so encode `{"data": …}` and keep
        // its one member's bytes: the same bytes as JSONCoding.makeEncoder(), written without a tree.
        guard let data = try JSONValueEncoder.encodeMemberBytes("data", of: DataEnvelope(body: body)) else {
            throw StoreError(.corrupt, "unexpected encoding of a \(body.type) event")
        }
        return data
    }

    /// The body of event `seq` of `runId` from its type and stored `data`.
    /// - Throws: `StoreError` `.corrupt` naming the event if the bytes do not decode.
    public func decodeBody(type: String, data: Data, runId: String, seq: Int) throws -> EventBody {
        do {
            return try decoder.decodeEventBody(type: type, data: try parse(data))
        } catch {
            throw StoreError(.corrupt, "event \(seq) of run '\(runId)' (\(type)) cannot be read: \(error)")
        }
    }

    /// A run's snapshot as stored: its wire JSON.
    public func encodeSnapshot(_ run: Run) throws -> [UInt8] {
        try JSONValueEncoder.encodeBytes(run)
    }

    /// The snapshot of `runId` from its stored JSON.
    /// - Throws: `StoreError` `.corrupt` naming the run if the bytes do not decode.
    public func decodeSnapshot(_ data: Data, runId: String) throws -> Run {
        do {
            return try decoder.decode(Run.self, from: try parse(data))
        } catch {
            throw StoreError(.corrupt, "the snapshot of run '\(runId)' cannot be read: \(error)")
        }
    }
}

/// `{"data": payload}`, written by `EventBody.encodeData`.
private struct DataEnvelope: Encodable {
    var body: EventBody

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: Event.CodingKeys.self)
        try body.encodeData(to: &container)
    }
}

/// Reads `{"data": payload}` back through `EventBody.decode`; the event type travels in `userInfo`
/// because it lives in its own column, not in the payload.
extension EventCodec {
    private func parse(_ data: Data) throws -> JSONValue {
        try data.withUnsafeBytes { raw in try parser.parse(raw.bindMemory(to: UInt8.self)) }
    }
}
