import DroverProtocol

/// Which queued runs start now: a pure decision over the runs that wait, oldest first.
///
/// A run starts once every run it depends on is done and a slot is free: at most `maxRuns` runs
/// are `running` at once (a run waiting at a gate is `blocked` and holds no slot). If a dependency
/// failed or was cancelled, the waiting run fails. Runs wait in the order they arrived: one that
/// waits for a slot is never overtaken by a later one.
///
/// The scheduler keeps each waiting run's `dependsOn`, so deciding costs a dictionary lookup per
/// waiting run and a status read per dependency — never a read of every waiting (or running) run:
/// with many runs queued behind a few slots, each admission would otherwise reload them all.
struct RunScheduler: Sendable {
    /// What becomes of one waiting run.
    enum Verdict: Equatable {
        case start
        case wait(QueueReason, waitingFor: [String])
        /// `dependency` ended `status` (failed or cancelled), so the run cannot start.
        case fail(dependency: String, status: RunStatus)
    }

    /// A run waiting to start and the runs it waits for.
    struct Waiting: Equatable, Sendable {
        var runId: String
        var dependsOn: [String]
        /// The reason it was last recorded with (so `run.queued` is written once per change). Kept here,
        /// not in a dictionary by run id: `plan` reads it for every waiting run at every admission.
        var recorded: QueueReason?
    }

    /// Runs waiting to start, oldest first.
    private(set) var waiting: [Waiting] = []
    private var waitingIds: Set<String> = []
    /// While draining no run starts; they stay queued for the next engine.
    var draining = false

    var waitingCount: Int { waiting.count }
    var isEmpty: Bool { waiting.isEmpty }

    func isWaiting(_ runId: String) -> Bool { waitingIds.contains(runId) }

    /// Adds `runId` at the back of the queue (once); `recorded`: the reason it was recorded as queued with.
    mutating func enqueue(_ runId: String, dependsOn: [String], recorded: QueueReason? = nil) {
        guard waitingIds.insert(runId).inserted else { return }
        waiting.append(Waiting(runId: runId, dependsOn: dependsOn, recorded: recorded))
    }

    mutating func remove(_ runId: String) {
        guard waitingIds.remove(runId) != nil else { return }
        waiting.removeAll { $0.runId == runId }
    }

    /// Notes that `runId`, waiting, was recorded as queued for `reason`.
    mutating func recorded(_ reason: QueueReason, for runId: String) {
        guard let index = waiting.lastIndex(where: { $0.runId == runId }) else { return }
        waiting[index].recorded = reason
    }

    /// What to do now, in arrival order, given `running` runs now and at most `maxRuns`: the runs that
    /// start, those that fail, and those whose reason to wait is not the one recorded for them. Runs
    /// that go on waiting for the reason already recorded are left out. `status` tells a dependency's
    /// status (nil when the run no longer exists); it is asked about dependencies only. `arriving`: a run
    /// about to be created, planned as if it waited last (the queue is not copied to add it).
    func plan(running: Int, maxRuns: Int, arriving: Waiting? = nil,
              status: (String) -> RunStatus?) -> [(runId: String, verdict: Verdict)] {
        var running = running
        var slotWaiter = false
        var actions: [(runId: String, verdict: Verdict)] = []
        func decide(_ entry: Waiting) {
            let verdict: Verdict
            if let waitsOn = Self.dependencyVerdict(entry.dependsOn, status: status) {
                verdict = waitsOn
            } else if draining {
                verdict = .wait(.draining, waitingFor: [])
            } else if !slotWaiter, running < maxRuns {
                running += 1
                verdict = .start
            } else {
                slotWaiter = true
                verdict = .wait(.capacity, waitingFor: [])
            }
            if case .wait(let reason, _) = verdict, entry.recorded == reason { return }
            actions.append((entry.runId, verdict))
        }
        for entry in waiting { decide(entry) }
        if let arriving { decide(arriving) }
        return actions
    }

    /// `.fail` when a dependency failed, was cancelled or is gone, `.wait` while any is not done; nil
    /// when all are done (most runs have none: nothing is allocated for them, at every admission).
    private static func dependencyVerdict(_ dependsOn: [String], status: (String) -> RunStatus?) -> Verdict? {
        guard !dependsOn.isEmpty else { return nil }
        let statuses = dependsOn.map { (id: $0, status: status($0)) }
        if let ended = statuses.first(where: { $0.status == .failed || $0.status == .cancelled || $0.status == nil }) {
            return .fail(dependency: ended.id, status: ended.status ?? .cancelled)
        }
        let pending = statuses.filter { $0.status != .done }.map(\.id)
        return pending.isEmpty ? nil : .wait(.dependency, waitingFor: pending)
    }
}
