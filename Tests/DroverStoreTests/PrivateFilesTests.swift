@testable import DroverStore
import Foundation
import Testing

@Suite struct PrivateFilesTests {
    private func mode(_ path: String) -> mode_t {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & 0o777 : 0
    }

    /// Reports are replaced whole: a missing folder is made user-only, the file is user-only, a second
    /// write replaces the first, and no temporary file is left beside it.
    @Test func replaceFileWritesAUserOnlyFileAndReplacesItWhole() throws {
        try withTemporaryDirectory { dir in
            let folder = dir.appendingPathComponent("reports").path
            let file = folder + "/r1.md"
            try PrivateFiles.replaceFile(file, contents: "# first\n")
            #expect(try String(contentsOfFile: file, encoding: .utf8) == "# first\n")
            #expect(mode(folder) == 0o700 && mode(file) == 0o600)
            try PrivateFiles.replaceFile(file, contents: "# second, longer than the first\n")
            #expect(try String(contentsOfFile: file, encoding: .utf8) == "# second, longer than the first\n")
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["r1.md"])
        }
    }

    @Test func replaceFileSaysWhatFailed() throws {
        try withTemporaryDirectory { dir in
            let blocker = dir.appendingPathComponent("reports").path
            _ = FileManager.default.createFile(atPath: blocker, contents: Data("not a folder".utf8))
            let error = #expect(throws: StoreError.self) { try PrivateFiles.replaceFile(blocker + "/r1.md", contents: "x") }
            #expect(error?.message.contains(blocker) == true)
        }
    }
}
