import DroverEngine
import DroverProtocol
import Foundation

/// `drover run PIPELINE --task TEXT`: runs a pipeline in a workspace, live, answering gates at the terminal.
enum RunCommand {
    static let subcommand = Subcommand(
        name: "run",
        usage: "run PIPELINE --task TEXT [--workspace DIR] [--input KEY=VALUE ...] [--yes]",
        summary: "Run a pipeline in a workspace, live; answer its decisions and approvals at the terminal.",
        options: [
            OptionSpec(name: "--task", value: "TEXT", help: "what the pipeline should do ({{task}} in prompts); required"),
            Workspace.option,
            StoreChoice.option,
            OptionSpec(name: "--input", value: "KEY=VALUE", help: "a value for {{inputs.KEY}}; repeat for more"),
            GateMode.yesOption,
        ],
        run: run
    )

    static func run(_ arguments: ParsedArguments) async throws -> Int32 {
        guard let pipelineId = arguments.positionals.first else {
            throw UsageError(description: "'drover run' needs a pipeline id ('drover pipelines' lists them)")
        }
        if arguments.positionals.count > 1 {
            throw UsageError(description: "'drover run' takes one pipeline id; put the task in --task \"...\" (got '\(arguments.positionals[1])')")
        }
        guard let task = arguments.value("--task") else {
            throw UsageError(description: "'drover run' needs --task \"what to do\"")
        }
        var inputs: [String: String] = [:]
        for pair in arguments.values("--input") {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw UsageError(description: "--input takes KEY=VALUE, not '\(pair)'")
            }
            inputs[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        let terminal = Terminal.current
        let session = RunSession(
            workspace: try Workspace.resolve(arguments),
            store: try StoreChoice.resolve(arguments),
            start: .new(pipelineId: pipelineId, task: task, inputs: inputs.isEmpty ? nil : inputs),
            gates: GateMode.from(arguments, terminal: terminal), terminal: terminal)
        return try await session.run()
    }
}
