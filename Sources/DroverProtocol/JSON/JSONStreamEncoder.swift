import Foundation

/// Writes an `Encodable` value straight to JSON bytes: the bytes `JSONWriter.append` writes for
/// `JSONValueEncoder.encode(value)`, without building the `JSONValue` tree (no dictionary per object,
/// no enum per value, no sort of a copied dictionary per object).
///
/// Containers write into one buffer as the value encodes. An object records each member as its key and
/// offset, and when it closes puts them in `JSONWriter`'s order (by the keys' UTF-8 bytes; of a key
/// written twice, the last write) — which moves bytes only if they came out of order. A container
/// closes when a container above it writes again or its value's `encode(to:)` returns, so this follows
/// what synthesized `Codable` does: one open container per level. Anything else (a closed container
/// written to again, super encoders, a value encoded twice into one slot, numbers `JSONValue` cannot
/// hold, non-finite numbers, an error thrown while encoding) makes `write` return nil, and the caller
/// encodes through the tree, which handles all of it and throws JSONEncoder's errors.
final class JSONStreamEncoder: Encoder {
    /// An open object or array.
    private struct Frame {
        var isObject: Bool
        var id: Int
        /// Offset of its `{` or `[`.
        var start: Int
        /// Index of its first member in `members`.
        var membersStart: Int
        var count: Int
        var key: PathKey
    }

    /// An object's member: its key, and the offsets where its `"key":` and its value begin.
    private struct Member {
        var key: String
        var start: Int
        var valueStart: Int
        /// The key needed no escape, so its bytes in the buffer are its UTF-8 (and compare as such).
        var isPlain: Bool
        /// The key is ASCII, so no other key is canonically equivalent to it (as `String`'s `==` and
        /// the tree's dictionaries compare) without being the same bytes.
        var isASCII: Bool
        /// Where its value ends, set when its object closes out of order.
        var end = 0
    }

    /// Where the value being encoded goes: the position a parent container reserved for it.
    private struct Slot {
        var id: Int
        /// The index its container takes in `frames`.
        var depth: Int
        var start: Int
        /// The id of the container it opened, 0 if none.
        var frame: Int
        /// A single value was written into it.
        var wrote: Bool
        var key: PathKey
    }

    /// Why encoding left the streaming shape; never escapes `write`.
    private struct OutOfShape: Error {}

    // Unchecked exclusivity: no access here overlaps another (nothing is passed inout across a call
    // that reaches back into the encoder), and the dynamic checks cost about a tenth of encoding.
    @exclusivity(unchecked) private(set) var bytes: [UInt8] = []
    @exclusivity(unchecked) private var frames: [Frame] = []
    @exclusivity(unchecked) private var members: [Member] = []
    @exclusivity(unchecked) private var slot = Slot(id: 1, depth: 0, start: 0, frame: 0, wrote: false, key: .none)
    /// Where an object's members are copied while they are put in order.
    @exclusivity(unchecked) private var scratch: [UInt8] = []
    private var nextID = 2
    private var failed = false
    /// The root object's member whose value's offsets `write` reports.
    private let wantedMember: String?
    private var wantedRange: Range<Int>?
    /// Runs and events may be written by hand: no member's offsets are wanted.
    private let writesByHand: Bool

    private init(wantedMember: String?) {
        self.wantedMember = wantedMember
        writesByHand = wantedMember == nil
        bytes.reserveCapacity(512)
    }

    /// `value`'s JSON, or nil if it does not encode in the streaming shape (see the type's comment).
    /// - Parameter wantedMember: a key of the root object whose value's offsets in the bytes are returned too.
    static func write<T: Encodable>(_ value: T, wantedMember: String? = nil) -> (bytes: [UInt8], wanted: Range<Int>?)? {
        let encoder = JSONStreamEncoder(wantedMember: wantedMember)
        do {
            if try !encoder.writePrimitive(value) {
                try value.encode(to: encoder)
                encoder.close(downTo: 0)
            }
        } catch {
            return nil
        }
        guard !encoder.failed, !encoder.bytes.isEmpty else { return nil }
        return (encoder.bytes, encoder.wantedRange)
    }

    // MARK: Encoder

    var userInfo: [CodingUserInfoKey: Any] { [:] }

