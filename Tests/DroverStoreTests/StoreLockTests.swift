import Foundation
import Testing

@testable import DroverStore

@Suite struct StoreLockTests {
    @Test func secondLockFailsAndNamesTheHolder() throws {
        try withTemporaryDirectory { dir in
            let layout = StoreLayout(workspace: dir)
            try layout.prepare()
            let first = try StoreLock(layout: layout)
            defer { first.release() }

            // flock locks belong to the open file description, so a second open in-process conflicts.
            let error = #expect(throws: StoreLockError.self) { try StoreLock(layout: layout) }
            #expect(error?.holderPID == getpid())
            #expect(error?.storeDirectory == layout.root.path)
            #expect(error?.description ==
                "another drover engine (pid \(getpid())) is driving \(layout.root.path); stop it or use read-only commands")
            #expect(error?.localizedDescription == error?.description)
            #expect(first.isHeld)
        }
    }

    @Test func lockFileIsUserOnlyHoldsTheOwnerAndIsCloseOnExec() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("engine.lock").path
            let lock = try StoreLock(path: path)
            defer { lock.release() }
            #expect(try permissions(path) == 0o600)
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "pid=\(getpid())\nhost=\(OwnerIdentity.thisHost)\n")
            let flags = fcntl(lock.fileDescriptor, F_GETFD)
            #expect(flags >= 0 && flags & FD_CLOEXEC != 0)
        }
    }

    @Test func releaseLetsTheNextHolderIn() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("engine.lock").path
            let first = try StoreLock(path: path)
            first.release()
            first.release()  // harmless twice
            #expect(!first.isHeld)
            #expect(try String(contentsOfFile: path, encoding: .utf8).isEmpty)

            let second = try StoreLock(path: path)
            #expect(second.isHeld)
            second.release()
        }
    }

    @Test func droppingTheLockReleasesIt() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("engine.lock").path
            do { _ = try StoreLock(path: path) }
            let again = try StoreLock(path: path)
            again.release()
        }
    }

    @Test func lockFileSymlinkIsRefused() throws {
        try withTemporaryDirectory { dir in
            let target = dir.appendingPathComponent("victim").path
            try "keep me\n".write(toFile: target, atomically: false, encoding: .utf8)
            let path = dir.appendingPathComponent("engine.lock").path
            try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: target)
            #expect(throws: StoreError.self) { try StoreLock(path: path) }
            #expect(try String(contentsOfFile: target, encoding: .utf8) == "keep me\n")
        }
    }

    @Test func aHolderOnAnotherHostIsNamedWithItsHost() throws {
        try withTemporaryDirectory { dir in
            let layout = StoreLayout(workspace: dir)
            try layout.prepare()
            let first = try StoreLock(layout: layout)
            defer { first.release() }
            // What an engine on another machine sharing the folder would have written.
            try "pid=4242\nhost=elsewhere\n".write(toFile: layout.lockPath, atomically: false, encoding: .utf8)
            let error = #expect(throws: StoreLockError.self) { try StoreLock(layout: layout) }
            #expect(error?.holder == OwnerIdentity(hostId: "elsewhere", pid: 4242))
            #expect(error?.description.contains("(pid 4242 on host elsewhere)") == true)
        }
    }
}
