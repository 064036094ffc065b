/// Decodes `Decodable` types from an already parsed `JSONValue`, like Foundation's JSONDecoder does from
/// bytes, without its per-type dynamic casts (which cost conformance-table scans on first use).
///
/// It throws the same kinds of `DecodingError`, with the same coding paths, as JSONDecoder:
/// - a missing key: `keyNotFound`; `null` where a value is required: `valueNotFound`;
/// - a value of the wrong JSON type: `typeMismatch` (with `[String: Any]` for objects, `[Any]` for arrays);
/// - a number that does not fit the requested type (`1.5` or `1e20` as `Int`, ±infinity): `dataCorrupted`.
/// Integral doubles decode as integers (`1.0` and `1e5` are valid `Int`s); integers decode as Double.
/// There are no date, data or key strategies: types decode through their own `Decodable` conformance.
public struct JSONValueDecoder: Sendable {
    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        try T(from: JSONValueDecoding(value: value, codingPath: []))
    }

    /// Decodes an event body of `type` from its `data` member (the store keeps the two apart).
    public func decodeEventBody(type: String, data: JSONValue) throws -> EventBody {
        let decoding = JSONValueDecoding(value: .object(["data": data]), codingPath: [])
        return try EventBody.decode(type: type, from: try decoding.container(keyedBy: Event.CodingKeys.self))
    }
}

/// A coding key for an array position (`[2]` in explanations) or a dictionary key.
struct JSONIndexKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) {
        self.stringValue = stringValue
        intValue = nil
    }
    init(intValue: Int) {
        stringValue = "Index \(intValue)"
        self.intValue = intValue
    }
}

/// What a JSON value is, for error messages.
private func describe(_ value: JSONValue) -> String {
    switch value {
    case .null: "null"
    case .bool: "bool"
    case .int, .double: "number"
    case .string: "a string"
    case .array: "an array"
    case .object: "a dictionary"
    }
}

private func mismatch(_ type: Any.Type, _ value: JSONValue, _ codingPath: [CodingKey]) -> DecodingError {
    if case .null = value {
        return .valueNotFound(type, .init(codingPath: codingPath, debugDescription: "Cannot get value of type \(type) -- found null value instead"))
    }
    return .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "Expected to decode \(type) but found \(describe(value)) instead."))
}

/// The primitive conversions, shared by the three containers.
private enum Unwrap {
    static func bool(_ value: JSONValue, _ path: @autoclosure () -> [CodingKey]) throws -> Bool {
        if case .bool(let bool) = value { return bool }
        throw mismatch(Bool.self, value, path())
    }

    static func string(_ value: JSONValue, _ path: @autoclosure () -> [CodingKey]) throws -> String {
        if case .string(let string) = value { return string }
        throw mismatch(String.self, value, path())
    }

    static func double(_ value: JSONValue, _ path: @autoclosure () -> [CodingKey]) throws -> Double {
        switch value {
        case .int(let int): return Double(int)
        case .double(let double):
            guard double.isFinite else { throw outOfRange(double, Double.self, path()) }
            return double
        default: throw mismatch(Double.self, value, path())
        }
    }

    static func float(_ value: JSONValue, _ path: @autoclosure () -> [CodingKey]) throws -> Float {
        switch value {
        case .int(let int): return Float(int)
        case .double(let double):
            let float = Float(double)
            guard float.isFinite else { throw outOfRange(double, Float.self, path()) }
            return float
        default: throw mismatch(Float.self, value, path())
        }
    }

    static func integer<I: FixedWidthInteger>(_ value: JSONValue, _ type: I.Type, _ path: @autoclosure () -> [CodingKey]) throws -> I {
        switch value {
        case .int(let int):
            guard let result = I(exactly: int) else { throw outOfRange(int, type, path()) }
            return result
        case .double(let double):
            guard let result = I(exactly: double) else { throw outOfRange(double, type, path()) }
            return result
        default:
            throw mismatch(type, value, path())
        }
    }

    static func outOfRange(_ number: some CustomStringConvertible, _ type: Any.Type, _ path: [CodingKey]) -> DecodingError {
        .dataCorrupted(.init(codingPath: path, debugDescription: "Parsed JSON number <\(number)> does not fit in \(type)."))
    }
}

