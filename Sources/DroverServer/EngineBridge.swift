import DroverProtocol
import Foundation

/// Implements the protocol's methods on top of the engine. (Engine methods land with the engine.)
public final class EngineBridge: ConnectionDelegate {
    private let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    public func initialize(_ params: InitializeRequest, framing: Framing, outbox: Outbox) throws -> InitializeResult {
        InitializeResult(
            protocolVersion: ProtocolVersion.current,
            serverInfo: .init(name: "drover", version: DroverVersion.string),
            workspace: params.workspace ?? FileManager.default.currentDirectoryPath,
            capabilities: .init(framing: framing.rawValue, methods: MethodRegistry.methodNames,
                                notifications: MethodRegistry.notifications, eventTypes: EventBody.allTypes, drivers: ["fake", "command"]))
    }

    public func start() async {}

    public func handler(for method: String) -> MethodHandler? { nil }

    public func shutdown() async {}
}
