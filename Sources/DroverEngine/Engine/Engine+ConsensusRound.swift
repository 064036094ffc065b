import DroverProtocol
import Foundation

/// A consensus step's round: every listed role answers the step's prompt at once, each as an attempt of
/// its own (`step.started` with its `role`, numbered in the order the roles are listed; its own log,
/// usage and process group). In a run with a worktree each candidate works in a worktree of its own,
/// branched from the run's (`CandidateWorktrees`), and its change is committed there.
///
/// The round is the run's one live entry: its handle (`AttemptGroup`) stops every candidate at once on
/// cancel, restart, budget or shutdown, and a stopped round is recorded as one stopped attempt (the step
/// is interrupted, so it re-runs as a fresh round: `RunHistory` forgets an interrupted round's answers).
/// Each candidate that ends is a `consensus.candidate`, with `failure` when it gave no answer (it failed,
/// timed out, asked a question or hit a rate limit: a candidate cannot stop the round for a person or a
/// wait). Once all have ended, `Engine+Consensus` decides.
///
/// Scheduling: a run holds one slot of `concurrency.maxRuns` whatever its step runs, and a round's
/// candidates run inside that slot — at most as many processes as the step lists roles.
extension Engine {
    /// Records `step.started` for every candidate and starts the round in a child task.
    func startConsensusRound(run: Run, pipeline: LoadedPipeline, stepId: String, consensus: ConsensusSpec, attempt: Int) throws {
        let attempts = Array(attempt..<(attempt + consensus.agents.count))
        let roles = Dictionary(uniqueKeysWithValues: zip(attempts, consensus.agents))
        let started = try commit(attempts.map { .stepStarted(.init(stepId: stepId, attempt: $0, role: roles[$0])) }, runId: run.id)
        if pipeline.definition.step(stepId)?.fanOut != nil, let tooDeep = fanOutStartFailure(run: started, stepId: stepId) {
            return try failRun(runId: run.id, stepId: stepId, attempt: attempts.last ?? attempt, failure: tooDeep)
        }
        let group = AttemptGroup()
        let runId = run.id
        live[runId] = LiveAttempt(stepId: stepId, attempt: attempt + consensus.agents.count - 1, handle: group, task: nil, stop: nil,
                                  candidates: [:])
        live[runId]?.task = Task {
            await self.runRound(run: started, pipeline: pipeline, stepId: stepId, consensus: consensus, roles: roles, group: group)
        }
    }

