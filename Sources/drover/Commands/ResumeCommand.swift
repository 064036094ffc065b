import DroverProtocol
import Foundation

/// `drover resume RUN [--budget USD]`: a paused run goes on (`run/resume`), with a higher dollar budget
/// when given, and is followed live like `drover retry`.
enum ResumeCommand {
    static let subcommand = Subcommand(
        name: "resume",
        usage: "resume RUN [--budget USD] [--workspace DIR] [--yes]",
        summary: "Resume a run paused at its budget (or the workspace's daily budget), and follow it live.",
        options: [
            OptionSpec(name: "--budget", value: "USD", help: "the run's new budget in US dollars (replaces its maxUSD), e.g. 10 or 2.50"),
            Workspace.option, StoreChoice.option, GateMode.yesOption,
        ],
        run: run
    )

    static func run(_ arguments: ParsedArguments) async throws -> Int32 {
        let runId = try RunArgument.runId(arguments, command: "resume")
        let budget = try arguments.value("--budget").map { RunBudget(maxUSD: try dollars($0)) }
        let terminal = Terminal.current
        return try await RunSession(
            workspace: try Workspace.resolve(arguments), store: try StoreChoice.resolve(arguments),
            start: .resume(runId: runId, budget: budget), gates: GateMode.from(arguments, terminal: terminal), terminal: terminal
        ).run()
    }

    /// `10`, `2.50` or `$5`: a positive, finite amount.
    static func dollars(_ text: String) throws -> Double {
        let digits = text.hasPrefix("$") ? String(text.dropFirst()) : text
        guard let amount = Double(digits), amount.isFinite, amount > 0 else {
            throw UsageError(description: "--budget must be a positive amount of US dollars, like 10 or 2.50 (got '\(text)')")
        }
        return amount
    }
}
