import DroverSupport
#if canImport(Glibc)
import Glibc
#endif

/// A connection's handlers by method name, found by the name's UTF-8 bytes: an FNV-1a hash and a byte
/// comparison, where a `[String: MethodHandler]` runs SipHash and a String comparison (a lookup runs
/// once per request, and most of a request's own time is this kind of small work).
struct MethodTable: Sendable {
    /// Open addressing over a power-of-two count of slots, at most half full: a slot's name and handler
    /// (nil: the slot is free).
    private let names: [[UInt8]]
    private let handlers: [MethodHandler?]
    private let mask: Int

    init(_ table: [String: MethodHandler]) {
        var count = 8
        while count < table.count * 2 { count *= 2 }
        var names = [[UInt8]](repeating: [], count: count)
        var handlers = [MethodHandler?](repeating: nil, count: count)
        mask = count - 1
        for (name, handler) in table {
            let bytes = Array(name.utf8)
            var index = bytes.withUnsafeBufferPointer { Self.hash($0) } & mask
            while handlers[index] != nil { index = (index + 1) & mask }
            names[index] = bytes
            handlers[index] = handler
        }
        self.names = names
        self.handlers = handlers
    }

    /// The handler of `method`, nil when there is none.
    subscript(method: String) -> MethodHandler? {
        var method = method
        return method.withUTF8 { self[$0] }
    }

    /// The handler of the method named by the UTF-8 bytes `name`, nil when there is none.
    subscript(name: UnsafeBufferPointer<UInt8>) -> MethodHandler? {
        var index = Self.hash(name) & mask
        while handlers[index] != nil {
            let matches = names[index].withUnsafeBufferPointer { slot in
                slot.count == name.count && (name.isEmpty || memcmp(slot.baseAddress!, name.baseAddress!, name.count) == 0)
            }
            if matches { return handlers[index] }
            index = (index + 1) & mask
        }
        return nil
    }

    private static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        let hash = StableHash.fnv1a(bytes)
        return Int(truncatingIfNeeded: hash ^ (hash >> 32))
    }
}
