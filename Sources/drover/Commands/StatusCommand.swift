import DroverEngine
import DroverProtocol
import Foundation

/// `drover status RUN`: one run's steps with states, attempts, open gates and failure, read through
/// `RunQueries` on the store opened read-only.
enum StatusCommand {
    static let subcommand = Subcommand(
        name: "status",
        usage: "status RUN [--output] [--workspace DIR]",
        summary: "Show a run: its steps with states and attempts, open gates, failure and usage.",
        options: [
            OptionSpec(name: "--output", value: nil, help: "also print each finished step's full output"),
            Workspace.option,
            StoreChoice.option,
        ],
        run: run
    )

    static func run(_ arguments: ParsedArguments) async throws -> Int32 {
        let runId = try RunArgument.runId(arguments, command: "status")
        let workspace = try Workspace.resolve(arguments)
        let (_, run) = try Workspace.loadRun(runId, workspace: workspace, store: StoreChoice.resolve(arguments))
        print(run: run, terminal: Terminal.current, showOutput: arguments.has("--output"))
        return 0
    }

    static func print(run: Run, terminal t: Terminal, showOutput: Bool) {
        let created = Format.date(run.createdAt)
        var header = t.bold("Run \(run.id)") + t.separator + "pipeline \(run.pipelineId)" + t.separator
            + "\(t.symbol(forState: run.status.rawValue)) \(run.status.rawValue)"
        if let created { header += t.separator + "started \(Format.age(since: created))" }
        if run.status.isTerminal, let created, let updated = Format.date(run.updatedAt) {
            header += t.separator + "took \(Format.duration(updated.timeIntervalSince(created)))"
        }
        Console.line(header)
        Console.line("  task: \(run.task)")
        if let inputs = run.inputs, !inputs.isEmpty {
            Console.line("  inputs: " + inputs.keys.sorted().map { "\($0)=\(inputs[$0] ?? "")" }.joined(separator: ", "))
        }
        Console.line("")

        var rows: [[String]] = []
        for step in run.steps {
            var time = ""
            if let start = Format.date(step.startedAt) {
                let end = Format.date(step.finishedAt) ?? (step.state == .working ? Date() : nil)
                time = end.map { Format.duration($0.timeIntervalSince(start)) } ?? ""
            }
            rows.append([
                "  \(t.symbol(forState: step.state.rawValue))", step.id, step.role ?? step.kind.rawValue, step.state.rawValue,
                step.attempts == 0 ? "" : Format.count(step.attempts, "attempt"), time,
            ])
        }
        let lines = Format.table(rows).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for (step, line) in zip(run.steps, lines) {
            Console.line(line)
            if let decision = step.decision {
                if let chosen = decision.chosen {
                    Console.line(t.dim("      decision: \(decision.question) \(t.arrow) \(chosen)"))
                } else {
                    Console.line("      \(t.gate) waiting for a decision: \(decision.question)")
                    for (index, option) in decision.options.enumerated() { Console.line("          \(index + 1)) \(option)") }
                }
            }
            if let approval = step.approval {
                switch approval.status {
                case .pending:
                    Console.line("      \(t.gate) waiting for approval of: \(Format.firstLine(approval.proposal))")
                case .changesRequested:
                    Console.line(t.dim("      changes requested: \(approval.feedback ?? "")"))
                case .approved:
                    Console.line(t.dim("      approved"))
                case .rejected:
                    Console.line(t.dim("      rejected" + (approval.feedback.map { ": \($0)" } ?? "")))
                }
            }
            if showOutput, let output = step.output, !output.isEmpty {
                Console.line(Format.indent(output, "      | "))
            }
        }
        if let failure = run.failure {
            Console.line("")
            Console.line("\(t.failed) " + t.bold("failure (\(failure.kind.rawValue))") + (failure.stepId.map { " at step \($0)" } ?? "") + ": \(failure.message)")
            Console.line("  hint: \(failure.hint)")
        }
        Console.line("")
        Console.line("  usage: " + Format.usage(run.usage))
    }
}
