import Foundation

/// Encodes `Encodable` values into a `JSONValue` tree, or straight to JSON bytes through `JSONWriter`,
/// writing the same bytes as `JSONCoding.makeEncoder()` (sorted keys, unescaped slashes) without
/// JSONEncoder's per-value dynamic casts and its costly first use.
///
/// What matches JSONEncoder:
/// - nil optionals are left out (types use the default `encodeIfPresent`); a value that encodes
///   nothing is `{}`; a top-level value that encodes nothing throws `invalidValue`;
/// - non-finite `Double`/`Float` throw `invalidValue` (JSONEncoder's default strategy);
/// - `Data` is written as base64 and `URL` as its absolute string, as JSONEncoder's defaults do;
///   `Date` goes through its own Codable (JSONEncoder's default `deferredToDate`).
///
/// What `JSONValue` cannot hold, and so throws `invalidValue` instead of writing something else:
/// unsigned integers above `Int.max` and `Decimal`. `Float` is written through `Double`, which equals
/// JSONEncoder's output except for magnitudes ≥ 2^24 or < 1e-4 where Float's own formatting differs
/// (no protocol type has a `Float`). Coding paths in errors hold the keys' strings, not the key types.
public enum JSONValueEncoder {
    /// `value` as a JSON tree.
    public static func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        let root = ValueEncoder(parent: nil, key: .none)
        if let value = try root.boxPrimitive(value) { return value }
        try value.encode(to: root)
        guard let result = root.take() else {
            throw EncodingError.invalidValue(value, .init(codingPath: [], debugDescription: "Top-level \(T.self) did not encode any values."))
        }
        return result
    }

    /// `value` as JSON bytes, byte-identical to `JSONCoding.makeEncoder().encode(value)`.
    /// A tree that is JSON already is written as it is: no round through `Encoder` (whose first use in a
    /// process instantiates its containers' metadata — `drover serve`'s hello to the engine is one).
    public static func encodeBytes(_ value: JSONValue) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        JSONWriter.append(value, to: &bytes)
        return bytes
    }

    /// Written by `JSONStreamEncoder` (no tree), or through the tree for the values it leaves (which
    /// also throws JSONEncoder's errors).
    public static func encodeBytes<T: Encodable>(_ value: T) throws -> [UInt8] {
        if let written = JSONStreamEncoder.write(value) { return written.bytes }
        return encodeBytes(try encode(value))
    }

    /// The bytes of the root object's member `key` as `encodeBytes(value)` writes them, nil if `value`
    /// is not an object or has no such member.
    public static func encodeMemberBytes<T: Encodable>(_ key: String, of value: T) throws -> [UInt8]? {
        if var written = JSONStreamEncoder.write(value, wantedMember: key) {
            guard let range = written.wanted else { return nil }
            written.bytes.removeSubrange(range.upperBound...)
            written.bytes.removeSubrange(..<range.lowerBound)
            return written.bytes
        }
        return try encode(value)[key].map(encodeBytes)
    }
}

/// A step of a coding path, kept as plain data so building paths costs nothing until asked for.
enum PathKey {
    case none
    case key(String)
    case index(Int)

    /// The step as a `CodingKey`, nil for `.none` (the root).
    var codingKey: CodingKey? {
        switch self {
        case .none: nil
        case .key(let name): JSONIndexKey(stringValue: name)
        case .index(let index): IndexKey(index: index)
        }
    }
}

/// An array position in `codingPath`, whose string is only formatted if someone reads it.
private struct IndexKey: CodingKey {
    let index: Int
    var intValue: Int? { index }
    var stringValue: String { "Index \(index)" }
    init(index: Int) { self.index = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { index = intValue }
}

/// An object under construction; nested containers and super encoders are resolved when it is taken.
private final class ObjectRef {
    var members: [String: JSONValue] = [:]
    var pending: [(key: String, encoder: ValueEncoder)] = []

    func set(_ value: JSONValue, for key: String) {
        // A direct write replaces an earlier nested container at the key, as in JSONEncoder.
        if !pending.isEmpty { pending.removeAll { $0.key == key } }
        members[key] = value
    }

    func value() -> JSONValue {
        for (key, encoder) in pending { members[key] = encoder.take() ?? .object([:]) }
        pending.removeAll()
        return .object(members)
    }
}

/// An array under construction; see `ObjectRef`.
private final class ArrayRef {
    var items: [JSONValue] = []
    var pending: [(index: Int, encoder: ValueEncoder)] = []

    func value() -> JSONValue {
        for (index, encoder) in pending { items[index] = encoder.take() ?? .object([:]) }
        pending.removeAll()
        return .array(items)
    }
}

/// The `Encoder` for one value; also the node of the coding path for everything below it.
private final class ValueEncoder: Encoder {
    enum Storage {
        case none
        case value(JSONValue)
        case object(ObjectRef)
        case array(ArrayRef)
    }

