import DroverEngine
import DroverStore
import DroverSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starts a workspace's engine process, detached: its own session, stdin and stdout on /dev/null,
/// stderr appended to `.drover/engine.log` (0600), no descriptor of the starter but a status pipe.
///
/// Race-safe by construction: every engine first claims the workspace's lock, so of two started
/// at once one reports `busy` and exits, and the starter then connects to the other.
public enum EngineStarter {
    /// Where the engine got to, with its message.
    public struct Outcome: Sendable {
        public var status: EngineDaemon.StartStatus
        public var message: String
    }

    /// glibc's `POSIX_SPAWN_SETSID` (behind `_GNU_SOURCE`, so not imported).
    private static let spawnSetSID: Int32 = 0x80

    /// Spawns `executable engine --foreground --workspace DIR` plus `extraArguments`, and waits
    /// for its start status (or its end, which reads as `failed`).
    public static func spawnDetached(executable: String, workspace: URL, extraArguments: [String] = [],
                                     environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Outcome {
        let layout = StoreLayout(workspace: workspace)
        do { try layout.prepare() } catch let error as StoreError where error.kind == .readOnly {
            throw EngineAttachError(error.message)
        } catch {
            throw EngineAttachError("cannot prepare \(layout.root.path): \(error)")
        }
        let logPath = EngineLog.path(layout)
        // Close-on-exec from birth: a process another thread spawns meanwhile must not hold the write end.
        let statusPipe: (read: Int32, write: Int32)
        do { statusPipe = try makeCloseOnExecPipe() } catch { throw EngineAttachError("cannot create a pipe: \(error)") }
        let status = [statusPipe.read, statusPipe.write]
        defer { close(status[0]) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, logPath, O_WRONLY | O_APPEND | O_CREAT, 0o600)
        posix_spawn_file_actions_adddup2(&actions, status[1], 3)
        if let closefrom = SpawnFunctions.addclosefrom { _ = closefrom(&actions, 4) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own session: no terminal's hang-up or Ctrl-C reaches it; default signal handling.
        resetSignalsOnSpawn(&attributes)
        posix_spawnattr_setflags(&attributes, Int16(spawnSetSID | Int32(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)))

        var env = environment
        env["DROVER_ENGINE_STATUS_FD"] = "3"
        let arguments = [executable, "engine", "--foreground", "--workspace", workspace.path] + extraArguments
        let argv = CStringArray(arguments)
        let envp = CStringArray(environment: env)
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv.pointers, envp.pointers)
        close(status[1])
        guard spawned == 0 else {
            throw EngineAttachError("cannot start \(executable) engine: \(String(cString: strerror(spawned)))")
        }
        // The engine's first line says how its start went; end of file means it died first.
        var line: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while let chunk = readSome(status[0], into: &buffer) {
            line += chunk
            if line.contains(0x0A) { break }
        }
        let text = String(decoding: line.prefix { $0 != 0x0A }, as: UTF8.self)
        let head = String(text.prefix { $0 != ":" })
        let message = String(text.dropFirst(head.count + 2))
        // Collect the child now if it already exited; the engine itself is reparented once this process ends.
        var exitStatus: Int32 = 0
        _ = waitpid(pid, &exitStatus, WNOHANG)
        guard let outcome = EngineDaemon.StartStatus(rawValue: head) else {
            return Outcome(status: .failed, message: "the engine exited before it was ready; see \(logPath)")
        }
        return Outcome(status: outcome, message: message)
    }
}
