/// A short name derived from a string that is the same on every run and build (unlike `hashValue`).
public enum StableHash {
    /// 16 hex digits of FNV-1a (64-bit) over `text`'s UTF-8 bytes.
    public static func hex16(_ text: String) -> String {
        var text = text
        let hash = text.withUTF8 { fnv1a($0) }
        // Nibble by nibble, not `String(hash, radix: 16)`: `drover serve` names the engine's socket with this
        // at every start, and the generic integer formatting looked up type metadata the first time.
        let digits: StaticString = "0123456789abcdef"
        return String(unsafeUninitializedCapacity: 16) { buffer in
            for index in 0..<16 {
                buffer[index] = digits.utf8Start[Int((hash >> UInt64(60 - 4 * index)) & 0xF)]
            }
            return 16
        }
    }

    /// FNV-1a (64-bit) over `bytes`: the socket names' hash, and `MethodTable`'s (cheap for short names).
    @inlinable
    public static func fnv1a(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