    let parent: ValueEncoder?
    let key: PathKey
    var storage = Storage.none

    init(parent: ValueEncoder?, key: PathKey) {
        self.parent = parent
        self.key = key
    }

    var userInfo: [CodingUserInfoKey: Any] { [:] }

    var codingPath: [CodingKey] {
        var path: [CodingKey] = []
        var node: ValueEncoder? = self
        while let current = node {
            if let key = current.key.codingKey { path.append(key) }
            node = current.parent
        }
        return path.reversed()
    }

    /// What was encoded, nil if nothing.
    func take() -> JSONValue? {
        switch storage {
        case .none: nil
        case .value(let value): value
        case .object(let object): object.value()
        case .array(let array): array.value()
        }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let object: ObjectRef
        if case .object(let existing) = storage {
            object = existing
        } else {
            object = ObjectRef()
            storage = .object(object)
        }
        return KeyedEncodingContainer(KeyedContainer<Key>(encoder: self, object: object))
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer {
        let array: ArrayRef
        if case .array(let existing) = storage {
            array = existing
        } else {
            array = ArrayRef()
            storage = .array(array)
        }
        return UnkeyedContainer(encoder: self, array: array)
    }

    func singleValueContainer() -> SingleValueEncodingContainer {
        SingleValueContainer(encoder: self)
    }

    // MARK: Boxing

    /// The JSON of the types written without a trip through their `encode(to:)`, nil for others.
    /// Metatype comparisons only: no protocol conformance lookups.
    @inline(__always)
    func boxPrimitive<T: Encodable>(_ value: T) throws -> JSONValue? {
        if T.self == String.self { return .string(unsafeBitCast(value, to: String.self)) }
        if T.self == Int.self { return .int(unsafeBitCast(value, to: Int.self)) }
        if T.self == Bool.self { return .bool(unsafeBitCast(value, to: Bool.self)) }
        if T.self == Double.self { return try box(unsafeBitCast(value, to: Double.self)) }
        if T.self == JSONValue.self { return unsafeBitCast(value, to: JSONValue.self) }
        if T.self == Data.self { return .string(unsafeBitCast(value, to: Data.self).base64EncodedString()) }
        if T.self == URL.self { return .string(unsafeBitCast(value, to: URL.self).absoluteString) }
        if T.self == Decimal.self {
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "JSONValueEncoder cannot hold a Decimal exactly; use JSONEncoder."))
        }
        return nil
    }

    /// `value` encoded at `key` below this encoder.
    func box<T: Encodable>(_ value: T, at key: PathKey) throws -> JSONValue {
        if let primitive = try boxPrimitive(value) { return primitive }
        let child = ValueEncoder(parent: self, key: key)
        try value.encode(to: child)
        return child.take() ?? .object([:])
    }

