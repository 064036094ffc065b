import DroverEngine
import DroverProtocol
import DroverServer
import DroverStore
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a run's gates get answered.
enum GateMode {
    /// The person at the terminal answers.
    case interactive
    /// First option, approve; `reason` says why (shown once).
    case automatic(reason: String)
    /// Nobody can answer (stdin is not a terminal and no `--yes`): stop at the first gate, leaving it open.
    case unanswerable

    /// The mode of a command that follows a run (`run`, `attach`, `retry`, `restart`): `--yes`
    /// answers automatically, else the person at a terminal does, else nobody can.
    static func from(_ arguments: ParsedArguments, terminal: Terminal) -> GateMode {
        if arguments.has("--yes") { return .automatic(reason: "--yes was given") }
        return terminal.stdinIsTerminal ? .interactive : .unanswerable
    }

    /// The `--yes` option of those commands.
    static let yesOption = OptionSpec(name: "--yes", value: nil, help: "answer gates automatically: the first option, approve")
}

/// A gate a run waits on, from its `*.requested` event or, when attaching, from its snapshot.
enum OpenGate {
    case decision(stepId: String, decisionId: String, options: [String])
    case approval(stepId: String, approvalId: String, proposal: String)

    var id: String {
        switch self {
        case .decision(_, let id, _), .approval(_, let id, _): id
        }
    }

    /// The gate a requested event opens, if it is one.
    init?(_ body: EventBody) {
        switch body {
        case .decisionRequested(let data):
            self = .decision(stepId: data.stepId, decisionId: data.decisionId, options: data.options)
        case .approvalRequested(let data):
            self = .approval(stepId: data.stepId, approvalId: data.approvalId, proposal: data.proposal)
        default:
            return nil
        }
    }

    /// The gates a run waits on now, by the rule `inbox/list` applies.
    static func open(in run: Run) -> [OpenGate] {
        RunQueries.openGates(of: run, history: nil).compactMap { item in
            switch item.kind {
            case .decision: .decision(stepId: item.stepId, decisionId: item.id, options: item.options ?? [])
            case .approval: .approval(stepId: item.stepId, approvalId: item.id, proposal: item.proposal ?? "")
            case .children: nil // not a gate: openGates lists none
            }
        }
    }
}

/// Follows one run to its end through the workspace's engine — the one session loop of `drover run`,
/// `demo`, `attach`, `retry` and `restart`: attaches to the engine (starting it if none runs), starts
/// or picks up the run, renders it live, answers its gates, and cancels it cleanly on Ctrl-C. The
/// run belongs to the engine: if this process goes away, it goes on.
struct RunSession {
    /// How the session gets its run.
    enum Start {
        /// `run/start` a new run.
        case new(pipelineId: String, task: String, inputs: [String: String]?)
        /// Follow an existing run: print its state, resume it if its engine died, answer its open gates.
        case attach(runId: String)
        /// `run/retry` a failed or cancelled run, then follow it.
        case retry(runId: String)
        /// `run/restart` a run from a step, then follow it.
        case restart(runId: String, fromStep: String)
        /// `run/resume` a paused run (raising its budget when given), then follow it.
        case resume(runId: String, budget: RunBudget?)
    }

    var workspace: URL
    /// Where the runs are kept (`--store`).
    var store: StoreChoice
    var start: Start
    var gates: GateMode
    var terminal: Terminal

    /// Runs to the end, or until it pauses at a budget; the result is the exit code (0 done, 1 failed,
    /// stopped or paused, 130 Ctrl-C).
    func run() async throws -> Int32 {
        if case .new = start {} else { try Self.checkHasRuns(workspace, store: store) }
        let client = try await EngineClient.attach(workspace: workspace, engineEnvironment: store.engineEnvironment)
        let code = try await drive(client)
        client.detach()
        return code
    }

    /// A run id names nothing in a workspace where nothing has run: say so without creating `.drover/` there.
    static func checkHasRuns(_ workspace: URL, store: StoreChoice) throws {
        guard store.mayHaveRuns(workspace) else {
            throw CLIError("nothing has run in \(workspace.path) yet (use --workspace to look elsewhere)")
        }
    }

