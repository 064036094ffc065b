import DroverProtocol
import Foundation

extension Engine {
    /// `run/start`: checks the pipeline, its inputs, agents, trust and dependencies; prepares where
    /// its steps will work (a new git worktree, or the workspace itself) before anything is recorded;
    /// records `run.created` with `run.workspace` and, in the same commit, the scheduler's verdict:
    /// `run.started` when a slot is free and its dependencies are done (the first step starts right
    /// after this returns), else `run.queued` with the reason (the response then shows a `queued` run).
    public func startRun(_ request: RunStartRequest) async throws -> Run {
        // A run in a plain folder is checked and recorded in one actor turn, the config read once; one whose
        // worktree or snapshot must be made is recorded once that is done, off the actor.
        let (start, createdInPlace) = try readingFilesOnce { () throws -> (CheckedStart, Run?) in
            let start = try checkedStart(request)
            guard let workspace = try workspaceInPlace(request: request, pipelineDefault: start.pipeline.definition.isolation) else {
                return (start, nil)
            }
            return (start, try recordAdmitted(start, workspace: workspace))
        }
        let created: Run
        if let createdInPlace {
            created = createdInPlace
        } else {
            let workspace = try await prepareRunWorkspace(runId: start.runId, request: request,
                                                          pipelineDefault: start.pipeline.definition.isolation)
            do {
                created = try readingFilesOnce { try recordAdmitted(start, workspace: workspace) }
            } catch {
                if workspace.isolation == .worktree { await discardWorktree(runId: start.runId) }
                throw error
            }
        }
        // Left to workers, the run is answered as recorded here: a worker may start it at once.
        return driving.leavesRunsToWorkers ? created : try loadRun(start.runId)
    }

    /// A `run/start` request as checked, with what its run is created with.
    struct CheckedStart {
        var runId: String
        var request: RunStartRequest
        var pipeline: LoadedPipeline
        var dependsOn: [String]?
        var budget: RunBudget?
        /// What the run says once about agents drover chose for it.
        var notice: String?
    }

    /// Checks the pipeline, its inputs, agents, trust, dependencies and budget of `request`, and picks the run's id.
    private func checkedStart(_ request: RunStartRequest) throws -> CheckedStart {
        let config = loadConfig()
        let pipeline = try checkedPipeline(request, config: config)
        let dependsOn = request.dependsOn.flatMap { $0.isEmpty ? nil : $0 }
        try checkDependencies(dependsOn)
        try Self.validate(request.budget)
        try Self.checkSpendingConfig(config)
        // Roles of a built-in pipeline that no config names run the agent CLI on PATH: the run says so once.
        let notice = pipeline.source == .builtin ? detectedAgentNotice(
            plans: try checkRunnable(pipelineId: pipeline.id, definition: pipeline.definition, source: pipeline.source, config: config),
            definition: pipeline.definition, configDirectory: options.configDirectory) : nil
        if let notice { log("run of \(pipeline.id): \(notice)") }
        // The config's per-run default applies when the request gives no budget of its own.
        return CheckedStart(runId: try newRunId(), request: request, pipeline: pipeline, dependsOn: dependsOn,
                            budget: request.budget ?? config.budgets.perRun, notice: notice)
    }

    /// Records a new run started or waiting, as the scheduler decides, in its first commit (one transaction
    /// fewer per run), then queues or advances it and admits the runs waiting if that decision moves them.
    private func recordAdmitted(_ start: CheckedStart, workspace: EventBody.WorkspaceRecorded) throws -> Run {
        let runId = start.runId
        let admission = admissionAtCreation(runId, dependsOn: start.dependsOn ?? [])
        let created = try record(runId: runId, pipeline: start.pipeline, request: start.request, workspace: workspace,
                                 dependsOn: start.dependsOn, budget: start.budget, notice: start.notice, admission: admission.event)
        switch admission.event {
        case .runStarted?:
            scheduleAdvance(runId)
            if admission.movesOthers { admitWaiting() }
        case .runQueued(let data)?:
            enqueue(runId, recorded: data.reason, admitting: admission.movesOthers)
        default:
            enqueue(runId)
        }
        return created
    }

