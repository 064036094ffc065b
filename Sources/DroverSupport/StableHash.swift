/// A short name derived from a string that is the same on every run and build (unlike `hashValue`).
public enum StableHash {
    /// 16 hex digits of FNV-1a (64-bit) over `text`'s UTF-8 bytes.
    public static func hex16(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
