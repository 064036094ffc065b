import DroverProtocol

/// The ids of the runs in each unended status that `countRuns` was asked about, as a writable store's own
/// appends left them.
///
/// A writable SQLite store is its workspace's one writer (the engine holds the workspace lock; readers open
/// the file read-only), so every status a run moves to passes through its `append`: kept here, the count of
/// running runs the scheduler asks for at every admission reads no table (it was a read transaction, two
/// per run). A status is filled from the table when first asked about, so a new engine (a restart, a
/// recovery) starts from what is stored. Only unended statuses are kept: few runs are in them at once, while
/// ended runs only grow.
struct KeptRunStatuses {
    private var ids: [RunStatus: Set<String>] = [:]

    /// Whether `status` is one this keeps (an unended one).
    static func keeps(_ status: RunStatus) -> Bool { !status.isTerminal }

    /// The ids in `status`, read by `load` the first time.
    mutating func ids(in status: RunStatus, load: () throws -> Set<String>) rethrows -> Set<String> {
        if let kept = ids[status] { return kept }
        let loaded = try load()
        ids[status] = loaded
        return loaded
    }

    /// After a committed append: `runId` is now in `status`, and in no other.
    mutating func committed(_ runId: String, status: RunStatus) {
        for kept in ids.keys {
            if kept == status { ids[kept]?.insert(runId) } else { ids[kept]?.remove(runId) }
        }
    }

    /// After an append that failed: what was stored is read again when next asked (a failed commit is
    /// rolled back, but an I/O error may leave its outcome in doubt).
    mutating func forget() { ids = [:] }
}
