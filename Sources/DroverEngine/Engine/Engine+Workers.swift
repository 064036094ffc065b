import DroverProtocol
import DroverStore
import Foundation

/// Who drives the runs an engine records: the engine itself, or `drover worker`s on a shared store.
public enum RunDriving: Sendable {
    /// The engine drives the runs it starts (the default; SQLite, or PostgreSQL without workers).
    case here
    /// `store.executor: "workers"`: the engine records runs, gate answers, retries and cancels, and
    /// hands each run over to `queue` instead of starting or advancing it; it resumes nothing.
    case byWorkers(any WorkerQueue)
    /// A worker's engine: it drives the runs its worker claimed (`drive`), hands a run back to
    /// `queue` when it waits on a person (so whoever answers can record the answer), and lets go
    /// of a run whose lease it lost (`abandon`) without writing anything more.
    case asWorker(any WorkerQueue)

    var queue: (any WorkerQueue)? {
        switch self {
        case .here: return nil
        case .byWorkers(let queue), .asWorker(let queue): return queue
        }
    }

    var leavesRunsToWorkers: Bool {
        if case .byWorkers = self { return true }
        return false
    }
}

extension Engine {
    /// Drives a run its worker has just claimed from the queue: a queued run starts, a running one
    /// goes on (a step left `working` by a worker that died or lost its lease is interrupted, its
    /// agent killed if it is left on this host, and re-run); anything else goes back to the queue.
    public func drive(_ runId: String) async {
        // Already driving it: the worker took its own lease again after it lapsed (a starved
        // heartbeat); the agent running here goes on, and must not be reaped as an orphan.
        guard live[runId] == nil, !reaping.contains(runId) else { return }
        ledger.forget(runId)  // what this engine knew of the run may predate another worker's turn
        do {
            var run = try loadRun(runId)
            if needsCheckout(run) { run = try await materialize(runId: runId) }
            switch run.status {
            case .queued:
                try commit([.runStarted], runId: runId)
                scheduleAdvance(runId)
            case .running:
                await resume(run)
            default:
                handOver(runId)
            }
        } catch {
            log("cannot drive run \(runId): \(error)")
            ledger.letGo(runId)
        }
    }

    /// The run's lease is lost (it ran out while the worker was cut off, or another worker took the
    /// run): stop its agent, forget the run, and write nothing more for it — the store refuses an
    /// append without the lease anyway (`PostgresRunStore` checks it in the append's transaction).
    public func abandon(_ runId: String) async {
        ledger.forget(runId)
        stalls[runId] = nil  // what a failing store still owed the run is no longer ours to record
        guard var attempt = live[runId] else { return }
        if attempt.stop == nil {
            attempt.stop = .abandoned
            live[runId] = attempt
            attempt.handle.terminate(grace: options.killGrace)
        }
        await attempt.task?.value
    }

    /// Whether `run` comes from another machine and must work in this machine's repository cache:
    /// it records a remote, and its working directory is not here (or is a cache worktree, which
    /// `materialize` reuses when it exists).
    private func needsCheckout(_ run: Run) -> Bool {
        guard let cache = options.repositoryCache, let workspace = run.workspace, workspace.remote != nil,
              !run.status.isTerminal else { return false }
        return cache.holds(path: workspace.path) || !FileManager.default.fileExists(atPath: workspace.path)
    }

    /// The runs this engine has an agent running for.
    public var liveRunIds: Set<String> { Set(live.keys) }

    /// Leaves `runId` to the workers: gives up this engine's claim, then puts the run in the queue
    /// (with the drivers its steps need), which wakes the workers — in that order, so a worker woken
    /// finds the run free. Failures are logged: the run stays as recorded, and a run whose queue row
    /// exists is taken by the next worker that looks.
    func handOver(_ runId: String) {
        guard let queue = driving.queue else { return }
        // A pipeline that no longer loads here fails on the worker, saying why; any worker may take it.
        let drivers = (try? loadRun(runId)).flatMap { try? neededDrivers($0) } ?? []
        ledger.letGo(runId)
        do {
            try queue.handOver(runId: runId, workspace: options.workspace.path, drivers: drivers)
        } catch {
            log("cannot leave run \(runId) to the workers: \(error)")
        }
    }

    /// The agent drivers `run`'s steps (and fixers) use, as this engine's config resolves them.
    private func neededDrivers(_ run: Run) throws -> [String] {
        let loaded = try pipeline(for: run)
        let plans = try checkRunnable(pipelineId: loaded.id, definition: loaded.definition, source: loaded.source)
        return Array(Set(plans.flatMap { [$0.agent?.spec.driver, $0.fixerAgent?.spec.driver].compactMap { $0 } })).sorted()
    }

    /// After a commit by a worker's engine: a run that now waits on a person (or its budget) with no
    /// agent running goes back to the queue, so the answer can be recorded from anywhere.
    func handBackIfWaiting(_ run: Run) {
        guard case .asWorker = driving, run.status == .blocked || run.status == .paused, live[run.id] == nil else { return }
        handOver(run.id)
    }
}
