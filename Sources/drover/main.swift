import DroverEngine
import Foundation

// The fake agent is this binary run as `drover agent-fake`, so tests exercise the real subprocess path.
if CommandLine.arguments.dropFirst().first == FakeAgent.subcommand {
    exit(FakeAgent.main(arguments: Array(CommandLine.arguments.dropFirst(2)), environment: ProcessInfo.processInfo.environment))
}
print("drover")
