import DroverProtocol

/// Which queued runs may start now: a pure decision over the runs that wait, oldest first.
///
/// A run starts once every run it depends on is done and a slot is free: at most `maxRuns` runs
/// are `running` at once (a run waiting at a gate is `blocked` and holds no slot). If a dependency
/// failed or was cancelled, the waiting run fails. Runs wait in the order they arrived: one that
/// waits for a slot is never overtaken by a later one.
struct RunScheduler: Sendable {
    /// What becomes of one waiting run.
    enum Verdict: Equatable {
        case start
        case wait(QueueReason, waitingFor: [String])
        /// `dependency` ended `status` (failed or cancelled), so the run cannot start.
        case fail(dependency: String, status: RunStatus)
    }

    /// A waiting run as the scheduler sees it.
    struct Candidate: Equatable {
        var runId: String
        /// Each dependency's status, nil when the run no longer exists.
        var dependencies: [(id: String, status: RunStatus?)]

        static func == (lhs: Candidate, rhs: Candidate) -> Bool {
            lhs.runId == rhs.runId && lhs.dependencies.map(\.id) == rhs.dependencies.map(\.id)
                && lhs.dependencies.map(\.status) == rhs.dependencies.map(\.status)
        }
    }

    /// Runs waiting to start, oldest first.
    private(set) var waiting: [String] = []
    /// The reason each waiting run was last recorded with (so `run.queued` is written once per change).
    var recordedReason: [String: QueueReason] = [:]
    /// While draining no run starts; they stay queued for the next engine.
    var draining = false

    var waitingCount: Int { waiting.count }

    mutating func enqueue(_ runId: String) {
        if !waiting.contains(runId) { waiting.append(runId) }
    }

    mutating func remove(_ runId: String) {
        waiting.removeAll { $0 == runId }
        recordedReason[runId] = nil
    }

    /// The verdict for each candidate, in order, given `running` runs now and at most `maxRuns`.
    static func decide(_ candidates: [Candidate], running: Int, maxRuns: Int, draining: Bool) -> [Verdict] {
        var running = running
        var slotWaiter = false
        return candidates.map { candidate in
            if let ended = candidate.dependencies.first(where: { $0.status == .failed || $0.status == .cancelled || $0.status == nil }) {
                return .fail(dependency: ended.id, status: ended.status ?? .cancelled)
            }
            let pending = candidate.dependencies.filter { $0.status != .done }.map(\.id)
            if !pending.isEmpty { return .wait(.dependency, waitingFor: pending) }
            if draining { return .wait(.draining, waitingFor: []) }
            guard !slotWaiter, running < maxRuns else {
                slotWaiter = true
                return .wait(.capacity, waitingFor: [])
            }
            running += 1
            return .start
        }
    }
}