    /// Makes the candidates' worktrees, launches them, records each answer as it comes, then decides.
    private func runRound(run: Run, pipeline: LoadedPipeline, stepId: String, consensus: ConsensusSpec,
                          roles: [Int: String], group: AttemptGroup) async {
        let runId = run.id
        let attempts = roles.keys.sorted()
        var folders: [Int: String] = [:]
        var notStarted: [Int: Failure] = [:]
        if let workspace = run.workspace, workspace.isolation == .worktree, workspace.removed != true {
            let candidates = candidateWorktrees(runId)
            let hooks = worktrees.hooksDirectory
            let message = "drover: run \(runId), changes left before consensus step \(stepId)"
            do {
                folders = try await Self.offActor {
                    candidates.removeAll() // what an interrupted round left behind
                    return try candidates.create(from: workspace.path, stepId: stepId, attempts: attempts, hooksDirectory: hooks,
                                                 uncommittedMessage: message)
                }
            } catch {
                let message = (error as? EngineError)?.message ?? "\(error)"
                for attempt in attempts {
                    notStarted[attempt] = Failure(kind: .agent, message: "could not make its worktree: \(message)",
                                                  hint: Hints.fixThenRetry("Fix what the message names", runId: runId), stepId: stepId)
                }
            }
        }
        var launched: [(attempt: Int, launched: LaunchedAttempt)] = []
        if live[runId]?.stop == nil {
            for attempt in attempts where notStarted[attempt] == nil {
                do {
                    let one = try launchAttempt(run: run, pipeline: pipeline, stepId: stepId, attempt: attempt, role: roles[attempt],
                                                workingDirectory: folders[attempt])
                    live[runId]?.candidates?[attempt] = one.pricing
                    group.add(one.handle)
                    launched.append((attempt, one))
                } catch {
                    notStarted[attempt] = (error as? AttemptNotStarted)?.failure
                        ?? Failure(kind: .agent, message: "\(error)", hint: Hints.fixThenRetry("Fix the role's agent", runId: runId), stepId: stepId)
                }
            }
            for (attempt, failure) in notStarted.sorted(by: { $0.key < $1.key }) {
                candidateEnded(runId: runId, stepId: stepId, attempt: attempt, role: roles[attempt] ?? "", answer: .none(failure), commit: nil)
            }
        }
        await withTaskGroup(of: Void.self) { tasks in
            for (attempt, one) in launched {
                let role = roles[attempt] ?? ""
                let folder = folders[attempt]
                tasks.addTask {
                    let outcome = await self.follow(one, runId: runId, stepId: stepId, attempt: attempt)
                    let commit = await self.commitCandidate(in: folder, runId: runId, stepId: stepId, attempt: attempt, role: role)
                    if case .rateLimited(let retryAt, let said) = outcome { await self.candidateRateLimited(runId: runId, retryAt: retryAt, said: said) }
                    await self.candidateEnded(runId: runId, stepId: stepId, attempt: attempt, role: role,
                                              answer: Self.answer(of: outcome, stepId: stepId, runId: runId), commit: commit)
                }
            }
        }
        guard stillDeciding(runId: runId, stepId: stepId, keepingRound: true) else {
            await removeCandidateWorktrees(runId)
            endRound(runId: runId, stepId: stepId)
            return
        }
        await decideRound(runId: runId, stepId: stepId, consensus: consensus, attempt: attempts.last ?? 1)
    }

    /// Records what one candidate gave: `consensus.candidate`, with `failure` when it gave no answer.
    /// Nothing is recorded once the round is being stopped: the whole round is interrupted then.
    private func candidateEnded(runId: String, stepId: String, attempt: Int, role: String, answer: CandidateAnswer,
                                commit: String?) {
        forgetAgent(runId: runId, stepId: stepId, attempt: attempt)
        guard let round = live[runId], round.candidates != nil, round.stop == nil else { return }
        let candidate: EventBody.ConsensusCandidate
        switch answer {
        case .answered(let output):
            candidate = .init(stepId: stepId, attempt: attempt, role: role, output: output, commit: commit)
        case .none(let failure):
            candidate = .init(stepId: stepId, attempt: attempt, role: role, output: "", failure: failure)
        }
        do {
            try self.commit([.consensusCandidate(candidate)], runId: runId)
        } catch {
            log("cannot record candidate '\(role)' of run \(runId) step \(stepId) (attempt \(attempt)): \(error)")
        }
    }

    /// What a candidate gave: an answer, or why it gave none.
    enum CandidateAnswer {
        case answered(String)
        case none(Failure)
    }

    /// Keeps the latest time a rate-limited candidate may try again: if the round cannot decide without
    /// it, the step waits for then (`decideRound`) instead of failing.
    private func candidateRateLimited(runId: String, retryAt: Date?, said: String) {
        guard var round = live[runId], round.candidates != nil else { return }
        let latest = [round.rateLimit?.retryAt, retryAt].compactMap { $0 }.max()
        round.rateLimit = (latest, said)
        live[runId] = round
    }

    /// A candidate's outcome as an answer, or as why it gave none.
    static func answer(of outcome: AgentOutcome, stepId: String, runId: String) -> CandidateAnswer {
        let message: String
        var kind = Failure.Kind.agent
        switch outcome {
        case .completed(let output):
            return .answered(output)
        case .failed(let text, let exitCode):
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            message = trimmed.isEmpty ? "exited with status \(exitCode.map(String.init) ?? "unknown") and no error output" : trimmed
        case .timedOut:
            kind = .timeout
            message = "did not finish within the step's timeoutSeconds and was killed"
        case .decision(let question, _):
            message = "asked \"\(question)\"; a consensus candidate cannot stop the round for a person, so it gave no answer"
        case .rateLimited(_, let said):
            message = "was rate limited (\(said.trimmingCharacters(in: .whitespacesAndNewlines))); it gave no answer this round"
        case .terminated:
            kind = .interrupted
            message = "was stopped from outside drover"
        }
        return .none(Failure(kind: kind, message: message,
                                hint: Hints.fixThenRetry("See `drover logs \(runId) \(stepId)`; fix the role's agent or config", runId: runId),
                                stepId: stepId))
    }

