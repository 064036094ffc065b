import DroverEngine
import DroverProtocol
import Foundation

/// The attempt a driver's command-line tests build: step `s` of run `r`, prompt "Do it", in `/w`.
func driverInvocation(_ driver: any AgentDriver, _ settings: [String: JSONValue], model: String? = nil,
                      resume: String? = nil) throws -> AgentInvocation {
    let context = AttemptContext(
        runId: "r", stepId: "s", attempt: 1, prompt: "Do it", workingDirectory: "/w", environment: ["PATH": "/bin"],
        agent: AgentSpec(driver: driver.name, model: model, settings: settings), resumeSessionId: resume,
        logFile: URL(fileURLWithPath: "/tmp/log"), selfExecutable: "/bin/drover")
    return try driver.invocation(for: context)
}
