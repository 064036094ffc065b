import DroverProtocol
import DroverStore
import DroverSupport
import Foundation

/// A workspace claimed for driving: `.drover/` prepared and its runs' ownership claimed (with the
/// SQLite backend, the one-engine-per-workspace lock held).
///
/// Claiming is cheap and says at once whether another engine drives the workspace; opening the
/// store and building the engine (`openEngine`) can then happen off the critical path.
public final class WorkspaceClaim: Sendable {
    public let workspace: URL
    public let layout: StoreLayout
    public let backend: StoreBackend
    /// Held for the life of the claim (and of every engine opened from it).
    public let ownership: any RunOwnership

    init(workspace: URL, layout: StoreLayout, backend: StoreBackend, ownership: any RunOwnership) {
        self.workspace = workspace
        self.layout = layout
        self.backend = backend
        self.ownership = ownership
    }

    /// Opens the store and builds the engine. Throws `internalError` when the store can't be opened.
    public func openEngine(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        selfExecutable: String = EngineHost.currentExecutable(), launcher: any AgentLauncher = ProcessLauncher(),
        logger: Logger = Logger()
    ) throws -> EngineHost {
        do {
            let store = try backend.openStore(layout, ownership)
            var options = EngineOptions(
                workspace: workspace, selfExecutable: selfExecutable, environment: environment, logger: logger)
            options.sharesStore = backend.followChanges != nil
            let driving: RunDriving = try backend.workerQueue.map { .byWorkers(try $0()) } ?? .here
            let engine = try Engine(options: options, store: store, launcher: launcher, ownership: ownership, driving: driving)
            if let follow = backend.followChanges {
                // Other engines share the store: their commits become this engine's run/events.
                let feed = follow { message in logger.warning("store: \(message)") }
                Task { await engine.follow(feed) }
            }
            return EngineHost(engine: engine, claim: self)
        } catch let error as EngineError {
            throw error
        } catch let error as StoreError where error.kind == .unavailable || error.kind == .unsupportedSchema {
            // A store on a server: its message names the server (not drover.db) and says what is wrong.
            throw ResponseError.internalError(error.message)
        } catch {
            throw EngineError.internalError(
                "cannot open the store in \(layout.root.path): \(error). If the database is damaged, move drover.db aside to start a new store")
        }
    }
}

/// An engine opened on a workspace: `.drover/` prepared, the driving lock held, the store and engine built.
///
/// The server and the CLI both open engines through here, so there is one way to drive a workspace.
public final class EngineHost: Sendable {
    public let engine: Engine
    public let claim: WorkspaceClaim
    public var layout: StoreLayout { claim.layout }

    init(engine: Engine, claim: WorkspaceClaim) {
        self.engine = engine
        self.claim = claim
    }

    /// Claims `workspace` for driving: prepares `.drover/` and claims ownership through `backend`.
    /// Throws `conflict` when another engine holds the workspace (naming its pid), `internalError`
    /// when `.drover/` can't be made.
    public static func claim(workspace: URL, backend: StoreBackend) throws -> WorkspaceClaim {
        let layout = StoreLayout(workspace: workspace)
        do {
            try layout.prepare()
            return WorkspaceClaim(
                workspace: workspace, layout: layout, backend: backend, ownership: try backend.claimOwnership(layout))
        } catch let error as StoreLockError {
            throw EngineError.conflict("\(error)")
        } catch let error as RunOwnershipError {
            throw EngineError.conflict("\(error)")
        } catch let error as StoreError where error.kind == .readOnly {
            throw EngineError.internalError(error.message)
        } catch {
            throw EngineError.internalError("cannot prepare \(layout.root.path): \(error)")
        }
    }

    /// Claims `workspace` and opens its engine in one step (see `claim` and `WorkspaceClaim.openEngine`).
    public static func open(
        workspace: URL, backend: StoreBackend, environment: [String: String] = ProcessInfo.processInfo.environment,
        selfExecutable: String = currentExecutable(), launcher: any AgentLauncher = ProcessLauncher(),
        logger: Logger = Logger()
    ) throws -> EngineHost {
        try claim(workspace: workspace, backend: backend).openEngine(
            environment: environment, selfExecutable: selfExecutable, launcher: launcher, logger: logger)
    }

    /// The path of the running drover binary (the fake agent is this binary run as `drover agent-fake`).
    /// (Inside a test runner this is the runner, not `drover`; tests locate the built binary instead.)
    public static func currentExecutable() -> String {
        #if os(Linux)
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        #endif
        return Bundle.main.executablePath ?? CommandLine.arguments[0]
    }
}
