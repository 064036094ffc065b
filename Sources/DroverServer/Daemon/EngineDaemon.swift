import DroverEngine
import DroverProtocol
import DroverStore
import DroverSupport
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The workspace's engine process (`drover engine`): owns the store, drives every run, and serves
/// each client that connects to its socket as one JSON-RPC `Connection` on one shared engine.
///
/// It exits after `idleTimeout` with no clients and nothing running or queued, on `stop`
/// (SIGTERM, SIGHUP, SIGINT too: agents are interrupted and recorded, and the next engine resumes
/// them), and once drained and quiet.
public final class EngineDaemon: Sendable {
    /// How an engine process behaves.
    public struct Options: Sendable {
        /// With no clients and nothing running or queued for this long, the engine exits.
        public var idleTimeout: Duration
        /// The largest message a client may send (a client's hello may ask for another).
        public var maxMessageBytes: Int
        public var logger: Logger

        public init(idleTimeout: Duration = .seconds(600), maxMessageBytes: Int = 64 << 20, logger: Logger = Logger()) {
            self.idleTimeout = idleTimeout
            self.maxMessageBytes = maxMessageBytes
            self.logger = logger
        }
    }

    private struct State {
        var clients = 0
        var quietSince = ContinuousClock.now
        var stopping = false
    }

    private let host: EngineHost
    private let address: EngineAddress
    private let listener: Int32
    private let options: Options
    private let state = Mutex(State())
    private let clientThreads = ReusedThreads(name: "drover-engine-client")
    private let startedAt = Date()
    /// Every client's method table (made once: see `EngineBridge.handlers(sharing:)`).
    private let handlers: MethodTable
    /// The workspace's path, for each client's answer (`URL.path` computes it at every call).
    private let workspacePath: String

    private init(host: EngineHost, address: EngineAddress, listener: Int32, options: Options) {
        self.host = host
        self.handlers = EngineBridge.handlers(sharing: host)
        self.workspacePath = host.claim.workspace.path
        self.address = address
        self.listener = listener
        self.options = options
    }

    /// How starting an engine ended, reported on the status descriptor a starter passed in.
    public enum StartStatus: String, Sendable {
        /// Listening.
        case ready
        /// Another process drives the workspace (often an engine that won a race to start).
        case busy
        /// Something else went wrong; the message says what.
        case failed
    }

    /// Claims `workspace`, opens its store and listens on its socket, reporting how that went on
    /// `statusFD` (one line: `ready`, `busy: …` or `failed: …`), then serves until it exits; never returns.
    public static func run(workspace: URL, backend: StoreBackend, options: Options, statusFD: Int32?) -> Never {
        func report(_ status: StartStatus, _ message: String = "") {
            if let statusFD {
                writeAll(statusFD, status.rawValue + (message.isEmpty ? "" : ": " + message.split(whereSeparator: \.isNewline).joined(separator: " ")) + "\n")
                close(statusFD)
            }
            if status != .ready { options.logger.error("engine for \(workspace.path) not started: \(message)") }
        }
        signal(SIGPIPE, SIG_IGN)
        let address = EngineAddress(workspace: workspace)
        let host: EngineHost
        let listener: Int32
        do {
            try address.preparePrivateDirectory()
            let claim: WorkspaceClaim
            do {
                claim = try EngineHost.claim(workspace: workspace, backend: backend)
            } catch let error as EngineError where error.kind == .conflict {
                report(.busy, error.message)
                exit(3)
            }
            host = try claim.openEngine(logger: options.logger)
            // Bound only while holding the workspace's lock: whoever holds it owns the socket path.
            listener = try UnixSocket.listen(at: address.socketPath)
        } catch let error as EngineError {
            report(.failed, error.message)
            exit(1)
        } catch let error as ResponseError {
            report(.failed, error.message)
            exit(1)
        } catch {
            report(.failed, "\(error)")
            exit(1)
        }
        let daemon = EngineDaemon(host: host, address: address, listener: listener, options: options)
        options.logger.info("engine \(getpid()) drives \(workspace.path), listening on \(address.socketPath)")
        let signals = daemon.stopOnSignals()
        Task { await host.engine.resumeInterruptedRuns() }
        daemon.clientThreads.run { daemon.acceptAndServe() }
        report(.ready)
        withExtendedLifetime(signals) { daemon.watchUntilDone() }
    }

    // MARK: Clients

