import DroverEngine
import DroverProtocol
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
}

/// Drives one run to its end through the engine, as `drover run` and `drover demo` do: opens the
/// workspace with `EngineHost` (the one way to drive a store), renders the run live, answers its
/// gates, and cancels it cleanly on Ctrl-C.
struct RunSession {
    var workspace: URL
    var pipelineId: String
    var task: String
    var inputs: [String: String]?
    var gates: GateMode
    var terminal: Terminal

    /// Runs to the end; the result is the exit code (0 done, 1 failed or stopped, 130 Ctrl-C).
    func run() async throws -> Int32 {
        let host = try EngineHost.open(workspace: workspace)
        let code = try await drive(host.engine)
        withExtendedLifetime(host) {} // the driving lock is held until here
        return code
    }

    private func drive(_ engine: Engine) async throws -> Int32 {
        // Listen before starting, so run.created and everything after it is in the stream.
        let (stream, continuation) = AsyncStream<EngineOutput>.makeStream()
        _ = await engine.addListener { continuation.yield($0) }
        // Installed before the run starts, so a Ctrl-C in between still cancels it cleanly.
        let interrupt = InterruptHandler(engine: engine, terminal: terminal)
        defer { interrupt.uninstall() }
        let run = try await engine.startRun(RunStartRequest(pipelineId: pipelineId, task: task, inputs: inputs))
        interrupt.track(run.id)

        let renderer = RunRenderer(terminal: terminal)
        renderer.header(run: run, workspace: workspace)
        if case .automatic(let reason) = gates {
            Console.line(terminal.dim("  gates are answered automatically (first option, approve): \(reason)"))
        }
        let prompter = GatePrompter(terminal: terminal)

        for await output in stream {
            guard output.runId == run.id else { continue }
            renderer.render(output)
            guard case .event(let event) = output else { continue }
            switch event.body {
            case .decisionRequested(let data):
                let choice: String
                switch gates {
                case .automatic:
                    choice = data.options[0]
                    Console.line(terminal.dim("    (auto) choosing option 1"))
                case .interactive:
                    guard let answer = await prompter.askDecision(options: data.options) else {
                        return stopAtGate(run.id, "a decision at step '\(data.stepId)'", why: "stdin closed")
                    }
                    choice = answer
                case .unanswerable:
                    return stopAtGate(run.id, "a decision at step '\(data.stepId)'", why: "stdin is not a terminal")
                }
                _ = try await engine.resolveDecision(DecisionResolveRequest(runId: run.id, decisionId: data.decisionId, choice: choice))
            case .approvalRequested(let data):
                let answer: ApprovalAnswer
                switch gates {
                case .automatic:
                    answer = .approve(proposal: nil)
                    Console.line(terminal.dim("    (auto) approving"))
                case .interactive:
                    guard let given = await prompter.askApproval(proposal: data.proposal) else {
                        return stopAtGate(run.id, "an approval at step '\(data.stepId)'", why: "stdin closed")
                    }
                    answer = given
                case .unanswerable:
                    return stopAtGate(run.id, "an approval at step '\(data.stepId)'", why: "stdin is not a terminal")
                }
                switch answer {
                case .approve(let proposal):
                    _ = try await engine.approve(StepApproveRequest(runId: run.id, approvalId: data.approvalId, proposal: proposal))
                case .requestChanges(let feedback):
                    _ = try await engine.requestChanges(StepRequestChangesRequest(runId: run.id, approvalId: data.approvalId, feedback: feedback))
                case .reject(let reason):
                    _ = try await engine.reject(StepRejectRequest(runId: run.id, approvalId: data.approvalId, reason: reason))
                }
            case .runCompleted, .runFailed, .runCancelled:
                await engine.waitUntilIdle()
                let final = try await engine.getRun(run.id)
                if interrupt.fired { ProcessExit.exit(130) { renderer.finish(run: final) } }
                renderer.finish(run: final)
                return final.status == .done ? 0 : 1
            default:
                break
            }
        }
        return 1
    }

    /// Leaves the run waiting at its gate (gates are durable) and says how to go on.
    private func stopAtGate(_ runId: String, _ gate: String, why: String) -> Int32 {
        Console.line("")
        Console.error("run \(runId) waits for \(gate), but \(why), so nobody can answer it here. "
            + "Run again at a terminal, pass --yes to answer gates automatically, or answer it from an editor (drover serve).")
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
/// killed), wait for that, then exit 130. A DispatchSource handles SIGINT instead of the default
/// action, which would kill drover and leave the agent running.
final class InterruptHandler: Sendable {
    private struct State {
        var fired = false
        var runId: String?
        var cancelling = false
        var source: DispatchSourceSignal?
    }
    private let state = Mutex(State())
    private let engine: Engine
    private let terminal: Terminal

    init(engine: Engine, terminal: Terminal) {
        self.engine = engine
        self.terminal = terminal
        signal(SIGINT, SIG_IGN)
        state.withLock { state in
            let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
            source.setEventHandler { [weak self] in self?.interrupted() }
            source.resume()
            state.source = source
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

    /// Restores the default SIGINT action.
    func uninstall() {
        state.withLock { state in
            state.source?.cancel()
            state.source = nil
        }
        signal(SIGINT, SIG_DFL)
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
            _ = try? await engine.cancel(RunCancelRequest(runId: runId, reason: "cancelled with Ctrl-C"))
            await engine.waitUntilIdle()
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
