import DroverEngine
import DroverProtocol
import DroverStore
import DroverSupport
import Foundation
import Synchronization

/// Implements the protocol's methods on top of the engine.
///
/// Either the connection owns its engine (`drover serve --no-daemon`: claimed at `initialize`,
/// opened in `start()`, stopped at `shutdown`), or it shares the engine of a workspace's engine
/// process with every other client (`init(sharing:)`): then `shutdown` only stops listening.
public final class EngineBridge: ConnectionDelegate {
    /// What `initialize` set up; `engine` is filled in by `start()`.
    private struct Session: Sendable {
        let claim: WorkspaceClaim?
        let wantsLogs: Bool
        let outbox: Outbox
        /// For the log line `start()` writes (after the answer: a write to the log is no part of it).
        let workspacePath: String
        let clientName: String?
        var engine: Result<EngineHost, ResponseError>?
        var listener: Int?
    }

    /// The engine the bridge uses: its own, or one it shares.
    private enum Source: Sendable {
        case owns(StoreBackend)
        /// With the path of its workspace (`URL.path` computes it at every call).
        case shares(EngineHost, workspacePath: String)
    }

    private let session = SessionSlot()
    private let handlers: MethodTable
    private let logger: Logger
    private let environment: [String: String]
    private let selfExecutable: String
    private let source: Source

    /// A bridge that opens its own engine on the workspace of `initialize`.
    /// - Parameter backend: where runs are stored; chosen by the executable (`drover` passes what `--store` chose).
    public convenience init(logger: Logger, backend: StoreBackend, environment: [String: String] = ProcessInfo.processInfo.environment,
                            selfExecutable: String = EngineHost.currentExecutable()) {
        self.init(source: .owns(backend), logger: logger, environment: environment, selfExecutable: selfExecutable)
    }

    /// A bridge onto `host`, an engine other connections use too; `initialize` must name its workspace.
    /// - Parameter handlers: `handlers(sharing: host)`, made once for all of the host's clients.
    convenience init(sharing host: EngineHost, handlers: MethodTable, logger: Logger) {
        self.init(source: .shares(host, workspacePath: host.claim.workspace.path), logger: logger, environment: [:], selfExecutable: "",
                  handlers: handlers)
    }

    /// A bridge onto `host`, an engine other connections use too; `initialize` must name its workspace.
    public convenience init(sharing host: EngineHost, logger: Logger) {
        self.init(sharing: host, handlers: Self.handlers(sharing: host), logger: logger)
    }

    /// The method table of the bridges onto `host`. Their requests are all served by `host.engine` (none is
    /// handled before `initialize`, which sets no other), so one table serves them all: made for each
    /// client, it was 37,000 instructions of the engine's way to answering `initialize`.
    static func handlers(sharing host: EngineHost) -> MethodTable {
        MethodTable(makeHandlers { host.engine })
    }

    private init(source: Source, logger: Logger, environment: [String: String], selfExecutable: String, handlers: MethodTable? = nil) {
        self.logger = logger
        self.source = source
        self.environment = environment
        self.selfExecutable = selfExecutable
        let session = self.session
        self.handlers = handlers ?? MethodTable(Self.makeHandlers {
            switch session.value.withLock({ $0?.engine }) {
            case .success(let host): return host.engine
            case .failure(let error): throw error
            case nil: throw ResponseError.internalError("the engine is not running")
            }
        })
    }

    public func initialize(_ params: InitializeRequest, framing: Framing, outbox: Outbox) throws -> InitializeResult {
        let wantsLogs = params.capabilities?.logs ?? true
        let clientName = params.clientInfo?.name
        let workspacePath: String
        switch source {
        case .owns(let backend):
            let workspace = try Self.workspace(from: params)
            workspacePath = workspace.path
            // Claiming is quick and tells a second engine at once that the workspace is taken; the store
            // opens in `start()`, after the answer has gone out.
            let claim: WorkspaceClaim
            do {
                claim = try EngineHost.claim(workspace: workspace, backend: backend)
            } catch let error as EngineError {
                throw ResponseError(error)
            }
            session.value.withLock {
                $0 = Session(claim: claim, wantsLogs: wantsLogs, outbox: outbox, workspacePath: workspacePath, clientName: clientName)
            }
        case .shares(let host, let hostWorkspace):
            // A client of a shared engine that names no workspace chose the engine by its own cwd: the engine's.
            // (Standardized, as `URL(fileURLWithPath:).path` has it.)
            workspacePath = try InitializeWorkspace.path(from: params) { hostWorkspace }
            guard workspacePath == hostWorkspace else {
                throw ResponseError.invalidParams(
                    "this engine drives the workspace \(hostWorkspace), not \(workspacePath); connect to that workspace's engine")
            }
            session.value.withLock {
                $0 = Session(claim: nil, wantsLogs: wantsLogs, outbox: outbox, workspacePath: workspacePath, clientName: clientName,
                             engine: .success(host))
            }
        }
        return InitializeResult(
            protocolVersion: ProtocolVersion.current,
            serverInfo: .init(name: "drover", version: DroverVersion.string),
            workspace: workspacePath,
            capabilities: .init(
                framing: framing.rawValue, methods: MethodRegistry.methodNames,
                notifications: MethodRegistry.notifications, eventTypes: EventBody.allTypes,
                drivers: AgentDrivers.names))
    }

