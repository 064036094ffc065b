import Foundation

/// A step's wall time cut at its hand-offs, collected over the steps of a sequential pipeline:
/// `step.started` published → the engine asks for the launch (the invocation made: prompt, config,
/// trust) → the spawn returned (log file, posix_spawn, the attempt's I/O thread) → the outcome known
/// (the agent ran, exited and was reaped, its output read) → `step.completed` published (the outcome
/// handed to the actor, recorded, one commit) → the next `step.started` (or `run.completed`) published
/// (the next action, one commit).
struct StepSegments {
    private(set) var prepare: [Double] = []
    private(set) var spawn: [Double] = []
    private(set) var agent: [Double] = []
    private(set) var outcome: [Double] = []
    private(set) var next: [Double] = []

    /// Adds the steps of one run; the stamps are in step order.
    mutating func add(started: [ContinuousClock.Instant], completed: [ContinuousClock.Instant],
                      runCompleted: [ContinuousClock.Instant], attempts: [TimingLauncher.Attempt]) {
        let following = Array(started.dropFirst()) + runCompleted.prefix(1)
        for index in 0..<min(started.count, completed.count, attempts.count, following.count) {
            let attempt = attempts[index]
            guard let finished = attempt.finished else { continue }
            prepare.append(seconds(attempt.asked - started[index]))
            spawn.append(seconds(attempt.spawned - attempt.asked))
            agent.append(seconds(finished - attempt.spawned))
            outcome.append(seconds(completed[index] - finished))
            next.append(seconds(following[index] - completed[index]))
        }
    }

    /// The segments, medians in milliseconds. `agentAlone` is launch to reaped of the same agent launched
    /// directly: the engine's part is everything else of the step.
    func summary(agentAlone: Double) -> String {
        let launchToReaped = median(zip(spawn, agent).map { $0 + $1 })
        let handOffs = median(prepare) + median(outcome) + median(next)
        return String(format: """
              breakdown (medians of %d steps): step.started → launch asked %.3f ms (invocation: prompt, config, trust)
                + launch to reaped %.3f ms (spawn %.3f ms: log file, posix_spawn, I/O thread; then the agent) vs %.3f ms alone
                + reaped → step.completed %.3f ms (hand-off to the actor, outcome, 1 commit)
                + step.completed → next step.started %.3f ms (hand-off, next action, 1 commit)
                = the engine's part %.3f ms/step: %.3f ms around the agent + %.3f ms more from launch to reaped than alone
            """, prepare.count, median(prepare) * 1000, launchToReaped * 1000, median(spawn) * 1000, agentAlone * 1000,
            median(outcome) * 1000, median(next) * 1000, (handOffs + launchToReaped - agentAlone) * 1000, handOffs * 1000,
            (launchToReaped - agentAlone) * 1000)
    }
}
