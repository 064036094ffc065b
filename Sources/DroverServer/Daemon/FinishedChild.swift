import DroverEngine
import DroverSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A short-lived helper process run to its end: stdin and stdout on /dev/null, stderr collected.
struct FinishedChild: Sendable {
    /// The `waitpid` status.
    var status: Int32
    /// What it wrote on stderr.
    var stderr: [UInt8]

    var exitedCleanly: Bool { status & 0x7f == 0 && (status >> 8) & 0xff == 0 }
    var stderrText: String { String(decoding: stderr, as: UTF8.self) }

    /// Why a helper could not be run.
    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    /// Spawns `executable` with `arguments` and `environment`, reads its stderr to the end and reaps it.
    static func run(_ executable: String, arguments: [String], environment: [String: String]) throws -> FinishedChild {
        // Close-on-exec: no other child spawned meanwhile may hold the write end (we would never see EOF).
        let pipe: (read: Int32, write: Int32)
        do { pipe = try makeCloseOnExecPipe() } catch { throw SpawnError(description: "\(error)") }
        let errors = [pipe.read, pipe.write]
        defer { close(errors[0]) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, errors[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        resetSignalsOnSpawn(&attributes)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = CStringArray([executable] + arguments)
        let envp = CStringArray(environment: environment)
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv.pointers, envp.pointers)
        close(errors[1])
        guard spawned == 0 else { throw SpawnError(description: String(cString: strerror(spawned))) }

        var collected: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while let chunk = readSome(errors[0], into: &buffer) {
            collected += chunk
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return FinishedChild(status: status, stderr: collected)
    }
}