    private func drive(_ engine: EngineClient) async throws -> Int32 {
        // The client hears every event from `initialize` on, so every event the action causes is in the stream.
        let stream = engine.outputs
        // Installed before the run starts, so a Ctrl-C in between still cancels it cleanly.
        let interrupt = InterruptHandler(engine: engine, terminal: terminal)
        defer { interrupt.uninstall() }
        let renderer = RunRenderer(terminal: terminal)

        let run: Run
        var gatesOpen: [OpenGate] = []
        switch start {
        case .new(let pipelineId, let task, let inputs):
            run = try await engine.call(RunStartRequest(pipelineId: pipelineId, task: task, inputs: inputs)).run
            interrupt.track(run.id)
            renderer.header(run: run, workspace: workspace)
        case .attach(let runId):
            // (A run whose engine died mid-step was picked up by the engine this client started.)
            let current = try await engine.call(RunGetRequest(runId: runId)).run
            StatusCommand.print(run: current, terminal: terminal, showOutput: false)
            if current.status.isTerminal { return current.status == .done ? 0 : 1 }
            if current.status == .paused {
                // Nothing happens until someone resumes it.
                Console.line(terminal.dim("  paused at a budget: `drover resume \(runId) --budget USD` goes on"))
                return 1
            }
            interrupt.track(runId)
            renderer.follow(run: current)
            run = current
            gatesOpen = OpenGate.open(in: run)
        case .retry(let runId):
            run = try await engine.call(RunRetryRequest(runId: runId)).run
            interrupt.track(run.id)
            renderer.header(run: run, workspace: workspace)
        case .restart(let runId, let fromStep):
            run = try await engine.call(RunRestartRequest(runId: runId, fromStep: fromStep)).run
            interrupt.track(run.id)
            renderer.header(run: run, workspace: workspace)
        case .resume(let runId, let budget):
            run = try await engine.call(RunResumeRequest(runId: runId, budget: budget)).run
            interrupt.track(run.id)
            renderer.header(run: run, workspace: workspace)
        }
        if case .automatic(let reason) = gates {
            Console.line(terminal.dim("  gates are answered automatically (first option, approve): \(reason)"))
        }
        let prompter = GatePrompter(terminal: terminal)
        var answered: Set<String> = []

        for gate in gatesOpen {
            renderer.pending(gate)
            answered.insert(gate.id)
            if let stop = try await answer(gate, runId: run.id, engine: engine, prompter: prompter) { return stop }
        }
        // Attaching, events up to the snapshot were shown with it; the events a new, retried or
        // restarted run's request caused (`run.retried from …`) are shown as they arrive.
        let shownUpTo: Int
        if case .attach = start { shownUpTo = run.lastSeq } else { shownUpTo = 0 }
        for await output in stream {
            guard output.runId == run.id else { continue }
            if case .event(let event) = output, event.seq <= shownUpTo { continue }
            renderer.render(output)
            guard case .event(let event) = output else { continue }
            if let gate = OpenGate(event.body), answered.insert(gate.id).inserted {
                if let stop = try await answer(gate, runId: run.id, engine: engine, prompter: prompter) { return stop }
            }
            switch event.body {
            case .runPaused:
                // Nothing happens until someone resumes it; the line just shown says how.
                return 1
            case .runCompleted, .runFailed, .runCancelled:
                let final = try await engine.call(RunGetRequest(runId: run.id)).run
                if interrupt.fired { ProcessExit.exit(130) { renderer.finish(run: final) } }
                renderer.finish(run: final)
                return final.status == .done ? 0 : 1
            default:
                break
            }
        }
        Console.error("the engine ended the session before run \(run.id) ended; it goes on when an engine runs: `drover attach \(run.id)` follows it")
        return 1
    }

    /// Answers `gate` as `gates` says; nil to go on following the run, else the exit code to stop with.
    /// A gate someone else answered meanwhile (another window) is left as they answered it.
    private func answer(_ gate: OpenGate, runId: String, engine: EngineClient, prompter: GatePrompter) async throws -> Int32? {
        do {
            return try await ask(gate, runId: runId, engine: engine, prompter: prompter)
        } catch let error as ResponseError where error.code == .conflict {
            Console.line(terminal.dim("    (answered elsewhere: \(error.message))"))
            return nil
        }
    }

    private func ask(_ gate: OpenGate, runId: String, engine: EngineClient, prompter: GatePrompter) async throws -> Int32? {
        switch gate {
        case .decision(let stepId, let decisionId, let options):
            let choice: String
            switch gates {
            case .automatic:
                choice = options[0]
                Console.line(terminal.dim("    (auto) choosing option 1"))
            case .interactive:
                guard let answer = await prompter.askDecision(options: options) else {
                    return stopAtGate(runId, "a decision at step '\(stepId)'", why: "stdin closed")
                }
                choice = answer
            case .unanswerable:
                return stopAtGate(runId, "a decision at step '\(stepId)'", why: "stdin is not a terminal")
            }
            _ = try await engine.call(DecisionResolveRequest(runId: runId, decisionId: decisionId, choice: choice))
        case .approval(let stepId, let approvalId, let proposal):
            let answer: ApprovalAnswer
            switch gates {
            case .automatic:
                answer = .approve(proposal: nil)
                Console.line(terminal.dim("    (auto) approving"))
            case .interactive:
                guard let given = await prompter.askApproval(proposal: proposal) else {
                    return stopAtGate(runId, "an approval at step '\(stepId)'", why: "stdin closed")
                }
                answer = given
            case .unanswerable:
                return stopAtGate(runId, "an approval at step '\(stepId)'", why: "stdin is not a terminal")
            }
            switch answer {
            case .approve(let edited):
                _ = try await engine.call(StepApproveRequest(runId: runId, approvalId: approvalId, proposal: edited))
            case .requestChanges(let feedback):
                _ = try await engine.call(StepRequestChangesRequest(runId: runId, approvalId: approvalId, feedback: feedback))
            case .reject(let reason):
                _ = try await engine.call(StepRejectRequest(runId: runId, approvalId: approvalId, reason: reason))
            }
        }
        return nil
    }

