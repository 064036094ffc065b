import DroverProtocol
import DroverStore
import Foundation

extension Engine {
    /// Records `step.started`, builds the attempt's process and launches it in a child task.
    /// Anything that stops the launch becomes `step.failed` + `run.failed`.
    ///
    /// `role` is set for a fixer round of a tests step. When `resuming` (the step is pending: first
    /// attempt, or re-run after an interruption or a gate), a tests step whose last attempt was a
    /// fixer's runs the fixer again (`TestsLoop.lastStartedRole`).
    func startStep(run: Run, stepId: String, attempt: Int, role: String? = nil, resuming: Bool = true) throws {
        let loaded: LoadedPipeline
        do {
            loaded = try pipeline(for: run)
        } catch let error as EngineError {
            try failRun(runId: run.id, stepId: nil, attempt: attempt, failure: Failure(
                kind: .interrupted, message: error.message, hint: Hints.fixThenRetry("Fix the pipeline", runId: run.id), stepId: stepId))
            return
        }
        if try pauseIfOverBudget(run) { return }
        var role = try resuming ? role ?? history(run.id).testsLoops[stepId]?.lastStartedRole : role
        if resuming, let consensus = loaded.definition.step(stepId)?.consensus {
            // Where the consensus stands is in the log: a round of candidates to run, the judge, or the vote.
            switch ConsensusRules.next(consensus, answered: try history(run.id).consensusRound(stepId)) {
            case .answer:
                return try startConsensusRound(run: run, pipeline: loaded, stepId: stepId, consensus: consensus, attempt: attempt)
            case .judge(let judge):
                role = judge
            case .vote:
                return decideAfterRound(runId: run.id, stepId: stepId, consensus: consensus, attempt: max(attempt - 1, 1))
            }
        }
        let started = try commit([.stepStarted(.init(stepId: stepId, attempt: attempt, role: role))], runId: run.id)
        if loaded.definition.step(stepId)?.fanOut != nil, let tooDeep = fanOutStartFailure(run: started, stepId: stepId) {
            return try failRun(runId: run.id, stepId: stepId, attempt: attempt, failure: tooDeep)
        }
        let launched: LaunchedAttempt
        do {
            launched = try launchAttempt(run: started, pipeline: loaded, stepId: stepId, attempt: attempt, role: role)
        } catch let notStarted as AttemptNotStarted {
            try failRun(runId: run.id, stepId: stepId, attempt: attempt, failure: notStarted.failure)
            return
        }
        let runId = run.id
        let workspace = started.workspace
        let isTestsCommand = role == nil && loaded.definition.step(stepId)?.kind == .tests
        let stepRole = loaded.definition.step(stepId)?.role
        live[runId] = LiveAttempt(stepId: stepId, attempt: attempt, handle: launched.handle, task: nil, stop: nil, pricing: launched.pricing)
        let task = Task {
            let outcome = await self.follow(launched, runId: runId, stepId: stepId, attempt: attempt)
            // A tests command checks the change; only agents and commands get their changes committed.
            // `IsolationMode.none` spelled out: a bare `.none` here is the optional's, which skipped no commit call.
            let committed = isTestsCommand || (workspace?.isolation ?? IsolationMode.none) == .none ? nil
                : await self.commitAttempt(workspace: workspace, runId: runId, stepId: stepId, attempt: attempt,
                                           role: role ?? stepRole)
            self.finishAttempt(outcome, runId: runId, stepId: stepId, attempt: attempt, committed: committed)
        }
        live[runId]?.task = task
    }

    /// An attempt's process, started: what its reports arrive on, and how its usage is priced.
    struct LaunchedAttempt: Sendable {
        var handle: any AgentHandle
        var reports: BoundedChannel<AgentReport>
        var pricing: UsagePricing
    }

    /// Why an attempt could not start, told as the step's failure.
    struct AttemptNotStarted: Error {
        var failure: Failure
    }