    /// The pipeline `request` names, checked: it exists without errors, the task is not empty, every
    /// input its prompts use is given, its agents resolve and the workspace is trusted if it must be.
    func checkedPipeline(_ request: RunStartRequest, config: EngineConfig) throws -> LoadedPipeline {
        // Only the pipelines named are read; the whole catalog only to list what is there when one is missing.
        let lookUp = { (id: String) in PipelineCatalog.entry(id, workspace: self.options.workspace, configDirectory: self.options.configDirectory) }
        let available = { PipelineCatalog.load(workspace: self.options.workspace, configDirectory: self.options.configDirectory).entries.map(\.id).joined(separator: ", ") }
        guard let entry = lookUp(request.pipelineId) else {
            throw EngineError(.notFound, "No pipeline with id '\(request.pipelineId)'; available: \(available())")
        }
        guard let definition = entry.definition, entry.errors.isEmpty else {
            let place = entry.path.map { " (\($0))" } ?? ""
            throw EngineError.invalid(
                "pipeline '\(entry.id)'\(place) is invalid: \(entry.errors.joined(separator: "; ")). Fix the file; pipeline/list shows its errors")
        }
        // Scalar properties, not Foundation's trimming, which costs more than the rest of this check on Linux.
        guard !request.task.unicodeScalars.allSatisfy(\.properties.isWhitespace) else {
            throw EngineError.invalid("task is empty; say what the pipeline should do")
        }
        let inputs = request.inputs ?? [:]
        var missing: [String] = []
        for step in definition.steps {
            for case .input(let key) in Template.references(in: step.prompt ?? "") where inputs[key] == nil && !missing.contains(key) {
                missing.append(key)
            }
        }
        if !missing.isEmpty {
            throw EngineError.invalid(
                "pipeline '\(entry.id)' uses " + missing.map { "{{inputs.\($0)}}" }.joined(separator: ", ")
                + "; pass inputs: {" + missing.map { "\"\($0)\": \"…\"" }.joined(separator: ", ") + "}")
        }
        try checkRunnable(pipelineId: entry.id, definition: definition, source: entry.source, config: config)
        for step in definition.steps {
            guard let fanOut = step.fanOut else { continue }
            if driving.queue != nil {
                throw EngineError.invalid("pipeline '\(entry.id)' step '\(step.id)' fans out into child runs, but this engine leaves its runs "
                                          + "to workers (store.executor \"workers\") and \(Self.workersCannotFanOut); start it from a client "
                                          + "whose store.executor is \"engine\" (the default), e.g. DROVER_STORE_EXECUTOR=engine")
            }
            let child = lookUp(fanOut.pipeline)
            guard let child, child.definition != nil, child.errors.isEmpty else {
                throw EngineError.invalid("pipeline '\(entry.id)' step '\(step.id)': fanOut.pipeline '\(fanOut.pipeline)' "
                                          + (child == nil ? "names no pipeline" : "has errors (pipeline/list shows them)")
                                          + "; available: \(available())")
            }
        }
        return LoadedPipeline(id: entry.id, definition: definition, source: entry.source)
    }

    /// A run id no stored run has (nor any in `taken`).
    func newRunId(avoiding taken: Set<String> = []) throws -> String {
        var runId = Identifiers.newRunID(at: options.now())
        while try taken.contains(runId) || ledger.store.run(id: runId) != nil { runId = Identifiers.newRunID(at: options.now()) }
        return runId
    }

    /// Records a new run: `run.created` with `run.workspace` (and `admission`, the `run.started` or
    /// `run.queued` the scheduler gave it, if any), in one commit.
    @discardableResult
    func record(runId: String, pipeline: LoadedPipeline, request: RunStartRequest, workspace: EventBody.WorkspaceRecorded,
                dependsOn: [String]? = nil, budget: RunBudget?, parent: (runId: String, stepId: String)? = nil,
                notice: String? = nil, admission: EventBody? = nil) throws -> Run {
        try ledger.begin(runId, pipeline: pipeline)
        return try commit([
            .runCreated(.init(pipelineId: pipeline.id, task: request.task, inputs: request.inputs, steps: pipeline.definition.stepInfos,
                              dependsOn: dependsOn, budget: budget, parentRunId: parent?.runId, parentStepId: parent?.stepId,
                              notice: notice)),
            .runWorkspace(workspace),
        ] + (admission.map { [$0] } ?? []), runId: runId)
    }

    /// Every role resolves to an agent, and the workspace is trusted if the run needs it; returns
    /// how each step runs. Checked when a run starts, retries or restarts, and again before each
    /// attempt (config and trust may change in between).
    @discardableResult
    func checkRunnable(pipelineId: String, definition: PipelineDefinition, source: PipelineInfo.Source,
                       config: EngineConfig? = nil) throws -> [StepPlan] {
        let config = config ?? loadConfig()
        let detected = source == .builtin ? DetectedAgent.onPath(environment: options.environment).first : nil
        let plans = try planSteps(pipelineId: pipelineId, definition: definition, source: source,
                                  config: config, configDirectory: options.configDirectory, detected: detected)
        if let reason = TrustPolicy.reason(pipelineId: pipelineId, source: source, plans: plans), !isTrusted() {
            throw TrustPolicy.refusal(workspace: options.workspace, reason: reason)
        }
        return plans
    }

