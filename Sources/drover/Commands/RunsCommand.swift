import DroverEngine
import DroverProtocol
import Foundation

/// `drover runs`: the workspace's runs, newest first, as `run/list` pages them (through `RunQueries`,
/// on the store opened read-only, without taking the driving lock).
enum RunsCommand {
    static let subcommand = Subcommand(
        name: "runs",
        usage: "runs [--status S[,S...]] [--limit N] [--workspace DIR]",
        summary: "List the workspace's runs, newest first: id, pipeline, status, current step, cost, age.",
        options: [
            OptionSpec(name: "--status", value: "S", help: "only runs in these states: " + RunStatus.allCases.map(\.rawValue).joined(separator: ", ")),
            OptionSpec(name: "--limit", value: "N", help: "at most N runs (default \(RunQueries.defaultRunPageSize), at most \(RunQueries.runPageSizes.upperBound))"),
            Workspace.option,
            StoreChoice.option,
        ],
        run: run
    )

    static func run(_ arguments: ParsedArguments) async throws -> Int32 {
        try arguments.refusePositionals(command: "runs")
        var statuses: [RunStatus]?
        if let text = arguments.value("--status") {
            var chosen: [RunStatus] = []
            for name in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                guard let status = RunStatus(rawValue: name) else {
                    throw UsageError(description: "--status '\(name)' is not a run status; use " + RunStatus.allCases.map(\.rawValue).joined(separator: ", "))
                }
                chosen.append(status)
            }
            statuses = chosen
        }
        var limit = RunQueries.defaultRunPageSize
        if let text = arguments.value("--limit") {
            let sizes = RunQueries.runPageSizes
            guard let value = Int(text), sizes.contains(value) else {
                throw UsageError(description: "--limit must be a number from \(sizes.lowerBound) to \(sizes.upperBound), not '\(text)'")
            }
            limit = value
        }
        let workspace = try Workspace.resolve(arguments)
        let terminal = Terminal.current
        guard let queries = try Workspace.queries(workspace, store: StoreChoice.resolve(arguments)) else {
            Console.line("No runs in \(workspace.path) yet. Try 'drover demo', or 'drover run PIPELINE --task \"...\"'.")
            return 0
        }
        let page = try queries.runs(RunListRequest(status: statuses, limit: limit))
        let runs = page.runs
        if runs.isEmpty {
            Console.line(statuses == nil ? "No runs in \(workspace.path) yet." : "No runs with status \(arguments.value("--status") ?? "") in \(workspace.path).")
            return 0
        }
        let now = Date()
        var rows = [["ID", "PIPELINE", "STATUS", "STEP", "COST", "AGE"].map { terminal.bold($0) }]
        for run in runs {
            let waiting = run.queueReason == .rateLimit ? " (\(Format.rateLimitWait(retryAt: run.retryAt)))" : ""
            let status = "\(terminal.symbol(forState: run.status.rawValue)) \(run.status.rawValue)\(waiting)"
            let age = Format.date(run.createdAt).map { Format.age(since: $0, now: now) } ?? run.createdAt
            rows.append([run.id, run.pipelineId, status, run.currentStep ?? "-", Format.cost(run.usage.costUSD), age])
        }
        Console.line(Format.table(rows))
        if page.nextCursor != nil {
            let more = limit < RunQueries.runPageSizes.upperBound ? "--limit N shows more" : "--status narrows the list"
            Console.line(terminal.dim("(the newest \(runs.count) shown; older runs exist: \(more))"))
        }
        return 0
    }
}