    /// Builds the attempt's process (`makeInvocation`, in `workingDirectory` when given, else the run's)
    /// and launches it, recording its process group. Whatever stops the launch is an `AttemptNotStarted`.
    func launchAttempt(run: Run, pipeline: LoadedPipeline, stepId: String, attempt: Int, role: String?,
                       workingDirectory: String? = nil) throws -> LaunchedAttempt {
        let invocation: AgentInvocation
        let pricing: UsagePricing
        do {
            (invocation, pricing) = try makeInvocation(run: run, pipeline: pipeline, stepId: stepId, attempt: attempt,
                                                       fixerRole: role, workingDirectory: workingDirectory)
        } catch let notFound as TestCommandDetection.NotFound {
            throw AttemptNotStarted(failure: Failure(
                kind: .tests, message: notFound.description, hint: Hints.fixThenRetry(notFound.hint, runId: run.id), stepId: stepId))
        } catch {
            // Any error here would otherwise leave the step `working` with no process behind it.
            let refusal = error as? EngineError
            let untrusted = refusal?.kind == .untrusted
            throw AttemptNotStarted(failure: Failure(
                kind: untrusted ? .interrupted : .agent, message: refusal?.message ?? "\(error)",
                hint: Hints.fixThenRetry(untrusted ? "Trust the workspace (`drover trust`)" : "Fix the step's agent or config", runId: run.id),
                stepId: stepId))
        }
        // Bounded: an agent that prints faster than the engine takes its lines waits on its pipe.
        let reports = BoundedChannel<AgentReport>(capacity: 1 << 20, cost: \.queuedSize)
        let handle: any AgentHandle
        do {
            handle = try launcher.launch(invocation) { reports.send($0) }
        } catch {
            reports.finish()
            throw AttemptNotStarted(failure: Failure(
                kind: .agent, message: "Could not start \(invocation.executable): \(error)",
                hint: Hints.fixThenRetry("Check that the agent's command exists and is executable", runId: run.id), stepId: stepId))
        }
        recordAgent(handle, runId: run.id, stepId: stepId, attempt: attempt)
        return LaunchedAttempt(handle: handle, reports: reports, pricing: pricing)
    }

    /// Passes what a launched attempt reports on until its process group is gone; its outcome.
    func follow(_ launched: LaunchedAttempt, runId: String, stepId: String, attempt: Int) async -> AgentOutcome {
        let (handle, reports) = (launched.handle, launched.reports)
        // The thread that reaps the process ends the reports (its last report is sent before): no task
        // waits for the outcome, and the end costs one hop to the actor instead of three.
        handle.whenFinished { _ in reports.finish() }
        // Whatever piled up while the engine was busy comes as one batch: its events are one commit.
        while case let batch = await reports.nextBatch(), !batch.isEmpty {
            agentReported(batch, runId: runId, stepId: stepId, attempt: attempt)
        }
        return await handle.wait()  // known by now
    }

