import DroverProtocol
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

    /// A client's first line: what it wants. Written as bytes, member by member, with no `Dictionary`
    /// (whose first use costs `drover serve`'s start-up a scan of the runtime's conformance records).
    public struct Hello: Sendable {
        private var object: ObjectLine

        /// `{"drover": version, "op": operation, …options}`.
        public init(_ operation: Operation, _ options: [(key: String, value: JSONValue)] = []) {
            object = ObjectLine()
            object.add("drover", .int(EngineWire.version))
            object.add("op", .string(operation.rawValue))
            for (key, value) in options { add(key, value) }
        }

        /// Adds a member. One at a time, not in an array of pairs: `drover serve` would pay for that
        /// array's metadata (which the runtime builds from its mangled name) at every start.
        public mutating func add(_ key: String, _ value: JSONValue) {
            object.add(key, value)
        }

        /// The JSON object, without the newline.
        var line: [UInt8] { object.bytes }
    }

    /// A JSON object written as bytes, member by member: no `Dictionary`, `[String: Any]` or array of pairs
    /// to build first (the hello and the engine's answer to it).
    struct ObjectLine: Sendable {
        /// The object without its closing brace.
        private var members: [UInt8] = [UInt8(ascii: "{")]

        mutating func add(_ key: String, _ value: JSONValue) {
            if members.count > 1 { members.append(UInt8(ascii: ",")) }
            members += JSONValueEncoder.encodeBytes(JSONValue.string(key))
            members.append(UInt8(ascii: ":"))
            members += JSONValueEncoder.encodeBytes(value)
        }

        var bytes: [UInt8] { members + [UInt8(ascii: "}")] }
    }

    /// Writes `object` as one JSON line, with `descriptors` attached (see `UnixSocket.send`) and
    /// `following` right after it, in one write; false if the peer has gone.
    @discardableResult
    static func writeLine(_ fd: Int32, _ object: [String: Any], passing descriptors: [Int32] = [], following: [UInt8] = []) -> Bool {
        writeLine(fd, line: JSONValueEncoder.encodeBytes(jsonValue(object)), passing: descriptors, following: following)
    }

    /// Writes `line` and a newline, with `descriptors` attached and `following` right after, in one write.
    static func writeLine(_ fd: Int32, line: [UInt8], passing descriptors: [Int32] = [], following: [UInt8] = []) -> Bool {
        var bytes = line
        bytes.reserveCapacity(line.count + 1 + following.count)
        bytes.append(0x0A)
        bytes += following
        return UnixSocket.send(fd, bytes, passing: descriptors)
    }

    /// `readLine(_:limit:descriptors:)` where no descriptors are expected: any that come are closed.
    static func readLine(_ fd: Int32, limit: Int = 1 << 16) -> [String: Any]? {
        readLineBytes(fd, limit: limit).flatMap(object)
    }

    /// `readLine(_:limit:descriptors:)`'s line as it came, not parsed.
    static func readLineBytes(_ fd: Int32, limit: Int = 1 << 16) -> [UInt8]? {
        var descriptors: [Int32] = []
        defer { descriptors.forEach { close($0) } }
        return readLineBytes(fd, limit: limit, descriptors: &descriptors)
    }

    /// Reads one JSON-object line from a socket without consuming anything after it (it peeks, then
    /// takes up to the newline: two system calls, not one per byte), adding the descriptors sent with
    /// it to `descriptors`; nil at end of input, on a read error, or if the line is not a JSON object
    /// (or longer than `limit`).
    static func readLine(_ fd: Int32, limit: Int, descriptors: inout [Int32]) -> [String: Any]? {
        readLineBytes(fd, limit: limit, descriptors: &descriptors).flatMap(object)
    }

    /// `readLine(_:limit:descriptors:)`'s line as it came (without the newline), not parsed.
    static func readLineBytes(_ fd: Int32, limit: Int, descriptors: inout [Int32]) -> [UInt8]? {
        var line: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let peeked = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_PEEK)) }
            if peeked < 0 && errno == EINTR { continue }
            guard peeked > 0 else { return nil }
            let newline = chunk[0..<peeked].firstIndex(of: 0x0A)
            let take = newline.map { $0 + 1 } ?? peeked
            var taken = 0
            while taken < take {
                let count = chunk.withUnsafeMutableBytes {
                    UnixSocket.receive(fd, into: UnsafeMutableRawBufferPointer(rebasing: $0[taken..<take]), descriptors: &descriptors)
                }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { return nil }
                taken += count
            }
            line += chunk[0..<(newline ?? take)]
            guard line.count <= limit else { return nil }
            if newline != nil { return line }
        }
    }

    /// A line's JSON object as plain values; nil if it is not one.
    static func object(_ line: [UInt8]) -> [String: Any]? {
        guard case .object(let object)? = try? JSONParser().parse(line) else { return nil }
        return object.mapValues(plainValue)
    }

    /// Reads exactly `count` bytes from `fd`; nil if the input ends first.
    static func readExactly(_ fd: Int32, count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var taken = 0
        while taken < count {
            let read = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + taken, count - taken) }
            if read < 0 && errno == EINTR { continue }
            guard read > 0 else { return nil }
            taken += read
        }
        return bytes
    }

    /// The wire's plain values (numbers, strings, booleans, arrays, objects) as a JSON tree. Our
    /// encoder, not Foundation's: its sorted keys load ICU's collation, which a client would pay
    /// for at every start.
    static func jsonValue(_ value: Any) -> JSONValue {
        switch value {
        case let bool as Bool: .bool(bool)
        case let int as Int: .int(int)
        case let double as Double: .double(double)
        case let string as String: .string(string)
        case let object as [String: Any]: .object(object.mapValues(jsonValue))
        case let array as [Any]: .array(array.map(jsonValue))
        default: .null
        }
    }

    /// A JSON tree as the plain values callers read (`reply["pid"] as? Int`).
    static func plainValue(_ value: JSONValue) -> Any {
        switch value {
        case .null: NSNull()
        case .bool(let bool): bool
        case .int(let int): int
        case .double(let double): double
        case .string(let string): string
        case .array(let array): array.map(plainValue)
        case .object(let object): object.mapValues(plainValue)
        }
    }
}

/// Splits the engine's record stream back into records (the client's side): `append` what was read,
/// then take records with `next()` until it returns nil. No array of records is built, so `drover
/// serve`, which reads only the exit record, pays nothing at start-up for it.
struct RecordReader {
    private var buffer: [UInt8] = []
    private var start = 0

    mutating func append(_ chunk: ArraySlice<UInt8>) {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 1 << 20 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer += chunk
    }

    /// The next complete record (its kind nil if unknown), nil until more is appended.
    mutating func next() -> (kind: EngineWire.Record?, payload: ArraySlice<UInt8>)? {
        guard buffer.count - start >= 5 else { return nil }
        let length = Int(buffer[start + 1]) << 24 | Int(buffer[start + 2]) << 16 | Int(buffer[start + 3]) << 8 | Int(buffer[start + 4])
        guard buffer.count - start - 5 >= length else { return nil }
        let record = (EngineWire.Record(rawValue: buffer[start]), buffer[(start + 5)..<(start + 5 + length)])
        start += 5 + length
        return record
    }
}
