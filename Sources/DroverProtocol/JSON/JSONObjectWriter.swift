/// Writes a JSON object whose members come in `JSONWriter`'s key order (by UTF-8 bytes), for the
/// types every commit writes, whose JSON is written by hand (`Run.writtenJSON`): the bytes their
/// `Encodable` conformance writes through `JSONValueEncoder`, without `Encoder`'s dispatch.
///
/// A key is a literal with its quotes and colon (`#""id":"#). A nil value leaves its member out, as
/// `encodeIfPresent` does. A value JSONEncoder would refuse (a number that is not finite) makes
/// `finished` nil, and the caller encodes through `Encodable`, which throws JSONEncoder's error.
public struct JSONObjectWriter {
    private var bytes: [UInt8] = []
    private var isEmpty = true
    private var refused = false

    public init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
        bytes.append(UInt8(ascii: "{"))
    }

    private mutating func key(_ key: StaticString) {
        if !isEmpty { bytes.append(UInt8(ascii: ",")) }
        isEmpty = false
        JSONWriter.appendLiteral(key, to: &bytes)
    }

    public mutating func string(_ key: StaticString, _ value: String?) {
        guard let value else { return }
        self.key(key)
        JSONWriter.appendString(value, to: &bytes)
    }

    public mutating func int(_ key: StaticString, _ value: Int?) {
        guard let value else { return }
        self.key(key)
        JSONWriter.appendInteger(value, to: &bytes)
    }

    public mutating func double(_ key: StaticString, _ value: Double?) {
        guard let value else { return }
        guard value.isFinite else { return refused = true }
        self.key(key)
        JSONWriter.appendDouble(value, to: &bytes)
    }

    public mutating func bool(_ key: StaticString, _ value: Bool?) {
        guard let value else { return }
        self.key(key)
        JSONWriter.appendLiteral(value ? "true" : "false", to: &bytes)
    }

    /// A member whose value is JSON already.
    public mutating func json(_ key: StaticString, _ value: [UInt8]?) {
        guard let value else { return }
        self.key(key)
        bytes.append(contentsOf: value)
    }

    /// A member written through `JSONValueEncoder.encodeBytes` (for what is not written by hand).
    public mutating func encoded<T: Encodable>(_ key: StaticString, _ value: T?) {
        guard let value else { return }
        guard let json = try? JSONValueEncoder.encodeBytes(value) else { return refused = true }
        self.key(key)
        bytes.append(contentsOf: json)
    }

    /// The object's bytes, nil if a value was refused.
    public mutating func finished() -> [UInt8]? {
        guard !refused else { return nil }
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }
}

extension JSONObjectWriter {
    /// The JSON array of `items`, each JSON already.
    public static func array(_ items: [[UInt8]]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(2 + items.reduce(0) { $0 + $1.count + 1 })
        bytes.append(UInt8(ascii: "["))
        for (index, item) in items.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: item)
        }
        bytes.append(UInt8(ascii: "]"))
        return bytes
    }

    /// The JSON array of `items`, each written by `write`; nil if one is refused.
    public static func array<Item>(_ items: [Item], _ write: (Item) -> [UInt8]?) -> [UInt8]? {
        var written: [[UInt8]] = []
        written.reserveCapacity(items.count)
        for item in items {
            guard let json = write(item) else { return nil }
            written.append(json)
        }
        return array(written)
    }
}
