import DroverProtocol
import Foundation

/// An engine opened on a workspace: `.drover/` prepared, the driving lock held, the store and engine built.
///
/// The server and the CLI both open engines through here, so there is one way to drive a workspace.
public final class EngineHost: Sendable {
    public let engine: Engine
    public let layout: StoreLayout
    /// Held for the life of the host: one engine drives a store at a time.
    private let lock: StoreLock

    private init(engine: Engine, layout: StoreLayout, lock: StoreLock) {
        self.engine = engine
        self.layout = layout
        self.lock = lock
    }

    /// The agent drivers this build can run.
    public static let driverNames = ["fake", "command"]

    /// Opens `workspace` for driving. Throws a `ResponseError` a client can show: `conflict` when
    /// another engine holds the workspace (naming its pid), `internalError` when the store can't be opened.
    public static func open(
        workspace: URL, environment: [String: String] = ProcessInfo.processInfo.environment,
        selfExecutable: String = currentExecutable(), launcher: any AgentLauncher = ProcessLauncher()
    ) throws -> EngineHost {
        let layout = StoreLayout(workspace: workspace)
        do {
            try layout.prepare()
            let lock = try StoreLock(layout: layout)
            let store = try SQLiteRunStore(path: layout.databasePath)
            let options = EngineOptions(workspace: workspace, selfExecutable: selfExecutable, environment: environment)
            let engine = try Engine(options: options, store: store, launcher: launcher)
            return EngineHost(engine: engine, layout: layout, lock: lock)
        } catch let error as ResponseError {
            throw error
        } catch let error as StoreLockError {
            throw ResponseError.conflict("\(error)")
        } catch {
            throw ResponseError.internalError("cannot open the store in \(layout.root.path): \(error)")
        }
    }

    /// The path of the running drover binary (the fake agent is this binary run as `drover agent-fake`).
    public static func currentExecutable() -> String {
        FakeAgent.currentExecutablePath() ?? CommandLine.arguments[0]
    }
}
