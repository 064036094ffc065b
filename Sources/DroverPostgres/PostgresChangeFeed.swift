import DroverStore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Hears every commit to a PostgreSQL store (`LISTEN drover_events`, which `PostgresRunStore.append`
/// notifies at commit with `<run id> <last seq>`) on a connection and a thread of its own.
///
/// The thread waits on the connection's socket with `poll` (and on a pipe that `stop()` writes).
/// After each (re)connect it first listens, then reads every run's last seq (`.heads`), so nothing
/// committed in between is missed. A lost connection (server restarted, backend terminated, network
/// gone) is reopened with backoff — 0.1 s doubling to 5 s — and announced by the next `.heads`. An
/// idle connection is probed every few seconds, so a silent drop is noticed without TCP's timeouts.
public final class PostgresChangeFeed: StoreChangeFeed, @unchecked Sendable {
    // @unchecked Sendable: `stopped` is only touched under `lock`; the pipe fds are immutable.
    public let changes: AsyncStream<StoreChange>
    private let continuation: AsyncStream<StoreChange>.Continuation
    private let url: PostgresURL
    private let log: @Sendable (String) -> Void
    private let lock = NSLock()
    private var stopped = false
    private let wakeRead: Int32
    private let wakeWrite: Int32

    /// The feed's connection in `pg_stat_activity`.
    public static let applicationName = "drover-listen"
    /// How long an idle connection goes unprobed.
    static let probeInterval: Int32 = 5_000
    /// The longest wait between reconnect attempts.
    static let maxBackoff: Duration = .seconds(5)

    /// Starts listening to the store at `url`; `log` hears about lost connections (never the password).
    public init(url: PostgresURL, log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.url = url
        self.log = log
        (changes, continuation) = AsyncStream<StoreChange>.makeStream()
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) != 0 { fds = [-1, -1] }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        let thread = Thread { [self] in listenUntilStopped() }
        thread.name = "drover-listen"
        thread.start()
    }

    public func stop() {
        lock.withLock { stopped = true }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    private var isStopped: Bool { lock.withLock { stopped } }

    private func listenUntilStopped() {
        var initial = true
        var backoff: Duration = .milliseconds(100)
        while !isStopped {
            do {
                let connection = try PostgresConnection(url: url, applicationName: Self.applicationName)
                try connection.execute("LISTEN \(PostgresRunStore.eventsChannel)")
                continuation.yield(.heads(try Self.heads(connection), initial: initial))
                if !initial { log("listening to the PostgreSQL store \(url) again; caught up") }
                initial = false
                backoff = .milliseconds(100)
                try relay(connection)
            } catch {
                guard !isStopped else { break }
                log("not hearing other engines' commits to \(url) (\(url.redact("\(error)"))); reconnecting in \(backoff)")
                waitForStop(backoff)
                backoff = min(backoff * 2, Self.maxBackoff)
            }
        }
        continuation.finish()
        close(wakeRead)
        close(wakeWrite)
    }

    /// Every run with events and its last seq.
    private static func heads(_ connection: PostgresConnection) throws -> [String: Int] {
        let rows = try connection.execute("SELECT run_id, max(seq) FROM events GROUP BY run_id")
        var heads: [String: Int] = [:]
        for row in 0..<rows.rowCount {
            if let runId = rows.text(row, 0), let seq = rows.int(row, 1) { heads[runId] = seq }
        }
        return heads
    }

    /// Passes notifications on until the connection fails (throws) or `stop()` is called (returns).
    private func relay(_ connection: PostgresConnection) throws {
        while !isStopped {
            var fds = [pollfd(fd: connection.socket, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, Self.probeInterval)
            if ready < 0 && errno != EINTR { throw StoreError(.unavailable, "poll failed: errno \(errno)") }
            if fds[1].revents != 0 { return }
            if ready == 0 {
                try connection.execute("SELECT 1")  // a probe: a dead connection throws here
            }
            for (_, payload) in try connection.takeNotifications() {
                guard let change = Self.change(payload) else { continue }
                continuation.yield(change)
            }
        }
    }

    /// `<run id> <last seq>` as a change; nil for a payload of another shape.
    static func change(_ payload: String) -> StoreChange? {
        let parts = payload.split(separator: " ")
        guard parts.count == 2, let seq = Int(parts[1]) else { return nil }
        return .committed(runId: String(parts[0]), lastSeq: seq)
    }

    /// Sleeps for `duration`, or less if `stop()` is called.
    private func waitForStop(_ duration: Duration) {
        let milliseconds = Int32(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
        var fds = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        _ = poll(&fds, 1, milliseconds)
    }
}
