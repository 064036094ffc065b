import DroverProtocol
import DroverStore
import Foundation

/// The read side of a workspace's pipelines: what `pipeline/list` and `drover pipelines` show.
public struct PipelineQueries: Sendable {
    public let workspace: URL
    public let configDirectory: URL

    public init(workspace: URL, configDirectory: URL) {
        self.workspace = workspace
        self.configDirectory = configDirectory
    }

    /// `pipeline/list`: every pipeline, broken ones with their errors.
    public func pipelines() -> [PipelineInfo] {
        PipelineCatalog.load(workspace: workspace, configDirectory: configDirectory).infos
    }

    /// Why each pipeline would need the workspace's trust to run (pipeline id → reason), judged by
    /// the rule `run/start` applies (`TrustPolicy`); pipelines that run untrusted are absent.
    public func trustReasons() -> [String: String] {
        let catalog = PipelineCatalog.load(workspace: workspace, configDirectory: configDirectory)
        let config = EngineConfig.load(workspace: workspace, configDirectory: configDirectory)
        var reasons: [String: String] = [:]
        for entry in catalog.entries {
            guard let definition = entry.definition else { continue }
            // A pipeline whose roles are not all configured cannot start at all; its own source still counts.
            let plans = (try? planSteps(pipelineId: entry.id, definition: definition, source: entry.source,
                                        config: config, configDirectory: configDirectory)) ?? []
            reasons[entry.id] = TrustPolicy.reason(pipelineId: entry.id, source: entry.source, plans: plans)
        }
        return reasons
    }
}