    /// Commits what a candidate changed in its own worktree; nil when it has none or changed nothing.
    private nonisolated func commitCandidate(in folder: String?, runId: String, stepId: String, attempt: Int, role: String) async -> String? {
        guard let folder else { return nil }
        let worktrees = self.worktrees
        let message = "drover: run \(runId), step \(stepId), attempt \(attempt) (\(role))"
        do {
            return try await Self.offActor { try worktrees.commitAll(in: folder, message: message)?.sha }
        } catch {
            log("cannot commit the changes of candidate '\(role)' of run \(runId) step \(stepId) (attempt \(attempt)): \(error)")
            return nil
        }
    }

    // MARK: Holding the run while git works

    /// Whether the consensus step may still be decided, after work off the actor. The run's round entry
    /// (if any) is ended here unless `keepingRound`: a stopped one is recorded as the round's stop. Without
    /// an entry, the run must still be running the step.
    func stillDeciding(runId: String, stepId: String, keepingRound: Bool = false) -> Bool {
        guard let round = live[runId], round.candidates != nil, round.stepId == stepId else {
            guard let run = try? loadRun(runId) else { return false }
            return run.status == .running && run.step(stepId)?.state == .working
        }
        if round.stop != nil { return false }
        if !keepingRound { endRound(runId: runId, stepId: stepId) }
        return true
    }

    /// Ends the run's round entry; a stopped round is recorded as one stopped attempt (`recordOutcome`).
    func endRound(runId: String, stepId: String) {
        guard let round = live[runId], round.candidates != nil, round.stepId == stepId else { return }
        live[runId] = nil
        defer { checkIdle() }
        guard let stop = round.stop else { return }
        if case .abandoned = stop { return } // the lease is lost: nothing more is written
        recordFinished(FinishedAttempt(stepId: stepId, attempt: round.attempt, outcome: .terminated, committed: nil, stop: stop), runId: runId)
    }

    /// Holds the run with a round entry (so cancel and restart wait for it, and the engine is not idle)
    /// while `work` decides the step off the actor.
    func holdRun(_ runId: String, stepId: String, attempt: Int, while work: @escaping @Sendable () async -> Void) {
        live[runId] = LiveAttempt(stepId: stepId, attempt: attempt, handle: AttemptGroup(), task: nil, stop: nil, candidates: [:])
        live[runId]?.task = Task {
            await work()
            self.endRound(runId: runId, stepId: stepId) // should `work` have left it
        }
    }

    // MARK: Candidate worktrees

    nonisolated func candidateWorktrees(_ runId: String) -> CandidateWorktrees {
        CandidateWorktrees(workspace: options.workspace, environment: options.environment, runId: runId)
    }

    /// Removes the run's candidate worktrees and branches, if any are left.
    nonisolated func removeCandidateWorktrees(_ runId: String) async {
        let candidates = candidateWorktrees(runId)
        guard candidates.anyLeft else { return }
        _ = try? await Self.offActor { candidates.removeAll() }
    }

    /// After a commit: a run that ended with candidate worktrees still on disk (cancelled while its judge
    /// ran, say) has them removed.
    func candidatesOutlived(_ run: Run) {
        guard run.status.isTerminal, run.workspace?.isolation == .worktree, candidateWorktrees(run.id).anyLeft else { return }
        scheduledAdvances += 1
        Task {
            await self.removeCandidateWorktrees(run.id)
            self.scheduledAdvances -= 1
            self.checkIdle()
        }
    }
}