    /// The process for one attempt: the step's driver given the prompt (with re-run context),
    /// environment, working directory and log file; and how its usage is priced.
    func makeInvocation(run: Run, pipeline: LoadedPipeline, stepId: String, attempt: Int,
                        fixerRole: String? = nil, workingDirectory: String? = nil) throws -> (AgentInvocation, UsagePricing) {
        guard let step = pipeline.definition.step(stepId), let index = run.stepIndex(stepId) else {
            throw EngineError.internalError("run \(run.id) has no step '\(stepId)'")
        }
        let config = loadConfig()
        let plans = try checkRunnable(pipelineId: pipeline.id, definition: pipeline.definition, source: pipeline.source, config: config)
        let plan = plans.first { $0.stepId == stepId }
        let history = try history(run.id)
        let agent: AgentSpec?
        switch (fixerRole, step.kind) {
        case (nil, _): agent = plan?.agent?.spec
        case (let role?, .agent): agent = plan?.roleAgents[role]?.spec // a consensus step's answering role or judge
        case (_, .command), (_, .tests): agent = plan?.fixerAgent?.spec
        case (_?, .review): agent = plan?.agent?.spec // a review step's attempts are all its own role's
        }

        var outputs: [String: String] = [:]
        for done in run.steps where done.state == .done { outputs[done.id] = done.output ?? "" }
        var context = Template.Context(
            task: run.task, inputs: run.inputs ?? [:], stepOutputs: outputs,
            // A skipped step has no output: {{previous.output}} is the last one that ran.
            previousOutput: run.steps[..<index].last { $0.state != .skipped }?.output, testsSummary: history.latestTests?.summary)
        let template = fixerRole == nil || step.kind == .agent ? step.prompt ?? "" : fixerPrompt(step: step, loop: history.testsLoops[stepId], run: run)
        let addition = step.kind == .review ? reviewerPromptAddition(run: run, step: step, history: history) : ""
        try addDiff(to: &context, template: template, run: run, history: history)
        if Template.references(in: template).contains(.children) {
            context.children = childrenJSON(run: run, definition: pipeline.definition, before: stepId, history: history)
        }
        let rerun = history.rerunContext(stepId: stepId)
        // A resumed session already holds the task and everything said before: tell it what changed.
        // (A fixer is another agent: it starts its own conversation.) A reviewer resumes its own session
        // too, so a later round remembers the earlier ones; it is always given the whole request, since
        // what it grades is new.
        let resumes = (step.kind == .agent || step.kind == .review) && fixerRole == nil
        let resumeSessionId = resumes ? history.resumableSession(stepId: stepId) : nil
        var request = Template.render(template, context: context)
        if let consensus = step.consensus, ConsensusRules.isJudging(consensus, role: fixerRole, answered: history.consensusRound(stepId)) {
            request = ConsensusRules.judgePrompt(request: request, answers: ConsensusRules.answers(history.consensusRound(stepId)))
        }
        let prompt = resumeSessionId != nil && !rerun.isEmpty && step.kind != .review
            ? rerun.renderedForResume() : request + addition + rerun.rendered()

        let workingDirectory = workingDirectory ?? run.workspace?.path ?? workspacePath
        var environment = options.environment
        environment["DROVER_RUN_ID"] = run.id
        environment["DROVER_STEP_ID"] = stepId
        environment["DROVER_ATTEMPT"] = String(attempt)
        environment["DROVER_ROLE"] = fixerRole ?? step.role ?? ""
        environment["DROVER_WORKSPACE"] = workingDirectory
        environment["DROVER_SOURCE_WORKSPACE"] = workspacePath
        if let model = agent?.model { environment["DROVER_MODEL"] = model }
        if let resumeSessionId { environment["DROVER_RESUME_SESSION"] = resumeSessionId }

        let driver: any AgentDriver
        switch step.kind {
        case .tests where fixerRole != nil:
            guard let agent else { throw EngineError.invalid("step '\(stepId)': its fixer '\(fixerRole ?? "")' has no agent") }
            guard let registered = AgentDrivers.named(agent.driver) else {
                throw EngineError.invalid("step '\(stepId)': unknown driver '\(agent.driver)' for its fixer")
            }
            driver = registered
        case .command, .tests:
            driver = StepCommandDriver()
        case .agent, .review:
            guard let agent else { throw EngineError.invalid("step '\(stepId)' has no agent") }
            guard let registered = AgentDrivers.named(agent.driver) else {
                throw EngineError.invalid("step '\(stepId)': unknown driver '\(agent.driver)'")
            }
            driver = registered
        }
        var attemptContext = AttemptContext(
            runId: run.id, stepId: stepId, attempt: attempt, role: fixerRole ?? step.role, prompt: prompt,
            workingDirectory: workingDirectory, environment: environment, agent: agent, command: step.command,
            resumeSessionId: resumeSessionId,
            timeout: step.timeoutSeconds.map { .milliseconds(Int64(($0 * 1000).rounded())) },
            logFile: try layout.logFile(runId: run.id, stepId: stepId, attempt: attempt),
            selfExecutable: options.selfExecutable)
        attemptContext.toolsAllowedForRun = history.toolsAllowedForRun
        attemptContext.remainingBudgetUSD = run.budget?.maxUSD.map { max(0, $0 - run.usage.costUSD) }
        return (try driver.invocation(for: attemptContext), UsagePricing(agent: agent, configPrices: config.prices))
    }

    /// Something the agent reported while running: log lines go out as `run/log` (with the offset of
    /// their line in the log file), usage is recorded.
    func agentReported(_ report: AgentReport, runId: String, stepId: String, attempt: Int) {
        switch report.event {
        case .log(let stream, let text):
            notify(.log(RunLogNotification(runId: runId, stepId: stepId, attempt: attempt, stream: stream,
                                           text: LiveLogText.forNotification(text), offset: report.logOffset)))
        case .usage(let usage):
            storeUsage([usageRecorded(usage, runId: runId, stepId: stepId, attempt: attempt)], runId: runId)
        case .progress(let fraction, let message):
            // No event type carries progress yet; people still see it, as a log line.
            let percent = fraction.map { "\(Int(($0 * 100).rounded()))%" }
            let text = (["progress", percent, message].compactMap { $0 }).joined(separator: " ")
            notify(.log(RunLogNotification(runId: runId, stepId: stepId, attempt: attempt, stream: .agent, text: text,
                                           offset: report.logOffset)))
        case .session(let sessionId):
            // Recorded once per attempt and session, so the step's next attempt can resume it, also
            // after an engine restart.
            guard (try? history(runId).resumableSession(stepId: stepId)) != sessionId else { return }
            do {
                try commit([.agentSession(.init(stepId: stepId, attempt: attempt, sessionId: sessionId))], runId: runId)
            } catch {
                log("cannot record the agent session of run \(runId) step \(stepId): \(error)")
            }
        case .permission(let request):
            permissionRequested(request, runId: runId, stepId: stepId, attempt: attempt)
        }
    }

