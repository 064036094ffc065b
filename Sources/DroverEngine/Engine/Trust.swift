import DroverProtocol
import Foundation

/// Remembers which workspaces the user trusts, by absolute path, in `<configDir>/trust.json`
/// (`{"trusted": ["/abs/path", ...]}`, file 0600, folder 0700).
public struct TrustStore: Sendable {
    public let file: URL
    /// `file.path`, made once: trust is read at every run start and attempt, and `URL.path` costs more
    /// than the `stat` that follows it.
    private let path: String

    public init(configDirectory: URL) {
        file = configDirectory.appendingPathComponent("trust.json")
        path = file.path
    }

    /// The canonical form of a workspace path (absolute, standardized, symlinks resolved).
    public static func key(_ workspace: URL) -> String {
        workspace.standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// Every trusted workspace path (the file parsed again only when it changed: `FileValueCache`).
    public func trustedPaths() -> [String] {
        Self.parsedFiles.value(at: path) { path in
            guard let data = FileManager.default.contents(atPath: path),
                  let json = try? JSONParser().parse(Array(data)),
                  let stored = try? JSONValueDecoder().decode(Stored.self, from: json) else { return [] }
            return stored.trusted
        }
    }

    private static let parsedFiles = FileValueCache<[String]>()

    /// Whether `workspace` is trusted.
    public func isTrusted(_ workspace: URL) -> Bool { isTrusted(key: Self.key(workspace)) }

    /// Whether the workspace whose `key` this is is trusted (for a caller that keeps the key: making it
    /// resolves every symlink of the path).
    public func isTrusted(key: String) -> Bool { trustedPaths().contains(key) }

    /// Records (or withdraws) trust in `workspace`.
    public func setTrusted(_ workspace: URL, _ trusted: Bool) throws {
        var paths = Set(trustedPaths())
        let key = Self.key(workspace)
        if trusted { paths.insert(key) } else { paths.remove(key) }
        let directory = file.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let data = try JSONCoding.makeEncoder().encode(Stored(trusted: paths.sorted()))
        let temporary = directory.appendingPathComponent(".trust.json.\(getpid()).tmp")
        guard FileManager.default.createFile(atPath: temporary.path, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw EngineError.internalError("cannot write \(temporary.path)")
        }
        if rename(temporary.path, path) != 0 {
            try? FileManager.default.removeItem(at: temporary)
            throw EngineError.internalError("cannot replace \(path): \(String(cString: strerror(errno)))")
        }
    }

    private struct Stored: Codable { var trusted: [String] }
}

/// The trust rule: a run needs trust iff its pipeline comes from the workspace, or any step's
/// agent (or command) is defined by the workspace's config. Built-in and user pipelines whose
/// agents are fake or come from the user's config run untrusted.
public enum TrustPolicy {
    /// Why the run needs trust, or nil if it does not.
    public static func reason(pipelineId: String, source: PipelineInfo.Source, plans: [StepPlan]) -> String? {
        if source == .workspace { return "pipeline '\(pipelineId)' comes from the workspace" }
        if let plan = plans.first(where: { $0.source == .workspace }) {
            return "step '\(plan.stepId)' uses an agent from the workspace's .drover/config.json"
        }
        return nil
    }

    /// The refusal sent to the client.
    public static func refusal(workspace: URL, reason: String) -> EngineError {
        EngineError.untrusted(
            "Workspace \(workspace.path) is not trusted: its pipelines and config can run commands. "
            + "Trust it with `drover trust` in that folder, or accept the editor's prompt (workspace/trust).",
            details: ["reason": .string(reason), "workspace": .string(workspace.path)])
    }
}