/// The `Decoder` for one value of the tree.
private final class JSONValueDecoding: Decoder {
    let value: JSONValue
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(value: JSONValue, codingPath: [CodingKey]) {
        self.value = value
        self.codingPath = codingPath
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else { throw mismatch([String: Any].self, value, codingPath) }
        return KeyedDecodingContainer(KeyedContainer<Key>(members: members, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case .array(let elements) = value else { throw mismatch([Any].self, value, codingPath) }
        return UnkeyedContainer(elements: elements, codingPath: codingPath)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer {
        SingleValueContainer(value: value, codingPath: codingPath)
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [String: JSONValue]
    let codingPath: [CodingKey]

    var allKeys: [Key] { members.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { members[key.stringValue] != nil }

    @inline(__always)
    private func value(_ key: Key) throws -> JSONValue {
        guard let value = members[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(
                codingPath: codingPath, debugDescription: "No value associated with key \(key) (\"\(key.stringValue)\")."))
        }
        return value
    }

    private func path(_ key: Key) -> [CodingKey] { codingPath + [key] }

    func decodeNil(forKey key: Key) throws -> Bool {
        if case .null = try value(key) { return true }
        return false
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try Unwrap.bool(value(key), path(key)) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try Unwrap.string(value(key), path(key)) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try Unwrap.double(value(key), path(key)) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try Unwrap.float(value(key), path(key)) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try Unwrap.integer(value(key), type, path(key)) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try Unwrap.integer(value(key), type, path(key)) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try Unwrap.integer(value(key), type, path(key)) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try Unwrap.integer(value(key), type, path(key)) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try Unwrap.integer(value(key), type, path(key)) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try Unwrap.integer(value(key), type, path(key)) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try Unwrap.integer(value(key), type, path(key)) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try Unwrap.integer(value(key), type, path(key)) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try Unwrap.integer(value(key), type, path(key)) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try Unwrap.integer(value(key), type, path(key)) }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try T(from: JSONValueDecoding(value: value(key), codingPath: path(key)))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try JSONValueDecoding(value: value(key), codingPath: path(key)).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
        try JSONValueDecoding(value: value(key), codingPath: path(key)).unkeyedContainer()
    }

    func superDecoder() throws -> Decoder {
        JSONValueDecoding(value: members["super"] ?? .null, codingPath: codingPath + [JSONIndexKey(stringValue: "super")])
    }

    func superDecoder(forKey key: Key) throws -> Decoder {
        JSONValueDecoding(value: members[key.stringValue] ?? .null, codingPath: path(key))
    }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let elements: [JSONValue]
    let codingPath: [CodingKey]
    private(set) var currentIndex = 0

    init(elements: [JSONValue], codingPath: [CodingKey]) {
        self.elements = elements
        self.codingPath = codingPath
    }

    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    private var path: [CodingKey] { codingPath + [JSONIndexKey(intValue: currentIndex)] }

    /// The next element; the index moves on only once it decoded (as in JSONDecoder).
    private func next(_ type: Any.Type) throws -> JSONValue {
        guard currentIndex < elements.count else {
            throw DecodingError.valueNotFound(type, .init(codingPath: path, debugDescription: "Unkeyed container is at end."))
        }
        return elements[currentIndex]
    }

    private mutating func advance<T>(_ result: T) -> T {
        currentIndex += 1
        return result
    }

    mutating func decodeNil() throws -> Bool {
        if case .null = try next(Any?.self) {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { advance(try Unwrap.bool(next(type), path)) }
    mutating func decode(_ type: String.Type) throws -> String { advance(try Unwrap.string(next(type), path)) }
    mutating func decode(_ type: Double.Type) throws -> Double { advance(try Unwrap.double(next(type), path)) }
    mutating func decode(_ type: Float.Type) throws -> Float { advance(try Unwrap.float(next(type), path)) }
    mutating func decode(_ type: Int.Type) throws -> Int { advance(try Unwrap.integer(next(type), type, path)) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { advance(try Unwrap.integer(next(type), type, path)) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { advance(try Unwrap.integer(next(type), type, path)) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { advance(try Unwrap.integer(next(type), type, path)) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { advance(try Unwrap.integer(next(type), type, path)) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { advance(try Unwrap.integer(next(type), type, path)) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { advance(try Unwrap.integer(next(type), type, path)) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { advance(try Unwrap.integer(next(type), type, path)) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { advance(try Unwrap.integer(next(type), type, path)) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { advance(try Unwrap.integer(next(type), type, path)) }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        advance(try T(from: JSONValueDecoding(value: next(type), codingPath: path)))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        advance(try JSONValueDecoding(value: next([String: Any].self), codingPath: path).container(keyedBy: type))
    }

    mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer {
        advance(try JSONValueDecoding(value: next([Any].self), codingPath: path).unkeyedContainer())
    }

    mutating func superDecoder() throws -> Decoder {
        advance(JSONValueDecoding(value: try next(Decoder.self), codingPath: path))
    }
}

private struct SingleValueContainer: SingleValueDecodingContainer {
    let value: JSONValue
    let codingPath: [CodingKey]

    func decodeNil() -> Bool {
        if case .null = value { return true }
        return false
    }

    func decode(_ type: Bool.Type) throws -> Bool { try Unwrap.bool(value, codingPath) }
    func decode(_ type: String.Type) throws -> String { try Unwrap.string(value, codingPath) }
    func decode(_ type: Double.Type) throws -> Double { try Unwrap.double(value, codingPath) }
    func decode(_ type: Float.Type) throws -> Float { try Unwrap.float(value, codingPath) }
    func decode(_ type: Int.Type) throws -> Int { try Unwrap.integer(value, type, codingPath) }
    func decode(_ type: Int8.Type) throws -> Int8 { try Unwrap.integer(value, type, codingPath) }
    func decode(_ type: Int16.Type) throws -> Int16 { try Unwrap.integer(value, type, codingPath) }
    func decode(_ type: Int32.Type) throws -> Int32 { try Unwrap.integer(value, type, codingPath) }
    func decode(_ type: Int64.Type) throws -> Int64 { try Unwrap.integer(value, type, codingPath) }
    func decode(_ type: UInt.Type) throws -> UInt { try Unwrap.integer(value, type, codingPath) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try Unwrap.integer(value, type, codingPath) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try Unwrap.integer(value, type, codingPath) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try Unwrap.integer(value, type, codingPath) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try Unwrap.integer(value, type, codingPath) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try T(from: JSONValueDecoding(value: value, codingPath: codingPath))
    }
}