    public func start() async {
        guard let session = session.value.withLock({ $0 }) else { return }
        logger.info("serving workspace \(session.workspacePath) for \(session.clientName ?? "an unnamed client")")
        let host: EngineHost
        if let claim = session.claim {
            let opened = Result { () throws(ResponseError) -> EngineHost in
                do {
                    return try claim.openEngine(environment: environment, selfExecutable: selfExecutable, logger: logger)
                } catch let error as EngineError {
                    throw ResponseError(error)
                } catch {
                    throw .internalError("\(error)")
                }
            }
            self.session.value.withLock { $0?.engine = opened }
            guard case .success(let openedHost) = opened else {
                if case .failure(let error) = opened { logger.error(error.message) }
                return
            }
            host = openedHost
        } else {
            guard case .success(let shared) = session.engine else { return }
            host = shared
        }
        let engine = host.engine
        let outbox = session.outbox
        let wantsLogs = session.wantsLogs
        // Runs on the engine actor after each commit: it only encodes and queues, never waits for the client.
        let listener = await engine.addListener { output in
            switch output {
            case .event(let event):
                outbox.notifyEvent(event)
            case .log(let log):
                if wantsLogs { outbox.notifyLog(log) }
            }
        }
        self.session.value.withLock { $0?.listener = listener }
        // An engine process resumes its runs once, when it starts; an engine of its own, here.
        if session.claim != nil { Task { await engine.resumeInterruptedRuns() } }
    }

    public func handler(for method: String) -> MethodHandler? {
        handlers[method]
    }

    public func handler(named name: UnsafeBufferPointer<UInt8>) -> MethodHandler? {
        handlers[name]
    }

    public func shutdown() async {
        let (engine, listener) = session.value.withLock { session -> (Result<EngineHost, ResponseError>?, Int?) in
            defer { session?.listener = nil }
            return (session?.engine, session?.listener)
        }
        guard case .success(let host) = engine else { return }
        switch source {
        case .owns:
            await host.engine.shutdown()
        case .shares:
            // The engine goes on for its other clients and its runs; this client stops listening.
            if let listener { await host.engine.removeListener(listener) }
        }
    }

    /// The session set by `initialize`, shared with the handlers.
    private final class SessionSlot: Sendable {
        let value = Mutex<Session?>(nil)
    }

    // MARK: Methods

    /// One handler per engine-backed method of `MethodRegistry` (initialize and shutdown are the connection's).
    ///
    /// The table says which methods change runs (`runChange`): their responses are written before the
    /// events they cause (protocol/README.md, "Ordering and replay"); the others answer without
    /// holding events back.
    static func makeHandlers(engine: @escaping @Sendable () throws -> Engine) -> [String: MethodHandler] {
        func bind<R: RequestType>(
            _: R.Type, changesRuns: Bool, _ body: @escaping @Sendable (Engine, R) async throws -> R.Response
        ) -> (String, MethodHandler) {
            // Engine errors become JSON-RPC errors here, at the edge (`ResponseError(_: EngineError)`).
            (R.method, .typed(R.self, changesRuns: changesRuns) { params in
                do {
                    return try await body(try engine(), params)
                } catch let error as EngineError {
                    throw ResponseError(error)
                }
            })
        }
        func request<R: RequestType>(
            _ type: R.Type, _ body: @escaping @Sendable (Engine, R) async throws -> R.Response
        ) -> (String, MethodHandler) { bind(type, changesRuns: false, body) }
        func runChange<R: RequestType>(
            _ type: R.Type, _ body: @escaping @Sendable (Engine, R) async throws -> R.Response
        ) -> (String, MethodHandler) { bind(type, changesRuns: true, body) }
        return Dictionary(uniqueKeysWithValues: [
            request(PipelineListRequest.self) { engine, _ in PipelineListResult(pipelines: await engine.listPipelines()) },
            request(RunListRequest.self) { engine, request in try await engine.listRuns(request) },
            request(RunGetRequest.self) { engine, request in RunResult(run: try await engine.getRun(request.runId)) },
            request(RunEventsRequest.self) { engine, request in try await engine.events(request) },
            request(InboxListRequest.self) { engine, _ in try await engine.inbox() },
            request(StepLogRequest.self) { engine, request in try await engine.stepLog(request) },
            request(RunDiffRequest.self) { engine, request in try await engine.diff(request) },
            request(RunReportRequest.self) { engine, request in try await engine.report(request) },
            request(WorkspaceTrustRequest.self) { engine, request in
                WorkspaceTrustResult(trusted: try await engine.setTrust(request.trusted))
            },
            runChange(RunStartRequest.self) { engine, request in RunResult(run: try await engine.startRun(request)) },
            runChange(RunCancelRequest.self) { engine, request in RunResult(run: try await engine.cancel(request)) },
            runChange(RunRetryRequest.self) { engine, request in RunResult(run: try await engine.retry(request)) },
            runChange(RunResumeRequest.self) { engine, request in RunResult(run: try await engine.resumeRun(request)) },
            runChange(RunRestartRequest.self) { engine, request in RunResult(run: try await engine.restart(request)) },
            runChange(DecisionResolveRequest.self) { engine, request in RunResult(run: try await engine.resolveDecision(request)) },
            runChange(StepApproveRequest.self) { engine, request in RunResult(run: try await engine.approve(request)) },
            runChange(StepRequestChangesRequest.self) { engine, request in RunResult(run: try await engine.requestChanges(request)) },
            runChange(StepRejectRequest.self) { engine, request in RunResult(run: try await engine.reject(request)) },
            runChange(RunApplyRequest.self) { engine, request in RunResult(run: try await engine.apply(request)) },
            runChange(RunDiscardRequest.self) { engine, request in RunResult(run: try await engine.discard(request)) },
        ])
    }

    // MARK: Workspace

    /// The workspace of `initialize`: `workspace`, else LSP's `rootUri` / `rootPath`, else the cwd.
    static func workspace(from params: InitializeRequest) throws -> URL {
        URL(fileURLWithPath: try InitializeWorkspace.path(from: params, unnamed: InitializeWorkspace.currentDirectory))
    }
}