    var codingPath: [CodingKey] {
        path(frames: slot.depth) + (slot.depth > 0 ? [slot.key.codingKey].compactMap { $0 } : [])
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let (index, id) = openSlotContainer(isObject: true)
        return KeyedEncodingContainer(StreamKeyedContainer<Key>(encoder: self, index: index, id: id))
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer {
        let (index, id) = openSlotContainer(isObject: false)
        return StreamUnkeyedContainer(encoder: self, index: index, id: id)
    }

    func singleValueContainer() -> SingleValueEncodingContainer {
        StreamSingleValueContainer(encoder: self, slot: slot.id)
    }

    // MARK: Containers' operations

    /// The container of the current slot: a new one, or the one it opened before (a second request
    /// continues the same object, as in JSONEncoder).
    private func openSlotContainer(isObject: Bool) -> (index: Int, id: Int) {
        guard !failed, !slot.wrote else { return outOfShape() }
        if slot.frame != 0 {
            let index = slot.depth
            guard index < frames.count, frames[index].id == slot.frame, frames[index].isObject == isObject else { return outOfShape() }
            close(downTo: index + 1)
            return (index, slot.frame)
        }
        guard frames.count == slot.depth else { return outOfShape() }
        let id = open(isObject: isObject, key: slot.key)
        slot.frame = id
        return (slot.depth, id)
    }

    private func outOfShape() -> (index: Int, id: Int) {
        failed = true
        return (0, -1)
    }

    private func open(isObject: Bool, key: PathKey) -> Int {
        let id = nextID
        nextID += 1
        frames.append(Frame(isObject: isObject, id: id, start: bytes.count, membersStart: members.count, count: 0, key: key))
        bytes.append(isObject ? UInt8(ascii: "{") : UInt8(ascii: "["))
        return id
    }

    /// Makes container `id` at `index` the innermost open one, closing those below it.
    /// - Throws: `OutOfShape` if it has been closed.
    private func enter(_ index: Int, _ id: Int) throws {
        // Only the current slot's container and those nested in it may write (a container above it
        // writing while a value below is being encoded is out of shape).
        guard !failed, index >= slot.depth, index < frames.count, frames[index].id == id else {
            failed = true
            throw OutOfShape()
        }
        if frames.count > index + 1 { close(downTo: index + 1) }
    }

    /// Starts member `key` of object `index` (after `enter`): the comma, the key and the colon.
    func beginMember(_ key: String, of index: Int, _ id: Int) throws {
        try enter(index, id)
        if frames[index].count > 0 { bytes.append(UInt8(ascii: ",")) }
        frames[index].count += 1
        let start = bytes.count
        JSONWriter.appendString(key, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        let isPlain = bytes.count - start == key.utf8.count + 3
        let isASCII = bytes.withUnsafeBufferPointer { buffer in !buffer[(start + 1)..<(buffer.count - 2)].contains { $0 >= 0x80 } }
        members.append(Member(key: key, start: start, valueStart: bytes.count, isPlain: isPlain, isASCII: isASCII))
    }

    /// Starts the next item of array `index`: the comma before it.
    func beginItem(of index: Int, _ id: Int) throws -> Int {
        try enter(index, id)
        let position = frames[index].count
        if position > 0 { bytes.append(UInt8(ascii: ",")) }
        frames[index].count += 1
        return position
    }

    /// Opens a container nested in container `index` at the member or item just begun.
    func openNested(isObject: Bool, key: PathKey) -> (index: Int, id: Int) {
        (frames.count, open(isObject: isObject, key: key))
    }

    /// Gives up on streaming (for what only the tree encoder does, such as super encoders).
    func giveUp() -> Encoder {
        failed = true
        return self
    }

    /// Checks that a single value container may write into the current slot: `slotID` is still the
    /// current slot and nothing was written into it. Call `endSingle` after writing.
    func beginSingle(_ slotID: Int) throws {
        guard !failed, slot.id == slotID, !slot.wrote, slot.frame == 0, frames.count == slot.depth else {
            failed = true
            throw OutOfShape()
        }
    }

    func endSingle() { slot.wrote = true }

    /// Encodes a value that is not a primitive into the current slot, as the single value container does.
    func encodeIntoSlot<T: Encodable>(_ value: T) throws {
        try value.encode(to: self)
        guard !failed else { throw OutOfShape() }
        close(downTo: slot.depth)
        if bytes.count == slot.start { JSONWriter.appendLiteral("{}", to: &bytes) }
    }

    /// Encodes `value` at the member or item just begun.
    func encode<T: Encodable>(_ value: T, at key: PathKey) throws {
        if try writePrimitive(value) { return }
        let outer = slot
        slot = Slot(id: nextID, depth: frames.count, start: bytes.count, frame: 0, wrote: false, key: key)
        nextID += 1
        defer { slot = outer }
        try value.encode(to: self)
        guard !failed else { throw OutOfShape() }
        close(downTo: slot.depth)
        // A value that encodes nothing is an empty object, as in JSONEncoder.
        if bytes.count == slot.start { JSONWriter.appendLiteral("{}", to: &bytes) }
    }

    /// Writes the types the tree encoder writes without their `encode(to:)`, and runs and events, whose
    /// JSON is written by hand (`RunJSON`, `EventJSON`: the same bytes, several times faster; not while
    /// a root member is wanted, which needs the root's members); false for the others.
    /// Metatype comparisons only, as in `JSONValueEncoder`.
    @inline(__always)
    func writePrimitive<T: Encodable>(_ value: T) throws -> Bool {
        if T.self == String.self {
            JSONWriter.appendString(unsafeBitCast(value, to: String.self), to: &bytes)
        } else if T.self == Int.self {
            JSONWriter.appendInteger(unsafeBitCast(value, to: Int.self), to: &bytes)
        } else if T.self == Bool.self {
            appendBool(unsafeBitCast(value, to: Bool.self))
        } else if T.self == Double.self {
            try appendDouble(unsafeBitCast(value, to: Double.self))
        } else if T.self == JSONValue.self {
            JSONWriter.append(unsafeBitCast(value, to: JSONValue.self), to: &bytes)
        } else if T.self == Data.self {
            JSONWriter.appendString(unsafeBitCast(value, to: Data.self).base64EncodedString(), to: &bytes)
        } else if T.self == URL.self {
            JSONWriter.appendString(unsafeBitCast(value, to: URL.self).absoluteString, to: &bytes)
        } else if T.self == Event.self, writesByHand, let json = unsafeBitCast(value, to: Event.self).writtenJSON() {
            bytes.append(contentsOf: json)
        } else if T.self == Run.self, writesByHand, let json = unsafeBitCast(value, to: Run.self).writtenJSON() {
            bytes.append(contentsOf: json)
        } else if T.self == Decimal.self {
            failed = true
            throw OutOfShape()
        } else {
            return false
        }
        return true
    }

    func appendBool(_ value: Bool) {
        if value { JSONWriter.appendLiteral("true", to: &bytes) } else { JSONWriter.appendLiteral("false", to: &bytes) }
    }

    func appendDouble(_ value: Double) throws {
        guard value.isFinite else {
            failed = true
            throw OutOfShape()
        }
        JSONWriter.appendDouble(value, to: &bytes)
    }

    func appendFloat(_ value: Float) throws {
        // Through the shortest decimal, as the tree encoder does.
        try appendDouble(value.isFinite ? Double(value.description) ?? Double(value) : Double(value))
    }

    func appendInteger<I: BinaryInteger>(_ value: I) throws {
        guard let int = Int(exactly: value) else {
            failed = true
            throw OutOfShape()
        }
        JSONWriter.appendInteger(int, to: &bytes)
    }

    func appendInt(_ value: Int) { JSONWriter.appendInteger(value, to: &bytes) }

    func appendNull() { JSONWriter.appendLiteral("null", to: &bytes) }

    func appendString(_ value: String) { JSONWriter.appendString(value, to: &bytes) }

    /// The coding path of container `index`.
    func path(through index: Int) -> [CodingKey] { path(frames: index + 1) }

    private func path(frames count: Int) -> [CodingKey] {
        frames.prefix(count).compactMap(\.key.codingKey)
    }

    /// The number of items or members container `index` holds, 0 once it is closed.
    func count(of index: Int, _ id: Int) -> Int {
        index < frames.count && frames[index].id == id ? frames[index].count : 0
    }

    // MARK: Closing

    /// Closes the open containers from the innermost until `depth` remain.
    func close(downTo depth: Int) {
        while frames.count > depth { closeInnermost() }
    }

    private func closeInnermost() {
        let frame = frames.removeLast()
        guard frame.isObject else { return bytes.append(UInt8(ascii: "]")) }
        let first = frame.membersStart
        if members.count - first > 1, members[first...].contains(where: { !$0.isASCII }), Set(members[first...].map(\.key)).count < members.count - first {
            // Keys that are equal as `String`s (canonically equivalent): which of their forms the tree
            // keeps is the tree's business.
            failed = true
            return
        }
        if !isOrdered(from: first) { reorder(from: first, objectStart: frame.start) }
        if frames.isEmpty, let wantedMember, let index = members[first...].lastIndex(where: { $0.key == wantedMember }) {
            wantedRange = members[index].valueStart..<(index + 1 < members.count ? members[index + 1].start - 1 : bytes.count)
        }
        bytes.append(UInt8(ascii: "}"))
        members.removeSubrange(first...)
    }

    /// Whether member `a`'s key comes before `b`'s in `JSONWriter`'s order (by UTF-8 bytes).
    private func precedes(_ a: Member, _ b: Member) -> Bool {
        guard a.isPlain, b.isPlain else { return a.key.utf8.lexicographicallyPrecedes(b.key.utf8) }
        // Both keys are in the buffer as they are, between `"` and `":`.
        let (aCount, bCount) = (a.valueStart - a.start - 3, b.valueStart - b.start - 3)
        let order = bytes.withUnsafeBufferPointer { buffer in
            memcmp(buffer.baseAddress! + a.start + 1, buffer.baseAddress! + b.start + 1, min(aCount, bCount))
        }
        return order != 0 ? order < 0 : aCount < bCount
    }

    /// Whether the keys from `first` on are in strictly increasing order (so none is repeated).
    private func isOrdered(from first: Int) -> Bool {
        var index = first + 1
        while index < members.count {
            if !precedes(members[index - 1], members[index]) { return false }
            index += 1
        }
        return true
    }

    /// Rewrites the members from `first` on, of the object at `objectStart` (the innermost), in key
    /// order, keeping the last of a repeated key, and their records to match.
    private func reorder(from first: Int, objectStart: Int) {
        let end = bytes.count
        for index in first..<members.count {
            members[index].end = index + 1 < members.count ? members[index + 1].start - 1 : end
        }
        // Insertion sort: stable, and objects have a few members, often nearly in order.
        var sorted = first + 1
        while sorted < members.count {
            let member = members[sorted]
            var position = sorted
            while position > first, precedes(member, members[position - 1]) {
                members[position] = members[position - 1]
                position -= 1
            }
            members[position] = member
            sorted += 1
        }
        let bodyStart = objectStart + 1
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: bytes[bodyStart..<end])
        bytes.removeSubrange(bodyStart..<end)
        var kept = first
        for index in first..<members.count {
            var member = members[index]
            // Of members with the same key, the last written wins (equal keys sort in writing order).
            if index + 1 < members.count, member.key == members[index + 1].key { continue }
            if bytes.count > bodyStart { bytes.append(UInt8(ascii: ",")) }
            let start = bytes.count
            bytes.append(contentsOf: scratch[(member.start - bodyStart)..<(member.end - bodyStart)])
            member.valueStart = start + member.valueStart - member.start
            member.start = start
            members[kept] = member
            kept += 1
        }
        members.removeSubrange(kept...)
    }
}

private struct StreamKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: JSONStreamEncoder
    let index: Int
    let id: Int

