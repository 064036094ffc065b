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
    private let decoder = JSONCoding.makeDecoder()

    public init() {}

    /// The JSON of the event's `data` member alone, as `Event`'s own Codable writes it.
    public func encodeData(of body: EventBody) throws -> [UInt8] {
        // `Event` encodes its payload only through a keyed container, so encode `{"data": …}` as a tree
        // and write out its one member. JSONValueEncoder writes the same bytes as
        // JSONCoding.makeEncoder(), faster.
        guard case .object(let wrapped) = try JSONValueEncoder.encode(DataEnvelope(body: body)), let data = wrapped["data"] else {
            throw StoreError(.corrupt, "unexpected encoding of a \(body.type) event")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(128)
        JSONWriter.append(data, to: &bytes)
        return bytes
    }

    /// The body of event `seq` of `runId` from its type and stored `data`.
    /// - Throws: `StoreError` `.corrupt` naming the event if the bytes do not decode.
    public func decodeBody(type: String, data: Data, runId: String, seq: Int) throws -> EventBody {
        var wrapped = Data(#"{"data":"#.utf8)
        wrapped.append(data)
        wrapped.append(UInt8(ascii: "}"))
        decoder.userInfo[BodyEnvelope.typeKey] = type
        do {
            return try decoder.decode(BodyEnvelope.self, from: wrapped).body
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
            return try decoder.decode(Run.self, from: data)
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
private struct BodyEnvelope: Decodable {
    static let typeKey = CodingUserInfoKey(rawValue: "drover.store.eventType")!
    var body: EventBody

    init(from decoder: Decoder) throws {
        guard let type = decoder.userInfo[Self.typeKey] as? String else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "no event type given"))
        }
        body = try EventBody.decode(type: type, from: try decoder.container(keyedBy: Event.CodingKeys.self))
    }
}
