import DroverEngine
import DroverProtocol
import DroverStore
import Foundation

/// `drover logs RUN [STEP]`: the agents' output of a run, from the per-attempt log files; `--follow`
/// keeps printing as they grow until the run ends. Reads files and the store only, so it works while
/// another engine drives the run.
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
                               follow: arguments.has("--follow"), raw: arguments.has("--raw"), terminal: Terminal.current)
        guard arguments.has("--follow") else {
            try reader.pass(run, final: true)
            if !reader.printedAny { FileHandle.standardError.write(Data("(no agent output recorded for this run\(stepId.map { " at step \($0)" } ?? "") yet)\n".utf8)) }
            return 0
        }
        var current = run
        while true {
            try reader.pass(current, final: current.status.isTerminal)
            if current.status.isTerminal { break }
            try await Task.sleep(for: .milliseconds(200))
            guard let next = try store.run(id: run.id) else { break }
            current = next
        }
        return 0
    }
}

/// Prints the new lines of a run's log files, remembering how far each file was read.
///
/// Agent line protocol lines are shown as what they mean (`log` as its text, `usage`, `decision`,
/// `result`); other lines (plain output, stderr) as they are. `raw` prints the bytes unchanged.
struct LogReader {
    let layout: StoreLayout
    let stepId: String?
    let attempt: Int?
    let follow: Bool
    let raw: Bool
    let terminal: Terminal
    private var offsets: [String: UInt64] = [:]
    /// Bytes after the last newline of each file, held until the line is complete.
    private var partial: [String: [UInt8]] = [:]
    private var lastFile: String?
    private(set) var printedAny = false

    init(layout: StoreLayout, stepId: String?, attempt: Int?, follow: Bool, raw: Bool, terminal: Terminal) {
        self.layout = layout
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
                attempts = [attempt]
            } else if stepId != nil, !follow {
                attempts = step.attempts > 0 ? [step.attempts] : []
            } else {
                attempts = step.attempts > 0 ? Array(1...step.attempts) : []
            }
            for number in attempts {
                try print(file: layout.logFile(runId: run.id, stepId: step.id, attempt: number),
                          key: "\(step.id) · attempt \(number)", final: final)
            }
        }
    }

    private mutating func print(file: URL, key: String, final: Bool) throws {
        var bytes = partial[key] ?? []
        if let handle = try? FileHandle(forReadingFrom: file) {
            defer { try? handle.close() }
            let offset = offsets[key] ?? 0
            try handle.seek(toOffset: offset)
            if let data = try handle.readToEnd(), !data.isEmpty {
                offsets[key] = offset + UInt64(data.count)
                bytes += data
            }
        }
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
        }
    }
}