    /// Waits for a client and serves it on this thread, after handing the waiting to another (reused)
    /// thread: the thread that accepts a client reads its hello, so an attaching `drover serve` waits
    /// for no hand-off between threads (in a VM, a wake-up of another thread costs tens of µs). One
    /// thread at a time waits in `accept`; the chain ends when the listener closes.
    private func acceptAndServe() {
        guard let client = UnixSocket.accept(listener) else { return }
        clientThreads.run { [self] in acceptAndServe() }
        let admitted = state.withLock { state -> Bool in
            guard !state.stopping else { return false }
            state.clients += 1
            return true
        }
        guard admitted else {
            close(client)
            return
        }
        serve(client)
        state.withLock { state in
            state.clients -= 1
            state.quietSince = .now
        }
    }

    /// One client: the uid check, its hello, then its operation.
    private func serve(_ fd: Int32) {
        defer { close(fd) }
        guard UnixSocket.admits(peer: UnixSocket.peerUID(fd), owner: geteuid()) else {
            options.logger.warning("refused a connection from uid \(UnixSocket.peerUID(fd).map(String.init) ?? "unknown"): only uid \(geteuid()) may use this engine")
            EngineWire.writeLine(fd, ["error": "refused: this engine serves uid \(geteuid()) only"])
            return
        }
        var passed: [Int32] = []
        defer { passed.forEach { close($0) } }
        guard let line = EngineWire.readLineBytes(fd, limit: 1 << 16, descriptors: &passed),
              let hello = JSONObjectText(line) else { return }
        guard hello.int("drover") == EngineWire.version,
              let operation = hello.string("op").flatMap(EngineWire.Operation.init(rawValue:)) else {
            EngineWire.writeLine(fd, ["error": "this engine (pid \(getpid())) speaks engine wire version \(EngineWire.version); stop it with `drover engine stop` and retry"])
            return
        }
        switch operation {
        case .status:
            EngineWire.writeLine(fd, status())
        case .stop:
            EngineWire.writeLine(fd, ["drover": EngineWire.version, "pid": Int(getpid()), "stopping": true])
            stop(reason: "drover engine stop")
            // The connection stays open until the process exits, so `drover engine stop` returns once it has.
            while true { Thread.sleep(forTimeInterval: 60) }
        case .drain:
            let engine = host.engine
            let done = DispatchSemaphore(value: 0)
            Task {
                await engine.setDraining(true)
                done.signal()
            }
            done.wait()
            var answer = status()
            answer["draining"] = true
            EngineWire.writeLine(fd, answer)
        case .attach:
            if hello.value("handover") == .bool(true), passed.count == 2 {
                attach(fd, hello: hello, handedOver: (input: passed[0], output: passed[1]))
                passed = []
            } else {
                attach(fd, hello: hello)
            }
        }
    }

    /// A JSON-RPC session on `fd`, as `drover serve` has on stdio; returns when it has ended.
    ///
    /// With `handedOver`, `drover serve` passed its stdin and stdout (SCM_RIGHTS, `EngineWire`'s
    /// handover): the session reads and writes them directly, as an in-process server would, and the
    /// socket carries only the bytes serve had read already (`pending`) and the exit code. Serve closing
    /// the socket (it was killed) ends the session as end of input does.
    private func attach(_ fd: Int32, hello: JSONObjectText, handedOver: (input: Int32, output: Int32)? = nil) {
        var reply = EngineWire.ObjectLine()
        reply.add("drover", .int(EngineWire.version))
        reply.add("pid", .int(Int(getpid())))
        reply.add("workspace", .string(workspacePath))
        if handedOver != nil { reply.add("handover", .bool(true)) }
        guard EngineWire.writeLine(fd, line: reply.bytes) else {
            if let handedOver { close(handedOver.input); close(handedOver.output) }
            return
        }
        let framing = hello.string("framing").flatMap(Framing.init(rawValue:))
        let maxMessageBytes = hello.int("maxMessageBytes").flatMap { $0 > 0 ? $0 : nil } ?? options.maxMessageBytes
        let limits = hello.int("maxBacklogBytes").flatMap { $0 > 0 ? OutboxLimits(backlog: $0) : nil } ?? OutboxLimits()
        // Whether the client's stdout is closed: no write may follow, as the descriptor's number may be reused.
        let writing = Mutex(false)
        let outbox = Outbox(framing: framing ?? .ndjson, limits: limits) { bytes in
            writing.withLock { closed in
                guard !closed else { return false }
                if let handedOver { return writeAll(handedOver.output, bytes) == nil }
                return writeAll(fd, EngineWire.record(.output, bytes)) == nil
            }
        }
        let ended = DispatchSemaphore(value: 0)
        let connection = Connection(outbox: outbox, delegate: EngineBridge(sharing: host, handlers: handlers, logger: options.logger), log: options.logger) { code in
            let exitRecord = EngineWire.record(.exit, [UInt8(truncatingIfNeeded: code)])
            if handedOver != nil {
                writeAll(fd, exitRecord)
            } else {
                writing.withLock { _ in _ = writeAll(fd, exitRecord) }
            }
            shutdown(fd, Int32(SHUT_RDWR))
            ended.signal()
        }
        let parser = MessageParser(framing: framing, maxMessageBytes: maxMessageBytes)
        if let handedOver {
            // Serve read at most one `initialize` (within the message limit) and one 64 KiB read after it.
            let count = hello.int("pending") ?? 0
            let pending = (0...(maxMessageBytes + (1 << 17))).contains(count) ? EngineWire.readExactly(fd, count: count) : nil
            if let pending {
                connection.readUntilEnd(fd: handedOver.input, first: pending, endsWith: fd, parser: parser)
            } else {
                options.logger.warning("a client handed over its stdio but not the \(count) bytes it had read; ending its session")
                connection.endOfInput()
            }
        } else {
            connection.readUntilEnd(fd: fd, parser: parser)
        }
        ended.wait()
        if let handedOver {
            // The client sees the end of stdout once this copy is closed too (serve closed its own) — on
            // this thread, after any write the writer is blocked in (a client that stopped reading).
            writing.withLock { closed in
                closed = true
                close(handedOver.output)
            }
            close(handedOver.input)
        }
    }

