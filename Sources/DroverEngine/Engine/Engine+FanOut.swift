import DroverProtocol
import Foundation

/// Fan-out steps: the step's output lists subtasks; each becomes a child run of `fanOut.pipeline`
/// (`run.created` with `parentRunId`), branched from the parent's work so far, started through the
/// scheduler like any run (so never more at once than `concurrency.maxRuns`). The parent records
/// `run.children` and waits `blocked` (it holds no slot) until every child has ended; then each done
/// child's branch is merged into the parent's worktree in order (`child.merged`), a conflict raising
/// a decision (retry the child on top of the parent / skip it / fail the run), and the step completes
/// with its own output; the next step sees `{{children}}`. A child that ends without finishing, in a
/// step that does not allow failures, cancels its siblings still at work: the parent fails anyway.
///
/// Everything the wait needs is in the store (the parent's `run.children` and `child.merged`, the
/// children's own runs), so a restarted engine picks it up: `resumeInterruptedRuns` looks at every
/// blocked parent, and a child that ends makes its parent look again.
extension Engine {
    /// Which parents are being settled now, and which must be looked at again when that is done.
    struct FanOutChecks {
        var running: Set<String> = []
        var again: Set<String> = []
    }

    /// A fan-out step's attempt answered `output`: start its children, or fail the step if the output
    /// is not a list of subtasks. An empty list completes the step at once.
    func beginFanOut(runId: String, step: StepDefinition, fanOut: FanOutSpec, attempt: Int, output: String) throws {
        let tasks: [String]
        switch FanOutRules.subtasks(from: output, limit: fanOut.maxChildren) {
        case .failure(let problem):
            let quoted = output.count > 2000 ? String(output.prefix(2000)) + "…" : output
            try failRun(runId: runId, stepId: step.id, attempt: attempt, failure: Failure(
                kind: .agent, message: "Step '\(step.id)': \(problem.message). It answered:\n\(quoted)",
                hint: Hints.fixThenRetry("Make the step answer with a JSON list of subtasks", runId: runId), stepId: step.id))
            return
        case .success(let listed):
            tasks = listed
        }
        if tasks.isEmpty {
            let completed = try commit([.stepCompleted(.init(stepId: step.id, attempt: attempt, output: output))], runId: runId)
            if try !pauseIfOverBudget(completed) { scheduleAdvance(runId) }
            return
        }
        scheduledAdvances += 1 // the engine is not idle while the children's worktrees are made
        Task {
            await self.startChildren(parentId: runId, stepId: step.id, attempt: attempt, output: output,
                                     children: tasks.map { ($0, nil) }, pipelineId: fanOut.pipeline)
            self.scheduledAdvances -= 1
            self.checkIdle()
        }
    }

    /// Why drover workers cannot run a fan-out step (yet): its children are runs a worker's engine may
    /// not create (only the queue hands runs out), and the parent must be settled when they end elsewhere.
    static let workersCannotFanOut = "drover workers do not run fan-out steps yet (its child runs would be created and "
        + "settled by a worker that holds no lease on them)"

    /// A fan-out step about to start in `run`: the failure to record if a worker drives the run, or if its
    /// children would nest deeper than config `fanOut.maxDepth` allows (checked before its agent runs, so
    /// no agent time is spent on it).
    func fanOutStartFailure(run: Run, stepId: String) -> Failure? {
        if driving.queue != nil {
            return Failure(kind: .agent, message: "Step '\(stepId)' fans out, but \(Self.workersCannotFanOut)", hint: Hints.fixThenRetry(
                "Start the run from a client whose store.executor is \"engine\" (the default), or run this pipeline without fan-out",
                runId: run.id), stepId: stepId)
        }
        let maxDepth = loadConfig().maxFanOutDepth
        var ancestors: [String] = []
        var parentId = run.parentRunId
        while let id = parentId, ancestors.count <= maxDepth, !ancestors.contains(id) {
            ancestors.append(id)
            parentId = (try? loadRun(id))?.parentRunId
        }
        guard ancestors.count >= maxDepth else { return nil }
        let chain = ([run.id] + ancestors).joined(separator: " ← ")
        return Failure(
            kind: .agent,
            message: "Step '\(stepId)' fans out, but run \(run.id) is already a child run \(ancestors.count) level(s) deep (\(chain)); "
                + "fan-out may nest \(maxDepth) level(s) of child runs (config fanOut.maxDepth)",
            hint: Hints.fixThenRetry(
                "Raise {\"fanOut\": {\"maxDepth\": N}} (at most \(EngineConfig.fanOutDepthLimits.upperBound)) in .drover/config.json, "
                + "or give the child pipeline no fan-out step", runId: run.id),
            stepId: stepId)
    }