    /// Leaves the run waiting at its gate (gates are durable) and says how to go on.
    private func stopAtGate(_ runId: String, _ gate: String, why: String) -> Int32 {
        Console.line("")
        Console.error("run \(runId) waits for \(gate), but \(why), so nobody can answer it here. "
            + "Answer it with `drover attach \(runId)` at a terminal (or --yes to answer automatically), or from an editor (drover serve).")
        return 1
    }
}

extension EngineOutput {
    /// The run this output belongs to.
    var runId: String {
        switch self {
        case .event(let event): event.runId
        case .log(let log): log.runId
        }
    }
}

/// Ctrl-C while a run is live: cancel it through the engine (its agent's process group is
/// killed), wait for that, then exit 130. SIGTERM or SIGHUP (a closed terminal): leave the run to
/// the engine, which goes on with it (`drover attach` follows it again); exit 128 + the signal.
final class InterruptHandler: Sendable {
    private struct State {
        var fired = false
        var runId: String?
        var cancelling = false
        var stopping = false
        var sources: [DispatchSourceSignal] = []
    }
    private let state = Mutex(State())
    private let engine: EngineClient
    private let terminal: Terminal

    init(engine: EngineClient, terminal: Terminal) {
        self.engine = engine
        self.terminal = terminal
        let handlers: [(Int32, @Sendable (InterruptHandler) -> Void)] = [
            (SIGINT, { $0.interrupted() }), (SIGTERM, { $0.stop(signal: SIGTERM) }), (SIGHUP, { $0.stop(signal: SIGHUP) }),
        ]
        state.withLock { state in
            for (number, handle) in handlers {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { [weak self] in if let self { handle(self) } }
                source.resume()
                state.sources.append(source)
            }
        }
    }

    /// The run to cancel on Ctrl-C; cancels it at once if Ctrl-C came while it was starting.
    func track(_ runId: String) {
        let cancelNow = state.withLock { state in
            state.runId = runId
            return state.fired
        }
        if cancelNow { cancel(runId) }
    }

    /// Whether Ctrl-C was pressed.
    var fired: Bool { state.withLock { $0.fired } }

    /// Restores the default actions of the signals it handles.
    func uninstall() {
        state.withLock { state in
            state.sources.forEach { $0.cancel() }
            state.sources.removeAll()
        }
        for number in [SIGINT, SIGTERM, SIGHUP] { signal(number, SIG_DFL) }
    }

    /// SIGTERM or SIGHUP: stop following; the engine goes on with the run. Exit 128 + signal.
    private func stop(signal number: Int32) {
        let (first, runId) = state.withLock { state in
            defer { state.stopping = true }
            return (!state.stopping, state.runId)
        }
        guard first else { return }
        let name = number == SIGHUP ? "SIGHUP" : "SIGTERM"
        ProcessExit.exit(128 + number) {
            let follow = runId.map { " Run \($0) goes on in the workspace's engine; `drover attach \($0)` follows it." } ?? ""
            Console.line("\(terminal.dim("Stopped following (\(name)).\(follow)"))")
        }
    }

    private func interrupted() {
        let (first, runId) = state.withLock { state in
            defer { state.fired = true }
            return (!state.fired, state.runId)
        }
        guard first else {
            Console.line("  still stopping the agent\(runId.map { " of run \($0)" } ?? "")…")
            return
        }
        Console.line("")
        if let runId { cancel(runId) } // else `track` cancels it as soon as it has started
    }

    private func cancel(_ runId: String) {
        let already = state.withLock { state in
            defer { state.cancelling = true }
            return state.cancelling
        }
        guard !already else { return }
        Console.line("\(terminal.failed) Ctrl-C: cancelling run \(runId) and stopping its agent…")
        let engine = engine
        let terminal = terminal
        Task {
            _ = try? await engine.call(RunCancelRequest(runId: runId, reason: "cancelled with Ctrl-C"))
            ProcessExit.exit(130) {
                Console.line("\(terminal.failed) " + terminal.bold("Run \(runId) cancelled") + terminal.dim(" (cancelled with Ctrl-C)"))
            }
        }
    }
}

/// Exits the process exactly once, even when the main flow and a signal handler finish together.
enum ProcessExit {
    private static let lock = Mutex(false)

    /// Runs `farewell` (last lines) and exits with `code`, unless another caller got here first.
    static func exit(_ code: Int32, farewell: () -> Void = {}) -> Never {
        let first = lock.withLock { exiting in
            defer { exiting = true }
            return !exiting
        }
        if !first {
            // Someone else is already exiting; wait for the process to end.
            while true { pause() }
        }
        farewell()
        Foundation.exit(code)
    }
}