    /// Turns an attempt's outcome into events, then lets the run go on. What the store cannot take
    /// now (a full disk) is kept and recorded later (`Engine+StoreStalls`).
    func finishAttempt(_ outcome: AgentOutcome, runId: String, stepId: String, attempt: Int,
                       committed: EventBody.StepCommitted? = nil) {
        forgetAgent(runId: runId, stepId: stepId, attempt: attempt)
        guard let finished = live[runId], finished.stepId == stepId, finished.attempt == attempt else { return }
        live[runId] = nil
        defer { checkIdle() }
        if case .abandoned? = finished.stop { return }  // the lease is lost: nothing more is written
        readingFilesOnce {
            recordFinished(FinishedAttempt(stepId: stepId, attempt: attempt, outcome: outcome, committed: committed, stop: finished.stop),
                           runId: runId)
            // A run that ended frees its slot: the waiting runs are admitted now, once the outcome is
            // recorded, with the files as read for it, rather than in a task of their own.
            admitIfScheduled()
        }
    }

    /// The events of a finished attempt's outcome, from `run` as it was when the attempt ended.
    func recordOutcome(_ finished: FinishedAttempt, run: Run) throws {
        let runId = run.id
        let stepId = finished.stepId
        let attempt = finished.attempt
        let outcome = finished.outcome
        if let stop = finished.stop {
            switch stop {
            case .cancel(let reason):
                if !run.status.isTerminal { try commit([.runCancelled(.init(reason: reason))], runId: runId) }
            case .restart, .shutdown:
                if run.step(stepId)?.state == .working {
                    try commit([.stepInterrupted(.init(stepId: stepId, attempt: attempt))], runId: runId)
                }
            case .budget:
                if run.status == .running { try pauseForBudget(run, interrupting: stepId, attempt: attempt) }
            case .abandoned:
                break
            case .dailyBudget:
                if run.status == .running { try pauseForBudget(run, interrupting: stepId, attempt: attempt, daily: true) }
            }
            return
        }
        guard run.status == .running, run.step(stepId)?.state == .working else { return }
        let definition = try pipeline(for: run).definition.step(stepId)
        let kind = definition?.kind ?? .agent
        if kind == .tests, let definition,
           try finishTestsAttempt(outcome, run: run, step: definition, attempt: attempt) {
            return
        }
        if kind == .review, let definition, case .completed(let output) = outcome {
            try finishReviewAttempt(output, run: run, step: definition, attempt: attempt)
            return
        }
        if let definition, let consensus = definition.consensus,
           try finishConsensusAttempt(outcome, run: run, step: definition, consensus: consensus, attempt: attempt) {
            return
        }
        // An agent that stopped at its budget (the CLI's own budget stop) has not failed: the run pauses.
        if case .failed = outcome, run.budget?.isReached(by: run.usage) == true {
            try pauseForBudget(run, interrupting: stepId, attempt: attempt)
            return
        }
        switch outcome {
        case .completed(let output):
            try completeStep(runId: runId, stepId: stepId, attempt: attempt, output: output, needsApproval: definition?.needsApproval == true)
        case .decision(let question, let choices):
            guard !choices.isEmpty else {
                try failRun(runId: runId, stepId: stepId, attempt: attempt, failure: Failure(
                    kind: .agent, message: "The agent asked \"\(question)\" without any options, so nobody can answer it",
                    hint: Hints.fixThenRetry("Make the agent send options with its decision", runId: runId), stepId: stepId))
                return
            }
            let number = try history(runId).nextDecisionNumber(stepId: stepId)
            try commit([.decisionRequested(.init(
                stepId: stepId, decisionId: Identifiers.decisionID(stepId: stepId, number: number),
                question: question, options: choices))], runId: runId)
        case .failed(let message, let exitCode):
            let text = message.trimmingCharacters(in: .whitespacesAndNewlines)
            let detail = text.isEmpty ? "exited with status \(exitCode.map(String.init) ?? "unknown") and no error output" : text
            let failureKind: Failure.Kind = kind == .tests ? .tests : .agent
            let what = kind == .agent || kind == .review ? "the agent or its config" : "the command"
            try failRun(runId: runId, stepId: stepId, attempt: attempt, failure: Failure(
                kind: failureKind, message: detail,
                hint: Hints.fixThenRetry("See `drover logs \(runId) \(stepId)`; fix \(what)", runId: runId), stepId: stepId))
        case .rateLimited(let retryAt, let message):
            try queueForRateLimit(run, stepId: stepId, retryAt: retryAt, message: message)
        case .timedOut:
            let limit = definition?.timeoutSeconds.map { "\(formatSeconds($0))" } ?? "its time limit"
            try failRun(runId: runId, stepId: stepId, attempt: attempt, failure: Failure(
                kind: .timeout, message: "Step '\(stepId)' (attempt \(attempt)) did not finish within \(limit) and was killed",
                hint: Hints.fixThenRetry(
                    "Raise 'timeoutSeconds' of step '\(stepId)' in pipeline '\(run.pipelineId)' or see `drover logs \(runId) \(stepId)`",
                    runId: runId),
                stepId: stepId))
        case .terminated:
            try failRun(runId: runId, stepId: stepId, attempt: attempt, failure: Failure(
                kind: .interrupted, message: "Step '\(stepId)' (attempt \(attempt)) was stopped from outside drover",
                hint: "Run \(Hints.retry(runId)) to re-run the step", stepId: stepId))
        }
    }