    /// Creates a child run per task (each replacing `replaces` when set), records `run.children` on the
    /// parent, and hands the children to the scheduler. Their worktrees are made first, off the actor;
    /// if one cannot be, none is recorded and the parent fails saying why.
    func startChildren(parentId: String, stepId: String, attempt: Int, output: String,
                       children: [(task: String, replaces: String?)], pipelineId: String) async {
        var prepared: [(runId: String, task: String, replaces: String?, pipeline: LoadedPipeline, request: RunStartRequest,
                        workspace: EventBody.WorkspaceRecorded)] = []
        do {
            let parent = try loadRun(parentId)
            let config = loadConfig()
            let (isolation, base) = try await childPlace(of: parent)
            for child in children {
                let request = RunStartRequest(pipelineId: pipelineId, task: child.task, inputs: parent.inputs, isolation: isolation, base: base)
                let pipeline = try checkedPipeline(request, config: config)
                let runId = try newRunId(avoiding: Set(prepared.map(\.runId)))
                let workspace = try await prepareRunWorkspace(runId: runId, request: request, pipelineDefault: nil)
                prepared.append((runId, child.task, child.replaces, pipeline, request, workspace))
            }
            // The parent may have been cancelled meanwhile: then nothing is recorded.
            let now = try loadRun(parentId)
            guard !now.status.isTerminal, let state = now.step(stepId)?.state, state == .working || state == .waiting else {
                await discard(prepared.map { ($0.runId, $0.workspace) })
                return
            }
            for child in prepared {
                try record(runId: child.runId, pipeline: child.pipeline, request: child.request, workspace: child.workspace,
                           budget: config.budgets.perRun, parent: (parentId, stepId))
            }
            try commit([.runChildren(.init(stepId: stepId, attempt: attempt, output: output,
                                           children: prepared.map { ChildRun(runId: $0.runId, task: $0.task, replaces: $0.replaces) }))],
                       runId: parentId)
            for child in prepared { enqueue(child.runId) }
        } catch {
            let recorded = prepared.filter { (try? loadRun($0.runId)) != nil }
            await discard(prepared.filter { child in !recorded.contains { $0.runId == child.runId } }.map { ($0.runId, $0.workspace) })
            let message = (error as? EngineError)?.message ?? "\(error)"
            do {
                try failRun(runId: parentId, stepId: stepId, attempt: attempt, failure: Failure(
                    kind: .agent, message: "Step '\(stepId)' could not start its child runs of pipeline '\(pipelineId)': \(message)",
                    hint: Hints.fixThenRetry("Fix 'fanOut.pipeline' of step '\(stepId)' or what the message names", runId: parentId),
                    stepId: stepId))
            } catch {
                log("cannot record the failed fan-out of run \(parentId): \(error)")
            }
        }
    }

    /// Where children of `parent` work: a worktree from the parent's current commit, or (for a parent
    /// that works in the workspace itself) the workspace too, with nothing to merge later.
    private func childPlace(of parent: Run) async throws -> (IsolationMode, String?) {
        guard let workspace = parent.workspace, workspace.isolation != .none else { return (.none, nil) }
        guard workspace.isolation == .worktree else {
            throw EngineError.invalid("fan-out needs the parent run to work in a git worktree (or in the workspace itself, isolation none); "
                                      + "this run has isolation \"\(workspace.isolation.rawValue)\"")
        }
        let git = Git(directory: workspace.path, environment: options.environment)
        return (.worktree, try await Self.offActor { try git.checked(["rev-parse", "HEAD"]) })
    }

    private func discard(_ children: [(runId: String, workspace: EventBody.WorkspaceRecorded)]) async {
        for child in children where child.workspace.isolation == .worktree { await discardWorktree(runId: child.runId) }
    }

    // MARK: Waiting on the children

    /// After a commit: a child that ended makes its parent look at its children again.
    func childChanged(_ run: Run) {
        guard run.status.isTerminal, let parentId = run.parentRunId else { return }
        scheduleChildrenCheck(parentId)
    }

