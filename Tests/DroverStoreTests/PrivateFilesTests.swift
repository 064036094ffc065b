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

    /// `restrict` tightens a file's mode without opening it, so the POSIX locks this process holds on
    /// the file (SQLite's, on its `-shm`) survive; a symlink is refused and its target left alone.
    @Test func restrictChangesTheModeKeepsLocksAndRefusesSymlinks() throws {
        try withTemporaryDirectory { dir in
            let file = dir.appendingPathComponent("shared").path
            #expect(FileManager.default.createFile(atPath: file, contents: Data(count: 16), attributes: [.posixPermissions: 0o644]))
            let fd = open(file, O_RDWR)
            defer { close(fd) }
            var lock = flock(l_type: Int16(F_RDLCK), l_whence: Int16(SEEK_SET), l_start: 0, l_len: 1, l_pid: 0)
            #expect(fcntl(fd, F_SETLK, &lock) == 0)
            try PrivateFiles.restrict(file, mode: 0o600)
            #expect(mode(file) == 0o600)
            var info = stat()
            #expect(fstat(fd, &info) == 0)
            #expect(!posixLocksOfThisProcess(onInode: info.st_ino).isEmpty, "the lock is gone")

            let link = dir.appendingPathComponent("link").path
            let target = dir.appendingPathComponent("target").path
            #expect(FileManager.default.createFile(atPath: target, contents: nil, attributes: [.posixPermissions: 0o644]))
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
            let error = #expect(throws: StoreError.self) { try PrivateFiles.restrict(link, mode: 0o600) }
            #expect(error?.message.contains("symlink") == true)
            #expect(mode(target) == 0o644)
            try PrivateFiles.restrict(dir.appendingPathComponent("missing").path, mode: 0o600)
        }
    }
}