    func box(_ value: Double) throws -> JSONValue {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "Unable to encode Double.\(value) directly in JSON."))
        }
        return .double(value)
    }

    func box(_ value: Float) throws -> JSONValue {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "Unable to encode Float.\(value) directly in JSON."))
        }
        // Through the shortest decimal, so 0.1 stays 0.1 rather than 0.10000000149011612.
        return .double(Double(value.description) ?? Double(value))
    }

    func box<I: BinaryInteger>(_ value: I) throws -> JSONValue {
        guard let int = Int(exactly: value) else {
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "\(value) does not fit in JSONValue.int."))
        }
        return .int(int)
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: ValueEncoder
    let object: ObjectRef

    var codingPath: [CodingKey] { encoder.codingPath }

    /// A child encoder for `key`, for the rare errors that need its path.
    private func child(_ key: Key) -> ValueEncoder { ValueEncoder(parent: encoder, key: .key(key.stringValue)) }

    mutating func encodeNil(forKey key: Key) throws { object.set(.null, for: key.stringValue) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { object.set(.bool(value), for: key.stringValue) }
    mutating func encode(_ value: String, forKey key: Key) throws { object.set(.string(value), for: key.stringValue) }
    mutating func encode(_ value: Int, forKey key: Key) throws { object.set(.int(value), for: key.stringValue) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        object.set(value.isFinite ? .double(value) : try child(key).box(value), for: key.stringValue)
    }
    mutating func encode(_ value: Float, forKey key: Key) throws { object.set(try child(key).box(value), for: key.stringValue) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { object.set(.int(Int(value)), for: key.stringValue) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { object.set(.int(Int(value)), for: key.stringValue) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { object.set(.int(Int(value)), for: key.stringValue) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { object.set(.int(Int(value)), for: key.stringValue) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { object.set(try child(key).box(value), for: key.stringValue) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { object.set(.int(Int(value)), for: key.stringValue) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { object.set(.int(Int(value)), for: key.stringValue) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { object.set(.int(Int(value)), for: key.stringValue) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { object.set(try child(key).box(value), for: key.stringValue) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        let name = key.stringValue
        object.set(try encoder.box(value, at: .key(name)), for: name)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let nested = child(key)
        object.set(.null, for: key.stringValue)
        object.pending.append((key.stringValue, nested))
        return nested.container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
        let nested = child(key)
        object.set(.null, for: key.stringValue)
        object.pending.append((key.stringValue, nested))
        return nested.unkeyedContainer()
    }

    mutating func superEncoder() -> Encoder { superEncoder(named: "super") }

    mutating func superEncoder(forKey key: Key) -> Encoder { superEncoder(named: key.stringValue) }

    private func superEncoder(named name: String) -> Encoder {
        let nested = ValueEncoder(parent: encoder, key: .key(name))
        object.set(.null, for: name)
        object.pending.append((name, nested))
        return nested
    }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let encoder: ValueEncoder
    let array: ArrayRef

    var codingPath: [CodingKey] { encoder.codingPath }
    var count: Int { array.items.count }

    private func child() -> ValueEncoder { ValueEncoder(parent: encoder, key: .index(array.items.count)) }

    mutating func encodeNil() throws { array.items.append(.null) }
    mutating func encode(_ value: Bool) throws { array.items.append(.bool(value)) }
    mutating func encode(_ value: String) throws { array.items.append(.string(value)) }
    mutating func encode(_ value: Int) throws { array.items.append(.int(value)) }
    mutating func encode(_ value: Double) throws {
        array.items.append(value.isFinite ? .double(value) : try child().box(value))
    }
    mutating func encode(_ value: Float) throws { array.items.append(try child().box(value)) }
    mutating func encode(_ value: Int8) throws { array.items.append(.int(Int(value))) }
    mutating func encode(_ value: Int16) throws { array.items.append(.int(Int(value))) }
    mutating func encode(_ value: Int32) throws { array.items.append(.int(Int(value))) }
    mutating func encode(_ value: Int64) throws { array.items.append(.int(Int(value))) }
    mutating func encode(_ value: UInt) throws { array.items.append(try child().box(value)) }
    mutating func encode(_ value: UInt8) throws { array.items.append(.int(Int(value))) }
    mutating func encode(_ value: UInt16) throws { array.items.append(.int(Int(value))) }
    mutating func encode(_ value: UInt32) throws { array.items.append(.int(Int(value))) }
    mutating func encode(_ value: UInt64) throws { array.items.append(try child().box(value)) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        array.items.append(try encoder.box(value, at: .index(array.items.count)))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        nestedEncoder().container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
        nestedEncoder().unkeyedContainer()
    }

    mutating func superEncoder() -> Encoder { nestedEncoder() }

    /// A child encoder whose result fills the next position once the array is taken.
    private func nestedEncoder() -> ValueEncoder {
        let nested = child()
        array.pending.append((array.items.count, nested))
        array.items.append(.null)
        return nested
    }
}

private struct SingleValueContainer: SingleValueEncodingContainer {
    let encoder: ValueEncoder

    var codingPath: [CodingKey] { encoder.codingPath }

    private func set(_ value: JSONValue) { encoder.storage = .value(value) }

    mutating func encodeNil() throws { set(.null) }
    mutating func encode(_ value: Bool) throws { set(.bool(value)) }
    mutating func encode(_ value: String) throws { set(.string(value)) }
    mutating func encode(_ value: Int) throws { set(.int(value)) }
    mutating func encode(_ value: Double) throws { set(try encoder.box(value)) }
    mutating func encode(_ value: Float) throws { set(try encoder.box(value)) }
    mutating func encode(_ value: Int8) throws { set(.int(Int(value))) }
    mutating func encode(_ value: Int16) throws { set(.int(Int(value))) }
    mutating func encode(_ value: Int32) throws { set(.int(Int(value))) }
    mutating func encode(_ value: Int64) throws { set(.int(Int(value))) }
    mutating func encode(_ value: UInt) throws { set(try encoder.box(value)) }
    mutating func encode(_ value: UInt8) throws { set(.int(Int(value))) }
    mutating func encode(_ value: UInt16) throws { set(.int(Int(value))) }
    mutating func encode(_ value: UInt32) throws { set(.int(Int(value))) }
    mutating func encode(_ value: UInt64) throws { set(try encoder.box(value)) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        if let primitive = try encoder.boxPrimitive(value) {
            set(primitive)
        } else {
            // The value lives at this encoder's own path, so it encodes into this encoder.
            try value.encode(to: encoder)
            if case .none = encoder.storage { set(.object([:])) }
        }
    }
}