    /// Runs `settleChildren` for `parentId` soon, one at a time per parent (a request made meanwhile
    /// runs it once more afterwards).
    func scheduleChildrenCheck(_ parentId: String) {
        guard !fanOutChecks.running.contains(parentId) else {
            fanOutChecks.again.insert(parentId)
            return
        }
        fanOutChecks.running.insert(parentId)
        scheduledAdvances += 1
        Task {
            repeat {
                self.fanOutChecks.again.remove(parentId)
                await self.settleChildren(parentId)
            } while self.fanOutChecks.again.contains(parentId)
            self.fanOutChecks.running.remove(parentId)
            self.scheduledAdvances -= 1
            self.checkIdle()
        }
    }

    /// When every child of the parent's waiting fan-out step has ended: fails the parent if a child
    /// failed (unless `allowFailures`), else merges the children's changes in order and completes the
    /// step. Stops at a merge conflict (a decision) and goes on once it is answered.
    func settleChildren(_ parentId: String) async {
        do {
            while let (parent, step, fanOut, spec) = try waitingFanOut(parentId) {
                if let decision = step.decision, decision.chosen == nil { return } // a person decides first
                var children: [String: Run] = [:]
                for child in fanOut.children { children[child.runId] = try? loadRun(child.runId) }
                if !spec.allowFailures, let failed = Self.firstFailed(fanOut.children, runs: children),
                   await cancelSiblings(of: failed, stepId: step.id, fanOut: fanOut, runs: children, parentId: parentId) {
                    for child in fanOut.children { children[child.runId] = try? loadRun(child.runId) }
                }
                guard fanOut.children.allSatisfy({ children[$0.runId]?.status.isTerminal ?? true }) else { return }

                if let choice = fanOut.mergeChoice, let child = fanOut.nextToSettle {
                    switch choice {
                    case FanOutRules.skipChild:
                        try commit([.childMerged(.init(stepId: step.id, childRunId: child.runId, outcome: .skipped))], runId: parentId)
                        continue
                    case FanOutRules.retryChild:
                        await startChildren(parentId: parentId, stepId: step.id, attempt: fanOut.attempt, output: fanOut.output,
                                            children: [(child.task, child.runId)], pipelineId: spec.pipeline)
                        return
                    default:
                        try failRun(runId: parentId, stepId: step.id, attempt: fanOut.attempt, failure: Failure(
                            kind: .dependency,
                            message: "The change of child run \(child.runId) (\"\(child.task)\") conflicted with the parent's work; a person chose to fail the run",
                            hint: "Retry or restart this run from step '\(step.id)' to plan again (\(Hints.retry(parentId)))", stepId: step.id))
                        await cleanUpChildren(of: parentId, stepId: step.id)
                        return
                    }
                }

                let failed = fanOut.children.filter { children[$0.runId]?.status != .done }
                if !failed.isEmpty, !spec.allowFailures {
                    let list = failed.map { child in
                        let run = children[child.runId]
                        return "\(child.runId) (\"\(child.task)\") " + (run.map { "ended \($0.status.rawValue)" + ($0.failure.map { ": \($0.message)" } ?? "") } ?? "is gone")
                    }
                    try failRun(runId: parentId, stepId: step.id, attempt: fanOut.attempt, failure: Failure(
                        kind: .dependency, message: "\(failed.count) of \(fanOut.children.count) child run(s) of step '\(step.id)' did not finish: "
                            + list.joined(separator: "; "),
                        hint: "See the child runs; retry this run (\(Hints.retry(parentId))) to plan again, or set \"allowFailures\": true on the step's fanOut",
                        stepId: step.id))
                    await cleanUpChildren(of: parentId, stepId: step.id)
                    return
                }
                guard let child = fanOut.nextToSettle else {
                    let completed = try commit([.stepCompleted(.init(stepId: step.id, attempt: fanOut.attempt, output: fanOut.output))],
                                               runId: parentId)
                    if completed.status == .running { scheduleAdvance(parentId) }
                    await cleanUpChildren(of: parentId, stepId: step.id)
                    return
                }
                guard let run = children[child.runId], run.status == .done else {
                    try commit([.childMerged(.init(stepId: step.id, childRunId: child.runId, outcome: .failed))], runId: parentId)
                    continue
                }
                guard let into = parent.workspace, into.isolation == .worktree, let branch = run.workspace?.branch else {
                    try commit([.childMerged(.init(stepId: step.id, childRunId: child.runId, outcome: .nothing))], runId: parentId)
                    continue
                }
                let merger = ChildMerge(parent: Git(directory: into.path, environment: options.environment))
                let message = "drover: merge child run \(child.runId) of step \(step.id): \(child.task.prefix(120))"
                let outcome = try await Self.offActor { try merger.merge(branch: branch, message: message) }
                guard try waitingFanOut(parentId)?.1.id == step.id else { return } // cancelled meanwhile
                switch outcome {
                case .merged(let sha):
                    try commit([.childMerged(.init(stepId: step.id, childRunId: child.runId, outcome: .merged, commit: sha))], runId: parentId)
                case .upToDate:
                    try commit([.childMerged(.init(stepId: step.id, childRunId: child.runId, outcome: .nothing))], runId: parentId)
                case .conflict(let files):
                    let number = try history(parentId).nextDecisionNumber(stepId: step.id)
                    try commit([.decisionRequested(.init(
                        stepId: step.id, decisionId: Identifiers.decisionID(stepId: step.id, number: number),
                        question: FanOutRules.conflictQuestion(child: child, files: files), options: FanOutRules.conflictOptions))],
                               runId: parentId)
                    return
                }
            }
        } catch {
            log("cannot settle the children of run \(parentId): \(error)")
        }
    }

