/// `initialize`: the first request of every connection.
public struct InitializeRequest: RequestType {
    public typealias Response = InitializeResult
    public static let method = "initialize"

    public struct ClientInfo: Codable, Sendable, Hashable {
        public var name: String
        public var version: String?

        public init(name: String, version: String? = nil) {
            self.name = name
            self.version = version
        }
    }

    public struct ClientCapabilities: Codable, Sendable, Hashable {
        /// Whether the client wants `run/log` notifications (default true).
        public var logs: Bool?

        public init(logs: Bool? = nil) {
            self.logs = logs
        }
    }

    public var protocolVersion: Int?
    public var clientInfo: ClientInfo?
    public var workspace: String?
    public var rootUri: String?
    public var rootPath: String?
    public var capabilities: ClientCapabilities?

    public init(protocolVersion: Int? = nil, workspace: String? = nil) {
        self.protocolVersion = protocolVersion
        self.workspace = workspace
    }
}

/// The answer to `initialize`.
public struct InitializeResult: Codable, Sendable, Hashable {
    public struct ServerInfo: Codable, Sendable, Hashable {
        public var name: String
        public var version: String
        public init(name: String, version: String) {
            self.name = name
            self.version = version
        }
    }

    public struct ServerCapabilities: Codable, Sendable, Hashable {
        public var framing: String
        public var methods: [String]
        public var notifications: [String]
        public var eventTypes: [String]
        public var drivers: [String]
        public init(framing: String, methods: [String], notifications: [String], eventTypes: [String], drivers: [String]) {
            self.framing = framing
            self.methods = methods
            self.notifications = notifications
            self.eventTypes = eventTypes
            self.drivers = drivers
        }
    }

    public var protocolVersion: Int
    public var serverInfo: ServerInfo
    public var workspace: String
    public var capabilities: ServerCapabilities

    public init(protocolVersion: Int, serverInfo: ServerInfo, workspace: String, capabilities: ServerCapabilities) {
        self.protocolVersion = protocolVersion
        self.serverInfo = serverInfo
        self.workspace = workspace
        self.capabilities = capabilities
    }
}

/// `shutdown`: stop accepting work; `exit` follows.
public struct ShutdownRequest: RequestType {
    public typealias Response = NullResult
    public static let method = "shutdown"
}

/// Protocol versions this server speaks.
public enum ProtocolVersion {
    public static let current = 1
    public static let supported = [1]
}