    /// A step's output is in: it waits for approval if the step asks for one, else the step is done and the run goes on.
    /// A fan-out step starts its children instead (`Engine+FanOut`).
    func completeStep(runId: String, stepId: String, attempt: Int, output: String, needsApproval: Bool) throws {
        // A reviewed step's approval waits for its review (`Engine+Review`), so the person sees both.
        let definition = try pipeline(for: loadRun(runId)).definition
        if let step = definition.step(stepId), let fanOut = step.fanOut {
            try beginFanOut(runId: runId, step: step, fanOut: fanOut, attempt: attempt, output: output)
        } else if needsApproval, definition.reviewer(of: stepId) == nil {
            let number = try history(runId).nextApprovalNumber(stepId: stepId)
            try commit([.approvalRequested(.init(
                stepId: stepId, approvalId: Identifiers.approvalID(stepId: stepId, number: number), proposal: output))],
                       runId: runId)
        } else {
            let done = EventBody.stepCompleted(.init(stepId: stepId, attempt: attempt, output: output))
            if try endsRun(loadRun(runId), completing: done) {
                // The last step: the run ends in the same commit, as `advance` would have ended it next.
                pushedRuns.remove(runId)
                try commit([done, .runCompleted], runId: runId)
                return
            }
            let completed = try commit([done], runId: runId)
            if try !pauseIfOverBudget(completed) { scheduleAdvance(runId) }
        }
    }

    /// Whether `run` is done once `completion` is recorded: its next action is then `completeRun`,
    /// with no budget pause due and no push to make first (those go through `advance` as before).
    private func endsRun(_ run: Run, completing completion: EventBody) throws -> Bool {
        let after = try RunReducer.apply(Event(runId: run.id, seq: run.lastSeq + 1, at: "", body: completion), to: run)
        guard case .completeRun = NextAction.of(after), remoteToPush(after) == nil else { return false }
        return try budgetPause(after) == nil
    }

    // MARK: Agents left behind by a dead engine

    /// Writes which process runs the attempt (see `AgentProcessRecord`), so that if this engine dies
    /// the next one can kill it before re-running the step. A failure to write is logged, not fatal:
    /// the attempt runs as it would have before records existed.
    func recordAgent(_ handle: any AgentHandle, runId: String, stepId: String, attempt: Int) {
        guard let record = AgentProcessRecord.ofChild(handle.pid) else { return }
        do {
            try agentRecords.add(record, for: .init(runId: runId, stepId: stepId, attempt: attempt))
        } catch {
            log("cannot record the agent of run \(runId) step \(stepId) (attempt \(attempt), pid \(record.pid)): \(error)")
        }
    }