    /// The first child (in merge order) that ended without finishing.
    private static func firstFailed(_ children: [ChildRun], runs: [String: Run]) -> (child: ChildRun, run: Run)? {
        for child in children {
            if let run = runs[child.runId], run.status.isTerminal, run.status != .done { return (child, run) }
        }
        return nil
    }

    /// A child ended without finishing and the step does not allow failures, so the parent will fail:
    /// cancels the siblings still queued or working rather than spend agent time on them. Whether it
    /// cancelled any.
    private func cancelSiblings(of failed: (child: ChildRun, run: Run), stepId: String, fanOut: RunHistory.FanOut,
                                runs: [String: Run], parentId: String) async -> Bool {
        let reason = "its sibling child run \(failed.child.runId) (\"\(failed.child.task.prefix(120))\") ended \(failed.run.status.rawValue), "
            + "so its parent run \(parentId) fails anyway (step '\(stepId)' does not set \"allowFailures\": true)"
        var cancelled = false
        for child in fanOut.children where runs[child.runId].map({ !$0.status.isTerminal }) ?? false {
            do {
                _ = try await cancel(RunCancelRequest(runId: child.runId, reason: reason))
                cancelled = true
            } catch {
                log("cannot cancel child run \(child.runId) of run \(parentId) after its sibling \(failed.child.runId) failed: \(error)")
            }
        }
        return cancelled
    }

    /// The parent's step that waits on its children, if it is blocked on one.
    private func waitingFanOut(_ parentId: String) throws -> (Run, Step, RunHistory.FanOut, FanOutSpec)? {
        let parent = try loadRun(parentId)
        guard parent.status == .blocked, let step = parent.steps.first(where: { $0.state == .waiting && $0.children != nil }),
              let fanOut = try history(parentId).fanOuts[step.id],
              let spec = try pipeline(for: parent).definition.step(step.id)?.fanOut else { return nil }
        return (parent, step, fanOut, spec)
    }

    /// Whether `run` waits on its children (so a decision answered on it is a merge decision).
    func waitsOnChildren(_ run: Run) -> Bool {
        run.status == .blocked && run.steps.contains { $0.state == .waiting && $0.children != nil }
    }

    /// Cancels every child of `run` that has not ended.
    func cancelChildren(of run: Run) async {
        for childId in run.steps.flatMap({ $0.children ?? [] }) {
            guard let child = try? loadRun(childId), !child.status.isTerminal else { continue }
            do {
                _ = try await cancel(RunCancelRequest(runId: childId, reason: "its parent run \(run.id) was cancelled"))
            } catch {
                log("cannot cancel child run \(childId) of run \(run.id): \(error)")
            }
        }
    }

    /// `{{children}}` for `stepId`: the children of the nearest earlier fan-out step.
    func childrenJSON(run: Run, definition: PipelineDefinition, before stepId: String, history: RunHistory) -> String {
        guard let index = definition.steps.firstIndex(where: { $0.id == stepId }),
              let fanOutStep = definition.steps[..<index].last(where: { $0.fanOut != nil }),
              let fanOut = history.fanOuts[fanOutStep.id] else { return "[]" }
        var runs: [String: Run] = [:]
        for child in fanOut.children { runs[child.runId] = try? loadRun(child.runId) }
        return FanOutRules.childrenJSON(fanOut, runs: runs)
    }
}
