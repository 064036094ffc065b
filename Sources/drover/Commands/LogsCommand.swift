import DroverEngine
import DroverProtocol
import Foundation

/// `drover logs RUN [STEP]`: the agents' output of a run, from the per-attempt log files; `--follow`
/// keeps printing as they grow until the run ends. Reads files and the store only, so it works while
/// another engine drives the run.
enum LogsCommand {
    static let subcommand = Subcommand(
        name: "logs",
        usage: "logs RUN [STEP] [--attempt N] [--follow] [--workspace DIR]",
        summary: "Print a run's agent output (every step, or one step's latest attempt); --follow until the run ends.",
        options: [
            OptionSpec(name: "--attempt", value: "N", help: "the Nth attempt of STEP (default: the latest)"),
            OptionSpec(name: "--follow", value: nil, help: "keep printing new output until the run is done, failed or cancelled"),
            Workspace.option,
        ],
        run: run
    )

    static func run(_ arguments: ParsedArguments) async throws -> Int32 {
        guard let runId = arguments.positionals.first else {
            throw UsageError(description: "'drover logs' needs a run id ('drover runs' lists them)")
        }
        if arguments.positionals.count > 2 {
            throw UsageError(description: "'drover logs' takes a run id and at most one step id (got '\(arguments.positionals[2])' too)")
        }
        let stepId = arguments.positionals.count > 1 ? arguments.positionals[1] : nil
        var attempt: Int?
        if let text = arguments.value("--attempt") {
            guard let value = Int(text), value > 0 else { throw UsageError(description: "--attempt must be a positive number, not '\(text)'") }
            guard stepId != nil else { throw UsageError(description: "--attempt needs a STEP: drover logs RUN STEP --attempt \(value)") }
            attempt = value
        }
        let workspace = try Workspace.resolve(arguments)
        let (store, run) = try Workspace.loadRun(runId, workspace: workspace)
        if let stepId {
            guard let step = run.step(stepId) else {
                throw CLIError("run \(run.id) has no step '\(stepId)'; its steps: \(run.steps.map(\.id).joined(separator: ", "))")
            }
            if let attempt, attempt > step.attempts, !arguments.has("--follow") {
                throw CLIError("step '\(stepId)' of run \(run.id) has no attempt \(attempt); it has run \(Format.count(step.attempts, "time"))")
            }
        }
        var reader = LogReader(layout: StoreLayout(workspace: workspace), stepId: stepId, attempt: attempt,
                               follow: arguments.has("--follow"), terminal: Terminal.current)
        guard arguments.has("--follow") else {
            try reader.pass(run)
            if !reader.printedAny { FileHandle.standardError.write(Data("(no agent output recorded for this run\(stepId.map { " at step \($0)" } ?? "") yet)\n".utf8)) }
            return 0
        }
        var current = run
        while true {
            try reader.pass(current)
            if current.status.isTerminal { break }
            try await Task.sleep(for: .milliseconds(200))
            guard let next = try store.run(id: run.id) else { break }
            current = next
        }
        return 0
    }
}

/// Prints the new bytes of a run's log files, remembering how far each file was read.
struct LogReader {
    let layout: StoreLayout
    let stepId: String?
    let attempt: Int?
    let follow: Bool
    let terminal: Terminal
    private var offsets: [String: UInt64] = [:]
    private var lastFile: String?
    private(set) var printedAny = false
    private var atLineStart = true

    init(layout: StoreLayout, stepId: String?, attempt: Int?, follow: Bool, terminal: Terminal) {
        self.layout = layout
        self.stepId = stepId
        self.attempt = attempt
        self.follow = follow
        self.terminal = terminal
    }

    /// Headers name the file whenever more than one file can be shown.
    private var showsHeaders: Bool { stepId == nil || (follow && attempt == nil) }

    mutating func pass(_ run: Run) throws {
        for step in run.steps where stepId == nil || step.id == stepId {
            let attempts: [Int]
            if let attempt {
                attempts = [attempt]
            } else if stepId != nil, !follow {
                attempts = step.attempts > 0 ? [step.attempts] : []
            } else {
                attempts = step.attempts > 0 ? Array(1...step.attempts) : []
            }
            for number in attempts {
                try print(file: layout.logFile(runId: run.id, stepId: step.id, attempt: number), key: "\(step.id) · attempt \(number)")
            }
        }
    }

    private mutating func print(file: URL, key: String) throws {
        guard let handle = try? FileHandle(forReadingFrom: file) else { return }
        defer { try? handle.close() }
        let offset = offsets[key] ?? 0
        try handle.seek(toOffset: offset)
        guard let data = try handle.readToEnd(), !data.isEmpty else { return }
        offsets[key] = offset + UInt64(data.count)
        if showsHeaders, lastFile != key {
            if !atLineStart { Console.write("\n") }
            Console.line(terminal.bold("== \(key) =="))
        }
        lastFile = key
        Console.write(bytes: [UInt8](data))
        atLineStart = data.last == UInt8(ascii: "\n")
        printedAny = true
    }
}
