import DroverSupport
import Foundation
import Glibc
import Testing

@Suite("LargeMessageRelease: the heap gives back what large messages left")
struct LargeMessageReleaseTests {
    /// This process's resident set size in KiB (`VmRSS` of /proc/self/status).
    private static func residentKiB() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) ?? ""
        return line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
    }

    @Test("a freed hole between live blocks stays resident until the budget of large messages is reached, then goes back")
    func holesGoBack() {
        // 1000 blocks of 48 KiB (under any mmap threshold: from a heap), each followed by a small block
        // that stays: freeing the large ones leaves 47 MiB of holes that cannot merge into a free top.
        // (The process's malloc settings are left as they are: other tests run beside this one.)
        let blockBytes = 48 << 10
        let start = Self.residentKiB()
        var large: [UnsafeMutableRawPointer] = []
        var small: [UnsafeMutableRawPointer] = []
        for _ in 0..<1000 {
            guard let block = malloc(blockBytes), let pin = malloc(64) else { Issue.record("malloc failed"); return }
            memset(block, 1, blockBytes)
            large.append(block)
            small.append(pin)
        }
        large.forEach { free($0) }
        defer { small.forEach { free($0) } }
        let holes = Self.residentKiB()
        // Some blocks may take memory the process had already freed: what the holes added is what counts.
        let added = holes - start
        #expect(added > 20_000, "RSS before \(start) KiB, with the holes \(holes) KiB")
        // A small message counts for nothing: the holes stay.
        LargeMessageRelease.handled(size: 1 << 10)
        #expect(Self.residentKiB() > holes - added / 2, "released after a small message")
        LargeMessageRelease.handled(size: LargeMessageRelease.budgetBytes)
        let after = Self.residentKiB()
        #expect(holes - after > added / 2, "RSS before \(start) KiB, with the holes \(holes) KiB, after the release \(after) KiB")
    }
}