    /// Clears the attempt's record once its process has been reaped.
    func forgetAgent(runId: String, stepId: String, attempt: Int) {
        do {
            try agentRecords.remove(.init(runId: runId, stepId: stepId, attempt: attempt))
        } catch {
            log("cannot clear the agent record of run \(runId) step \(stepId) (attempt \(attempt)): \(error)")
        }
    }

    /// Kills what is left of an attempt whose engine died mid-step, then clears its record. The record
    /// names the process group; the run's processes are also looked for by their environment, since an
    /// engine killed between the spawn and the record's write left none. Waits up to `killGrace` after
    /// SIGTERM, then SIGKILLs.
    func reapOrphanedAgent(runId: String, stepId: String, attempt: Int) async {
        let legacyPath: String
        do {
            legacyPath = try layout.agentRecordFile(runId: runId, stepId: stepId, attempt: attempt).path
        } catch {
            log("cannot look for an agent left behind by run \(runId): \(error)")
            return
        }
        var records = agentRecords.entries(for: .init(runId: runId, stepId: stepId, attempt: attempt))
        if let legacy = AgentProcessRecord.read(from: legacyPath) { records.append(legacy) }  // written by an older build
        if let recorded = records.first(where: { !$0.isOnThisHost }) {
            // Its pid names a process on another host: never signal it or drop that host's record.
            log("left the agent of run \(runId) step \(stepId) (attempt \(attempt)) alone: it runs on host \(recorded.hostId)")
            return
        }
        for found in AgentProcessRecord.carrying(runId: runId, workspace: options.workspace.path)
        where !records.contains(where: { $0.pid == found.pid }) {
            records.append(found)
        }
        for record in records {
            let what = "the agent of run \(runId) step \(stepId) (attempt \(attempt), process group \(record.pid)) left behind by a previous engine"
            switch await record.reap(runId: runId, grace: options.killGrace) {
            case .nothing:
                break
            case .terminated(let pids):
                log("stopped \(what) with SIGTERM (pids \(pids.map(String.init).joined(separator: " ")))")
            case .killed(let pids, let left):
                log("killed \(what) with SIGKILL after \(options.killGrace) (pids \(pids.map(String.init).joined(separator: " ")))"
                    + (left.isEmpty ? "" : "; still alive: \(left.map(String.init).joined(separator: " "))"))
            }
        }
        forgetAgent(runId: runId, stepId: stepId, attempt: attempt)
        do {
            try AgentProcessRecord.remove(legacyPath)
        } catch {
            log("cannot remove the agent record \(legacyPath): \(error)")
        }
    }

    /// `reapOrphanedAgent` for the attempts of `stepId` a dead engine may have left running: its last one,
    /// and for a consensus step every candidate of the round (they ran at once).
    func reapOrphanedStep(_ run: Run, stepId: String, attempts: Int) async {
        let candidates = (try? pipeline(for: run).definition.step(stepId)?.consensus?.agents.count) ?? nil
        for attempt in max(1, attempts - (candidates ?? 1) + 1)...max(1, attempts) {
            await reapOrphanedAgent(runId: run.id, stepId: stepId, attempt: attempt)
        }
    }

    /// Appends `step.failed` (when a step is named) and `run.failed` in one commit.
    func failRun(runId: String, stepId: String?, attempt: Int, failure: Failure) throws {
        var bodies: [EventBody] = []
        if let stepId { bodies.append(.stepFailed(.init(stepId: stepId, attempt: attempt, failure: failure))) }
        bodies.append(.runFailed(.init(failure: failure)))
        try commit(bodies, runId: runId)
    }

    /// Fails the run because a helper role of a step (a tests step's fixer, a consensus answerer or judge)
    /// failed: `who` names it and its step in the message, `fix` starts the hint.
    func failRun(runId: String, stepId: String, attempt: Int, roleFailed who: String, message: String, fix: String) throws {
        try failRun(runId: runId, stepId: stepId, attempt: attempt, failure: Failure(
            kind: .agent, message: "\(who) failed: \(message.trimmingCharacters(in: .whitespacesAndNewlines))",
            hint: Hints.fixThenRetry("See `drover logs \(runId) \(stepId)`; \(fix)", runId: runId),
            stepId: stepId))
    }

    private func formatSeconds(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(seconds)s"
    }
}
