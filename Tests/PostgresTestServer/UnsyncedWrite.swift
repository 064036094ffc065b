import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension Data {
    /// Writes the bytes to `url` (created 0644 or truncated) without `fsync`, for test fixtures.
    ///
    /// Foundation's `Data.write(to:)`, `String.write(to:)` and `FileManager.createFile` fsync every file on
    /// Linux: tens of milliseconds each on a busy disk (up to 650 ms seen on the shared CI machine), spent
    /// blocking a thread of the cooperative pool, so a hundred suites writing their fixtures at once
    /// stalled every test for seconds. A fixture need not survive a power cut.
    public func writeUnsynced(to url: URL) throws {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path]) }
        defer { close(fd) }
        try withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path]) }
                offset += written
            }
        }
    }
}