    var codingPath: [CodingKey] { encoder.path(through: index) }

    private func begin(_ key: Key) throws { try encoder.beginMember(key.stringValue, of: index, id) }

    mutating func encodeNil(forKey key: Key) throws { try begin(key); encoder.appendNull() }
    mutating func encode(_ value: Bool, forKey key: Key) throws { try begin(key); encoder.appendBool(value) }
    mutating func encode(_ value: String, forKey key: Key) throws { try begin(key); encoder.appendString(value) }
    mutating func encode(_ value: Double, forKey key: Key) throws { try begin(key); try encoder.appendDouble(value) }
    mutating func encode(_ value: Float, forKey key: Key) throws { try begin(key); try encoder.appendFloat(value) }
    mutating func encode(_ value: Int, forKey key: Key) throws { try begin(key); encoder.appendInt(value) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try begin(key); try encoder.appendInteger(value) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try begin(key); try encoder.appendInteger(value) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try begin(key); try encoder.appendInteger(value) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try begin(key); try encoder.appendInteger(value) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { try begin(key); try encoder.appendInteger(value) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try begin(key); try encoder.appendInteger(value) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try begin(key); try encoder.appendInteger(value) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try begin(key); try encoder.appendInteger(value) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try begin(key); try encoder.appendInteger(value) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        let name = key.stringValue
        try encoder.beginMember(name, of: index, id)
        try encoder.encode(value, at: .key(name))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let (nested, nestedID) = openNested(key, isObject: true)
        return KeyedEncodingContainer(StreamKeyedContainer<NestedKey>(encoder: encoder, index: nested, id: nestedID))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
        let (nested, nestedID) = openNested(key, isObject: false)
        return StreamUnkeyedContainer(encoder: encoder, index: nested, id: nestedID)
    }

    private func openNested(_ key: Key, isObject: Bool) -> (index: Int, id: Int) {
        do {
            try begin(key)
        } catch {
            return (0, -1)
        }
        return encoder.openNested(isObject: isObject, key: .key(key.stringValue))
    }

    mutating func superEncoder() -> Encoder { encoder.giveUp() }
    mutating func superEncoder(forKey key: Key) -> Encoder { encoder.giveUp() }
}

private struct StreamUnkeyedContainer: UnkeyedEncodingContainer {
    let encoder: JSONStreamEncoder
    let index: Int
    let id: Int