    private func status() -> [String: Any] {
        let activity = currentActivity()
        let clients = state.withLock { $0.clients }
        return [
            "drover": EngineWire.version, "pid": Int(getpid()), "workspace": host.claim.workspace.path,
            "socket": address.socketPath, "log": EngineLog.path(host.layout),
            "startedAt": ISO8601DateFormatter().string(from: startedAt),
            // This status request is one of the connections.
            "clients": max(0, clients - 1),
            "liveAttempts": activity?.liveAttempts ?? 0, "queuedRuns": activity?.queuedRuns ?? 0,
            "draining": activity?.draining ?? false,
            "runsWaitingForStore": activity?.runsWaitingForStore ?? 0, "storeError": activity?.storeError ?? "",
            "idleTimeoutSeconds": Int(options.idleTimeout.components.seconds),
        ]
    }

    /// The engine's activity, asked from a thread that is not the engine's (this daemon's threads
    /// block; the engine is an actor).
    private func currentActivity() -> EngineActivity? {
        let engine = host.engine
        let box = Mutex<EngineActivity?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let activity = await engine.activity()
            box.withLock { $0 = activity }
            done.signal()
        }
        done.wait()
        return box.withLock { $0 }
    }

    // MARK: Ending

    /// Checks once a second (or sooner, for short timeouts) whether the engine should exit: idle
    /// past the timeout, or drained and quiet.
    private func watchUntilDone() -> Never {
        let tick = min(Duration.seconds(1), options.idleTimeout / 4)
        while true {
            Thread.sleep(forTimeInterval: Double(tick.components.seconds) + Double(tick.components.attoseconds) / 1e18)
            guard let activity = currentActivity() else { continue }
            let busy = !activity.isQuiet || (activity.queuedRuns > 0 && !activity.draining)
            let idleFor: Duration? = state.withLock { state in
                if busy || state.clients > 0 {
                    state.quietSince = .now
                    return nil
                }
                return ContinuousClock.now - state.quietSince
            }
            if activity.draining && activity.isQuiet {
                stop(reason: "drained")
            } else if let idleFor, idleFor >= options.idleTimeout {
                stop(reason: "idle for \(options.idleTimeout) with no clients")
            }
        }
    }

    /// Stops accepting, interrupts live agents (recorded as interrupted), and exits.
    private func stop(reason: String) {
        let first = state.withLock { state in
            defer { state.stopping = true }
            return !state.stopping
        }
        guard first else { return }
        options.logger.info("engine \(getpid()) stopping: \(reason)")
        unlink(address.socketPath)
        shutdown(listener, Int32(SHUT_RDWR))
        let engine = host.engine
        Task {
            await engine.shutdown()
            exit(0)
        }
    }

    private func stopOnSignals() -> [DispatchSourceSignal] {
        [SIGTERM, SIGHUP, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in stop(reason: "signal \(number)") }
            source.resume()
            return source
        }
    }
}

/// The engine process's log file: `.drover/engine.log`, readable by the user only.
public enum EngineLog {
    public static func path(_ layout: StoreLayout) -> String {
        layout.root.appendingPathComponent("engine.log").path
    }
}