    /// `run/cancel`: kills the live step's process group (or the agent a dead engine left behind),
    /// then records `run.cancelled`, then cancels the run's child runs (`Engine+FanOut`). A terminal
    /// run is returned unchanged.
    public func cancel(_ request: RunCancelRequest) async throws -> Run {
        let cancelled = try await cancelOne(request)
        if cancelled.status == .cancelled { await cancelChildren(of: cancelled) }
        return cancelled
    }

    private func cancelOne(_ request: RunCancelRequest) async throws -> Run {
        // A reap going on (a starting engine stopping the agent its dead predecessor left) ends first, so
        // the answer comes once that agent is gone, as it does when this cancel reaps it itself.
        await waitForReap(request.runId)
        let run = try loadRun(request.runId)
        if run.status.isTerminal { return run }
        let reason = request.reason.flatMap { $0.isEmpty ? nil : $0 } ?? "cancelled by request"
        if var attempt = live[run.id] {
            if attempt.stop == nil {
                attempt.stop = .cancel(reason)
                live[run.id] = attempt
                withdrawPermissions(runId: run.id, reason: "the run was cancelled")
                attempt.handle.terminate(grace: options.killGrace)
            }
            await attempt.task?.value
            let after = try loadRun(run.id)
            if after.status.isTerminal { return after }
        } else if !reaping.contains(run.id), !driving.leavesRunsToWorkers, let step = run.steps.first(where: { $0.state == .working }) {
            // Working with no attempt live here: the engine that started it died, and its agent may
            // still run (a client that opened the engine only to cancel, like `drover cancel`). Stop it first.
            reaping.insert(run.id)
            await reapOrphanedStep(run, stepId: step.id, attempts: step.attempts)
            endReap(run.id)
            let after = try loadRun(run.id)
            if after.status.isTerminal { return after }
        }
        return try commit([.runCancelled(.init(reason: reason))], runId: run.id)
    }

    /// `run/retry`: a failed or cancelled run resumes at its first step not done.
    public func retry(_ request: RunRetryRequest) throws -> Run {
        let run = try loadRun(request.runId)
        try checkHasWorkingDirectory(run)
        guard run.status == .failed || run.status == .cancelled else {
            let advice = run.status == .done ? "; \(Hints.restart(run.id)) re-runs steps of a done run" : ""
            throw EngineError.conflict(
                "Run \(run.id) is \(run.status.rawValue); run/retry accepts failed or cancelled runs only\(advice)")
        }
        let loaded = try pipeline(for: run)
        try checkRunnable(pipelineId: loaded.id, definition: loaded.definition, source: loaded.source)
        let fromStep = run.firstUnfinishedStepIndex.map { run.steps[$0].id } ?? run.steps.last?.id ?? ""
        let retried = try commit([.runRetried(.init(fromStep: fromStep))], runId: run.id)
        scheduleAdvance(run.id)
        return retried
    }

    /// `run/restart`: stops the run if live, resets the steps from `fromStep` and runs them again.
    /// `fromStep` must be at or before the first step not done.
    public func restart(_ request: RunRestartRequest) async throws -> Run {
        let run = try loadRun(request.runId)
        guard let from = run.stepIndex(request.fromStep) else {
            throw EngineError(.notFound, "Run \(run.id) has no step '\(request.fromStep)'; its steps: \(run.steps.map(\.id).joined(separator: ", "))")
        }
        if let first = run.firstUnfinishedStepIndex, from > first {
            throw EngineError.conflict(
                "Run \(run.id) has not finished step '\(run.steps[first].id)' yet, so it cannot restart from the later step '\(request.fromStep)'; "
                + "choose one of: \(run.steps[...first].map(\.id).joined(separator: ", "))")
        }
        try checkHasWorkingDirectory(run)
        let loaded = try pipeline(for: run)
        try checkRunnable(pipelineId: loaded.id, definition: loaded.definition, source: loaded.source)
        if var attempt = live[run.id] {
            if attempt.stop == nil {
                attempt.stop = .restart
                live[run.id] = attempt
                attempt.handle.terminate(grace: options.killGrace)
            }
            await attempt.task?.value
        }
        let restarted = try commit([.runRestarted(.init(fromStep: request.fromStep))], runId: run.id)
        scheduleAdvance(run.id)
        return restarted
    }
}
