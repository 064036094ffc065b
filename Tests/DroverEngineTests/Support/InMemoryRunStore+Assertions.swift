import DroverProtocol
import DroverStore

extension InMemoryRunStore {
    /// Every event of a run (for assertions).
    func allEvents(_ runId: String) -> [Event] {
        (try? events(runId: runId, afterSeq: 0, limit: .max)) ?? []
    }
}
