import DroverProtocol
import Foundation

/// Runs started on another machine (a shared store), driven here: the code comes from the run's
/// recorded remote into this machine's `RepositoryCache`, and the run's branch goes back to that
/// remote before the run is recorded done. What a worker calls: `materialize(runId:)` once it has
/// claimed a run, then drives it as any run (attempts work in the recorded path, commits land on
/// `drover/<run-id>` in the cache); completion pushes by itself (`advance` → `pushThenComplete`).
extension Engine {
    /// Makes the run's worktree in this machine's repository cache (`EngineOptions.repositoryCache`)
    /// and records it as the run's workspace (`run.workspace`: the cache's path, same remote, base
    /// commit and branch). A run already working in the cache is returned unchanged.
    /// - Throws: `EngineError` `invalid` without a cache or for a run that records no remote,
    ///   `conflict` when its base commit was never pushed, `internal` when git fails.
    public func materialize(runId: String) async throws -> Run {
        guard let cache = options.repositoryCache else {
            throw EngineError.invalid("this engine has no repository cache, so it can only drive runs of its own workspace")
        }
        let run = try loadRun(runId)
        guard let workspace = run.workspace else { throw EngineError.invalid("run \(runId) has no recorded workspace yet") }
        if cache.holds(path: workspace.path), FileManager.default.fileExists(atPath: workspace.path) { return run }
        let recorded = try await Self.offActor { try cache.materialize(runId: runId, workspace: workspace) }
        return try commit([.runWorkspace(recorded)], runId: runId)
    }

    /// The remote to push a run's branch to before it is done: set for a run working in this engine's cache.
    func remoteToPush(_ run: Run) -> String? {
        guard let cache = options.repositoryCache, let workspace = run.workspace, let remote = workspace.remote,
              cache.holds(path: workspace.path), !pushedRuns.contains(run.id) else { return nil }
        return remote
    }

    /// Pushes the run's branch, then lets `advance` record the run done; a push that fails fails the
    /// run, saying why (its change would otherwise be done but out of everyone's reach).
    func pushThenComplete(runId: String, remote: String) {
        scheduledAdvances += 1
        let cache = options.repositoryCache
        Task {
            defer {
                scheduledAdvances -= 1
                checkIdle()
            }
            do {
                try await Self.offActor { try cache?.pushRunBranch(runId: runId, remote: remote) }
                pushedRuns.insert(runId)
                advance(runId)
            } catch {
                log("run \(runId): \(error)")
                _ = try? commit([.runFailed(.init(failure: Failure(
                    kind: .internal, message: "\(error)",
                    hint: "check this machine's git access to \(remote) (drover pushes with your git credentials), then retry the run")))],
                    runId: runId)
            }
        }
    }
}