    var codingPath: [CodingKey] { encoder.path(through: index) }
    var count: Int { encoder.count(of: index, id) }

    private func begin() throws { _ = try encoder.beginItem(of: index, id) }

    mutating func encodeNil() throws { try begin(); encoder.appendNull() }
    mutating func encode(_ value: Bool) throws { try begin(); encoder.appendBool(value) }
    mutating func encode(_ value: String) throws { try begin(); encoder.appendString(value) }
    mutating func encode(_ value: Double) throws { try begin(); try encoder.appendDouble(value) }
    mutating func encode(_ value: Float) throws { try begin(); try encoder.appendFloat(value) }
    mutating func encode(_ value: Int) throws { try begin(); encoder.appendInt(value) }
    mutating func encode(_ value: Int8) throws { try begin(); try encoder.appendInteger(value) }
    mutating func encode(_ value: Int16) throws { try begin(); try encoder.appendInteger(value) }
    mutating func encode(_ value: Int32) throws { try begin(); try encoder.appendInteger(value) }
    mutating func encode(_ value: Int64) throws { try begin(); try encoder.appendInteger(value) }
    mutating func encode(_ value: UInt) throws { try begin(); try encoder.appendInteger(value) }
    mutating func encode(_ value: UInt8) throws { try begin(); try encoder.appendInteger(value) }
    mutating func encode(_ value: UInt16) throws { try begin(); try encoder.appendInteger(value) }
    mutating func encode(_ value: UInt32) throws { try begin(); try encoder.appendInteger(value) }
    mutating func encode(_ value: UInt64) throws { try begin(); try encoder.appendInteger(value) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let position = try encoder.beginItem(of: index, id)
        try encoder.encode(value, at: .index(position))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let (nested, nestedID) = openNested(isObject: true)
        return KeyedEncodingContainer(StreamKeyedContainer<NestedKey>(encoder: encoder, index: nested, id: nestedID))
    }

    mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
        let (nested, nestedID) = openNested(isObject: false)
        return StreamUnkeyedContainer(encoder: encoder, index: nested, id: nestedID)
    }

    private func openNested(isObject: Bool) -> (index: Int, id: Int) {
        guard let position = try? encoder.beginItem(of: index, id) else { return (0, -1) }
        return encoder.openNested(isObject: isObject, key: .index(position))
    }

    mutating func superEncoder() -> Encoder { encoder.giveUp() }
}

private struct StreamSingleValueContainer: SingleValueEncodingContainer {
    let encoder: JSONStreamEncoder
    let slot: Int

    var codingPath: [CodingKey] { encoder.codingPath }

    private func write(_ body: (JSONStreamEncoder) throws -> Void) throws {
        try encoder.beginSingle(slot)
        try body(encoder)
        encoder.endSingle()
    }

    mutating func encodeNil() throws { try write { $0.appendNull() } }
    mutating func encode(_ value: Bool) throws { try write { $0.appendBool(value) } }
    mutating func encode(_ value: String) throws { try write { $0.appendString(value) } }
    mutating func encode(_ value: Double) throws { try write { try $0.appendDouble(value) } }
    mutating func encode(_ value: Float) throws { try write { try $0.appendFloat(value) } }
    mutating func encode(_ value: Int) throws { try write { $0.appendInt(value) } }
    mutating func encode(_ value: Int8) throws { try write { try $0.appendInteger(value) } }
    mutating func encode(_ value: Int16) throws { try write { try $0.appendInteger(value) } }
    mutating func encode(_ value: Int32) throws { try write { try $0.appendInteger(value) } }
    mutating func encode(_ value: Int64) throws { try write { try $0.appendInteger(value) } }
    mutating func encode(_ value: UInt) throws { try write { try $0.appendInteger(value) } }
    mutating func encode(_ value: UInt8) throws { try write { try $0.appendInteger(value) } }
    mutating func encode(_ value: UInt16) throws { try write { try $0.appendInteger(value) } }
    mutating func encode(_ value: UInt32) throws { try write { try $0.appendInteger(value) } }
    mutating func encode(_ value: UInt64) throws { try write { try $0.appendInteger(value) } }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try write { encoder in
            if try !encoder.writePrimitive(value) { try encoder.encodeIntoSlot(value) }
        }
    }
}
