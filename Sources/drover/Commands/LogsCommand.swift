import DroverEngine
import DroverProtocol
import DroverStore
import Foundation

/// `drover logs RUN [STEP]`: the agents' output of a run, from the per-attempt log files as `step/log`
/// reads them; `--follow` keeps printing as they grow until the run ends. Reads files and the store
/// only (through `RunQueries`), so it works while another engine drives the run.
enum LogsCommand {
    static let subcommand = Subcommand(
        name: "logs",
        usage: "logs RUN [STEP] [--attempt N] [--follow] [--raw] [--workspace DIR]",
        summary: "Print a run's agent output (every step, or one step's latest attempt); --follow until the run ends.",
        options: [
            OptionSpec(name: "--attempt", value: "N", help: "the Nth attempt of STEP (default: the latest)"),
            OptionSpec(name: "--follow", value: nil, help: "keep printing new output until the run is done, failed or cancelled"),
            OptionSpec(name: "--raw", value: nil, help: "print the log files as they are (agent line protocol JSON included)"),
            Workspace.option,
            StoreChoice.option,
        ],
        run: run
    )

    static func run(_ arguments: ParsedArguments) async throws -> Int32 {
        let (runId, stepId) = try RunArgument.runId(arguments, command: "logs", then: "step id")
        var attempt: Int?
        if let text = arguments.value("--attempt") {
            guard let value = Int(text), value > 0 else { throw UsageError(description: "--attempt must be a positive number, not '\(text)'") }
            guard stepId != nil else { throw UsageError(description: "--attempt needs a STEP: drover logs RUN STEP --attempt \(value)") }
            attempt = value
        }
        let workspace = try Workspace.resolve(arguments)
        let (queries, run) = try Workspace.loadRun(runId, workspace: workspace, store: StoreChoice.resolve(arguments))
        if let stepId {
            guard let step = run.step(stepId) else {
                throw CLIError("run \(run.id) has no step '\(stepId)'; its steps: \(run.steps.map(\.id).joined(separator: ", "))")
            }
            if let attempt, attempt > step.attempts, !arguments.has("--follow") {
                throw CLIError("step '\(stepId)' of run \(run.id) has no attempt \(attempt); it has run \(Format.count(step.attempts, "time"))")
            }
        }
        var reader = LogReader(queries: queries, stepId: stepId, attempt: attempt,
                               follow: arguments.has("--follow"), raw: arguments.has("--raw"), terminal: Terminal.current)
        guard arguments.has("--follow") else {
            try reader.pass(run, final: true)
            if !reader.printedAny { FileHandle.standardError.write(Data("(no agent output recorded for this run\(stepId.map { " at step \($0)" } ?? "") yet)\n".utf8)) }
            return 0
        }
        // Follow the run through the change feed: new attempts appear as their events arrive, and the
        // run's end (its last event) ends the command after a final pass.
        var current = run
        while !current.status.isTerminal {
            try reader.pass(current, final: false)
            try await Task.sleep(for: .milliseconds(200))
            if let change = try queries.changes(afterRunSeqs: [(current.id, current.lastSeq)]).first { current = change.run }
        }
        try reader.pass(current, final: true)
        return 0
    }
}

/// Prints the new lines of a run's attempt logs, read with `step/log`'s query and remembering how
/// far each log was read.
///
/// Agent line protocol lines are shown as what they mean (`log` as its text, `usage`, `decision`,
/// `result`); other lines (plain output, stderr) as they are. `raw` prints the lines unchanged.
struct LogReader {
    let queries: RunQueries
    let stepId: String?
    let attempt: Int?
    let follow: Bool
    let raw: Bool
    let terminal: Terminal
    /// How far each attempt's log was read, in bytes (`step/log` offsets).
    private var offsets: [String: Int] = [:]
    /// Bytes after the last newline of each log, held until the line is complete.
    private var partial: [String: [UInt8]] = [:]
    private var lastFile: String?
    private(set) var printedAny = false

    init(queries: RunQueries, stepId: String?, attempt: Int?, follow: Bool, raw: Bool, terminal: Terminal) {
        self.queries = queries
        self.stepId = stepId
        self.attempt = attempt
        self.follow = follow
        self.raw = raw
        self.terminal = terminal
    }

    /// Headers name the file whenever more than one file can be shown.
    private var showsHeaders: Bool { stepId == nil || (follow && attempt == nil) }

    /// Prints what was appended since the last pass; `final` also prints an unfinished last line.
    mutating func pass(_ run: Run, final: Bool) throws {
        for step in run.steps where stepId == nil || step.id == stepId {
            let attempts: [Int]
            if let attempt {
                // An attempt that has not started yet (with --follow) has nothing to show.
                attempts = attempt <= step.attempts ? [attempt] : []
            } else if stepId != nil, !follow {
                attempts = step.attempts > 0 ? [step.attempts] : []
            } else {
                attempts = step.attempts > 0 ? Array(1...step.attempts) : []
            }
            for number in attempts {
                try print(runId: run.id, stepId: step.id, attempt: number, final: final)
            }
        }
    }

    private mutating func print(runId: String, stepId: String, attempt: Int, final: Bool) throws {
        let key = "\(stepId) · attempt \(attempt)"
        var bytes = partial[key] ?? []
        var offset = offsets[key] ?? 0
        while true {
            let slice = try queries.stepLog(StepLogRequest(runId: runId, stepId: stepId, attempt: attempt, offset: offset, limit: 1 << 20))
            guard slice.nextOffset > offset else { break }
            bytes += slice.text.utf8
            offset = slice.nextOffset
        }
        offsets[key] = offset
        var complete: ArraySlice<UInt8>
        if final {
            complete = bytes[...]
            partial[key] = nil
        } else {
            let end = (bytes.lastIndex(of: UInt8(ascii: "\n")) ?? -1) + 1
            complete = bytes[..<end]
            partial[key] = Array(bytes[end...])
        }
        guard !complete.isEmpty else { return }
        if complete.last == UInt8(ascii: "\n") { complete = complete.dropLast() }
        if showsHeaders, lastFile != key { Console.line(terminal.bold("== \(key) ==")) }
        lastFile = key
        printedAny = true
        let text = String(decoding: complete, as: UTF8.self)
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            Console.line(raw ? String(line) : render(String(line)))
        }
    }

    /// One log line as a person reads it.
    private func render(_ line: String) -> String {
        guard line.hasPrefix("{") else { return line }
        switch AgentLine.parse(line) {
        case .log(let text):
            return text
        case .progress(let fraction, let message):
            let percent = fraction.map { "\(Int(($0 * 100).rounded()))%" }
            return terminal.dim("progress: " + [percent, message].compactMap { $0 }.joined(separator: " "))
        case .usage(let model, let input, let output, let cost):
            return terminal.dim("usage: \(model), " + Format.usage(input: input, output: output, costUSD: cost ?? 0))
        case .decision(let question, let options):
            return terminal.yellow("decision: \(question) [\(options.joined(separator: " / "))]")
        case .result(let output):
            return terminal.bold("result:") + "\n" + Format.indent(output, "  ")
        case .session(let id):
            return terminal.dim("session: \(id)")
        case .rateLimited(let message, let retryAfter):
            let when = retryAfter.map { ", retry after \(Format.duration($0))" } ?? ""
            return terminal.yellow("rate limited\(when)" + (message.map { ": \($0)" } ?? ""))
        }
    }
}
