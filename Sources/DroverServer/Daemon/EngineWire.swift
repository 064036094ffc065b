import DroverSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What travels on an engine socket besides JSON-RPC.
///
/// A client first writes one JSON line (`Hello`: what it wants), the engine answers one JSON line
/// (its pid and workspace, or `error`). For `attach`, the client's JSON-RPC bytes follow as they
/// are, and the engine's side comes as records — `[kind: 1 byte][length: 4 bytes, big endian][payload]`
/// — so the end of the session can carry the exit code `drover serve` exits with, apart from the
/// protocol bytes it copies to stdout. The other operations (`status`, `stop`, `drain`) end after
/// the answer line.
public enum EngineWire {
    /// The version of this wire; an engine refuses a client of another version (it is the same binary
    /// after an upgrade only once the old engine has gone: `drover engine stop`).
    public static let version = 1

    /// What a client asks for in its first line.
    public enum Operation: String, Sendable {
        /// A JSON-RPC session.
        case attach
        /// The engine's state, as one JSON object.
        case status
        /// Interrupt every agent (recorded, resumed by the next engine) and exit.
        case stop
        /// Start no more runs; exit once no run is working.
        case drain
    }

    /// Record kinds, engine to client.
    enum Record: UInt8 {
        /// Protocol bytes for the client.
        case output = 0
        /// The session ended; the payload is the exit code (one byte).
        case exit = 1
    }

    /// A record's bytes.
    static func record(_ kind: Record, _ payload: [UInt8]) -> [UInt8] {
        let count = UInt32(payload.count)
        var bytes: [UInt8] = [kind.rawValue, UInt8(count >> 24), UInt8((count >> 16) & 0xff), UInt8((count >> 8) & 0xff), UInt8(count & 0xff)]
        bytes.reserveCapacity(5 + payload.count)
        bytes += payload
        return bytes
    }

    /// Writes `object` as one JSON line; false if the peer has gone.
    @discardableResult
    static func writeLine(_ fd: Int32, _ object: [String: Any]) -> Bool {
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return false }
        data.append(0x0A)
        return writeAll(fd, Array(data)) == nil
    }

    /// Reads one JSON-object line, byte by byte so nothing after it is consumed; nil at end of input,
    /// on a read error, or if the line is not a JSON object (or longer than `limit`).
    static func readLine(_ fd: Int32, limit: Int = 1 << 16) -> [String: Any]? {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let count = read(fd, &byte, 1)
            if count < 0 && errno == EINTR { continue }
            guard count == 1 else { return nil }
            if byte == 0x0A { break }
            line.append(byte)
            if line.count > limit { return nil }
        }
        return (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any]
    }
}

/// Splits the engine's record stream back into records (the client's side).
struct RecordReader {
    private var buffer: [UInt8] = []
    private var start = 0

    /// The records completed by `chunk`, in order.
    mutating func push(_ chunk: ArraySlice<UInt8>) -> [(EngineWire.Record?, ArraySlice<UInt8>)] {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        buffer += chunk
        var records: [(EngineWire.Record?, ArraySlice<UInt8>)] = []
        while buffer.count - start >= 5 {
            let length = Int(buffer[start + 1]) << 24 | Int(buffer[start + 2]) << 16 | Int(buffer[start + 3]) << 8 | Int(buffer[start + 4])
            guard buffer.count - start - 5 >= length else { break }
            records.append((EngineWire.Record(rawValue: buffer[start]), buffer[(start + 5)..<(start + 5 + length)]))
            start += 5 + length
        }
        if start > 1 << 20 {
            buffer.removeFirst(start)
            start = 0
        }
        return records
    }
}
