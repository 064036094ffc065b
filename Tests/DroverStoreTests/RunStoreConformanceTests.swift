import DroverProtocol
import DroverStore
import Foundation
import PostgresTestServer
import Testing

/// The `RunStore` contract, run against every store in `StoreSubject.all`: a store that passes can
/// stand behind the engine.
@Suite struct RunStoreConformanceTests {
    /// Runs `body` with a new store of `subject` in a fresh folder (`inFolder`).
    private func withStore(_ subject: StoreSubject, _ body: @escaping @Sendable (any RunStore, URL) throws -> Void) async throws {
        try await inFolder { dir in try body(try subject.open(dir), dir) }
    }

    /// Runs `body` in a fresh folder, on a thread of its own: a store's calls block (SQLite's writes, a
    /// round trip to PostgreSQL, psql making the test's schema), and on the cooperative pool they held
    /// one of its two threads, stalling the suites beside them under load (`onOwnThread`).
    private func inFolder(_ body: @escaping @Sendable (URL) throws -> Void) async throws {
        try await onOwnThread { try withTemporaryDirectory(body) }
    }

    /// The seqs stored for `runId`, in order.
    private func seqs(_ store: any RunStore, _ runId: String) throws -> [Int] {
        try store.events(runId: runId, afterSeq: 0, limit: .max).map(\.seq)
    }

    // MARK: Appending

    @Test(arguments: StoreSubject.all)
    func everyEventTypeRoundTrips(_ subject: StoreSubject) async throws {
        try await withStore(subject) { store, _ in
            let events = Fixtures.events("r1", bodies: Fixtures.everyBody())
            #expect(Set(events.map(\.type)) == Set(EventBody.allTypes))
            try store.append(events, snapshot: Fixtures.run("r1", lastSeq: events.count))
            #expect(try store.events(runId: "r1", afterSeq: 0, limit: 1000) == events)
            #expect(try store.run(id: "r1") == Fixtures.run("r1", lastSeq: events.count))
        }
    }

    @Test(arguments: StoreSubject.all)
    func appendReplacesTheSnapshot(_ subject: StoreSubject) async throws {
        try await withStore(subject) { store, _ in
            #expect(try store.run(id: "r1") == nil)

            let first = Fixtures.run("r1", status: .running, lastSeq: 1)
            try store.append(Fixtures.events("r1", count: 1), snapshot: first)
            #expect(try store.run(id: "r1") == first)

            var second = Fixtures.run("r1", status: .done, lastSeq: 3, output: "all done")
            second.updatedAt = "2026-01-02T04:00:00.000Z"
            try store.append(Fixtures.events("r1", count: 2, from: 2), snapshot: second)
            #expect(try store.run(id: "r1") == second)
            #expect(try store.runs(statuses: nil, afterRunId: nil, limit: 10) == [second])
            #expect(try store.runs(statuses: [.running], afterRunId: nil, limit: 10).isEmpty)

            // A snapshot-only append is allowed and leaves the events alone.
            var third = second
            third.task = "renamed"
            try store.append([], snapshot: third)
            #expect(try store.run(id: "r1") == third)
            #expect(try seqs(store, "r1") == [1, 2, 3])
        }
    }

    @Test(arguments: StoreSubject.all)
    func takenSeqIsASeqConflictAndWritesNothing(_ subject: StoreSubject) async throws {
        try await withStore(subject) { store, _ in
            let original = Fixtures.run("r1", lastSeq: 2)
            try store.append(Fixtures.events("r1", count: 2), snapshot: original)

            // Seq 2 is taken, seq 3 would be new: neither the new event nor the snapshot may land.
            let error = #expect(throws: StoreError.self) {
                try store.append(Fixtures.events("r1", count: 2, from: 2), snapshot: Fixtures.run("r1", status: .failed, lastSeq: 3))
            }
            #expect(error?.kind == .seqConflict)
            #expect(error?.message.contains("seq 2") == true)
            #expect(try store.events(runId: "r1", afterSeq: 0, limit: 10) == Fixtures.events("r1", count: 2))
            #expect(try store.run(id: "r1") == original)

            // The store stays usable after the refusal.
            try store.append(Fixtures.events("r1", count: 1, from: 3), snapshot: Fixtures.run("r1", lastSeq: 3))
            #expect(try seqs(store, "r1") == [1, 2, 3])
        }
    }

    /// (what is wrong, the seqs appended after seqs 1 and 2 are stored, the error kind).
    static let badSeqs: [(String, [Int], StoreError.Kind)] = [
        ("a gap after the stored seqs", [4], .invalidAppend),
        ("a duplicate within the batch", [3, 3], .invalidAppend),
        ("out of order within the batch", [3, 5], .invalidAppend),
        ("a seq before the stored ones", [0], .seqConflict),
    ]

    @Test(arguments: StoreSubject.all, badSeqs)
    func badSeqsAreRefusedAndWriteNothing(_ subject: StoreSubject, _ bad: (String, [Int], StoreError.Kind)) async throws {
        let (label, badSeqs, kind) = bad
        try await withStore(subject) { store, _ in
            try store.append(Fixtures.events("r1", count: 2), snapshot: Fixtures.run("r1", lastSeq: 2))
            let events = badSeqs.map { Event(runId: "r1", seq: $0, at: Fixtures.at, body: .runCompleted) }
            let error = #expect(throws: StoreError.self, "\(label)") {
                try store.append(events, snapshot: Fixtures.run("r1", status: .done))
            }
            #expect(error?.kind == kind, "\(label)")
            #expect(try seqs(store, "r1") == [1, 2])
            #expect(try store.run(id: "r1")?.status == .running)
        }
    }

    @Test(arguments: StoreSubject.all)
    func aRunStartsAtSeqOne(_ subject: StoreSubject) async throws {
        try await withStore(subject) { store, _ in
            let error = #expect(throws: StoreError.self) {
                try store.append(Fixtures.events("r1", count: 1, from: 2), snapshot: Fixtures.run("r1"))
            }
            #expect(error?.kind == .invalidAppend)
            let stored = try store.run(id: "r1")
            #expect(stored == nil)
        }
    }

    @Test(arguments: StoreSubject.all)
    func eventsOfAnotherRunAreRefused(_ subject: StoreSubject) async throws {
        try await withStore(subject) { store, _ in
            let error = #expect(throws: StoreError.self) {
                try store.append(Fixtures.events("other", count: 1), snapshot: Fixtures.run("r1"))
            }
            #expect(error?.kind == .invalidAppend)
            let stored = try store.run(id: "r1")
            #expect(stored == nil)
            #expect(try store.events(runId: "other", afterSeq: 0, limit: 10).isEmpty)
        }
    }

    // MARK: Reading

    @Test(arguments: StoreSubject.all)
    func eventsPageByAfterSeqAndLimit(_ subject: StoreSubject) async throws {
        try await withStore(subject) { store, _ in
            let all = Fixtures.events("r1", count: 10)
            try store.append(all, snapshot: Fixtures.run("r1", lastSeq: 10))
            try store.append(Fixtures.events("r2", count: 3), snapshot: Fixtures.run("r2", lastSeq: 3))

            #expect(try store.events(runId: "r1", afterSeq: 0, limit: 3) == Array(all[0..<3]))
            #expect(try store.events(runId: "r1", afterSeq: 3, limit: 3) == Array(all[3..<6]))
            #expect(try store.events(runId: "r1", afterSeq: 9, limit: 5) == [all[9]])
            #expect(try store.events(runId: "r1", afterSeq: 10, limit: 5).isEmpty)
            #expect(try store.events(runId: "r1", afterSeq: 99, limit: 5).isEmpty)
            #expect(try store.events(runId: "r1", afterSeq: -5, limit: 100) == all)
            #expect(try store.events(runId: "r1", afterSeq: 0, limit: 0).isEmpty)
            #expect(try store.events(runId: "r1", afterSeq: 0, limit: -1).isEmpty)
            #expect(try store.events(runId: "r1", afterSeq: 0, limit: .max) == all)
            #expect(try store.events(runId: "nope", afterSeq: 0, limit: 10).isEmpty)

            // Paging to the end visits every event once.
            var seen: [Event] = []
            while case let page = try store.events(runId: "r1", afterSeq: seen.last?.seq ?? 0, limit: 4), !page.isEmpty {
                seen += page
            }
            #expect(seen == all)
        }
    }

    /// Five runs, `a` oldest; `b` and `c` share a timestamp so the id breaks the tie.
    private func storeFiveRuns(in store: any RunStore) throws {
        let specs: [(String, RunStatus, String)] = [
            ("a", .done, "2026-01-01T00:00:00.000Z"),
            ("b", .running, "2026-01-02T00:00:00.000Z"),
            ("c", .blocked, "2026-01-02T00:00:00.000Z"),
            ("d", .failed, "2026-01-03T00:00:00.000Z"),
            ("e", .running, "2026-01-04T00:00:00.000Z"),
        ]
        for (id, status, createdAt) in specs.shuffled() {
            try store.append([], snapshot: Fixtures.run(id, status: status, createdAt: createdAt))
        }
    }

    @Test(arguments: StoreSubject.all)
    func runsAreNewestFirstWithFilterAndCursor(_ subject: StoreSubject) async throws {
        try await withStore(subject) { store, _ in
            try storeFiveRuns(in: store)
            func ids(_ statuses: Set<RunStatus>? = nil, after: String? = nil, limit: Int = 100) throws -> [String] {
                try store.runs(statuses: statuses, afterRunId: after, limit: limit).map(\.id)
            }

            #expect(try ids() == ["e", "d", "c", "b", "a"])
            #expect(try ids(limit: 2) == ["e", "d"])
            #expect(try ids(after: "d", limit: 2) == ["c", "b"])
            #expect(try ids(after: "c") == ["b", "a"])
            #expect(try ids(after: "a").isEmpty)
            #expect(try ids([.running]) == ["e", "b"])
            #expect(try ids([.running, .blocked]) == ["e", "c", "b"])
            // The cursor may be a run the filter excludes: it only marks a place in the order.
            #expect(try ids([.running, .blocked], after: "d") == ["c", "b"])
            #expect(try ids([.running], after: "e") == ["b"])
            #expect(try ids([.queued]).isEmpty)
            #expect(try ids([]).isEmpty)
            #expect(try ids(limit: 0).isEmpty)
            #expect(try ids(limit: -1).isEmpty)

            var paged: [String] = []
            while case let page = try ids(after: paged.last, limit: 2), !page.isEmpty { paged += page }
            #expect(paged == ["e", "d", "c", "b", "a"])
        }
    }

    /// The scheduler counts running runs on every admission: the count agrees with the filtered list,
    /// and a snapshot replaced by a later status moves the run to its new status.
    @Test(arguments: StoreSubject.all)
    func countRunsAgreesWithTheFilteredList(_ subject: StoreSubject) async throws {
        try await withStore(subject) { store, _ in
            try storeFiveRuns(in: store)
            #expect(try store.countRuns(statuses: [.running]) == 2)
            #expect(try store.countRuns(statuses: [.running, .blocked]) == 3)
            #expect(try store.countRuns(statuses: Set(RunStatus.allCases)) == 5)
            #expect(try store.countRuns(statuses: [.queued]) == 0)
            #expect(try store.countRuns(statuses: []) == 0)
            try store.append([], snapshot: Fixtures.run("e", status: .done, createdAt: "2026-01-04T00:00:00.000Z"))
            #expect(try store.countRuns(statuses: [.running]) == 1)
            #expect(try store.countRuns(statuses: [.done]) == 2)
        }
    }

    /// A cursor that names no run is an error, not the first page: a client paging with a stale or
    /// mistyped cursor must not be shown the newest runs again as if they came next.
    @Test(arguments: StoreSubject.all)
    func unknownCursorIsNotFound(_ subject: StoreSubject) async throws {
        try await withStore(subject) { store, _ in
            try storeFiveRuns(in: store)
            for statuses in [nil, Set([RunStatus.running])] {
                let error = #expect(throws: StoreError.self) {
                    try store.runs(statuses: statuses, afterRunId: "missing", limit: 10)
                }
                #expect(error?.kind == .notFound)
                #expect(error?.message == "no run 'missing' to page after")
            }
        }
    }

    // MARK: Durability

    @Test(arguments: StoreSubject.durable)
    func reopeningReadsWhatWasWrittenAndContinuesTheSeqs(_ subject: StoreSubject) async throws {
        try await inFolder { dir in
            let events = Fixtures.events("r1", bodies: Fixtures.everyBody())
            do {
                let store = try subject.open(dir)
                try store.append(events, snapshot: Fixtures.run("r1", lastSeq: events.count))
            }
            let reopen = try #require(subject.reopen)
            let reopened = try reopen(dir)
            #expect(try reopened.events(runId: "r1", afterSeq: 0, limit: 1000) == events)
            #expect(try reopened.run(id: "r1") == Fixtures.run("r1", lastSeq: events.count))
            #expect(try reopened.runs(statuses: nil, afterRunId: nil, limit: 10).map(\.id) == ["r1"])

            let next = Event(runId: "r1", seq: events.count + 1, at: Fixtures.at, body: .runCompleted)
            try reopened.append([next], snapshot: Fixtures.run("r1", status: .done, lastSeq: next.seq))
            #expect(try reopened.events(runId: "r1", afterSeq: events.count, limit: 10) == [next])
        }
    }

    /// Two handles on one store, as two engines would hold: the one that appends a seq second loses,
    /// with the kind the engine turns into "reload the run".
    @Test(arguments: StoreSubject.durable)
    func theSecondWriterOfASeqGetsASeqConflict(_ subject: StoreSubject) async throws {
        try await inFolder { dir in
            let first = try subject.open(dir)
            let reopen = try #require(subject.reopen)
            let second = try reopen(dir)
            try first.append(Fixtures.events("r1", count: 1), snapshot: Fixtures.run("r1", lastSeq: 1))
            try second.append(Fixtures.events("r1", count: 1, from: 2), snapshot: Fixtures.run("r1", lastSeq: 2))
            let error = #expect(throws: StoreError.self) {
                try first.append(Fixtures.events("r1", count: 1, from: 2), snapshot: Fixtures.run("r1", status: .failed, lastSeq: 2))
            }
            #expect(error?.kind == .seqConflict)
            #expect(try first.run(id: "r1")?.lastSeq == 2)
            #expect(try first.run(id: "r1")?.status == .running)
        }
    }

    @Test(arguments: StoreSubject.keepingFiles)
    func filesAreUserOnly(_ subject: StoreSubject) async throws {
        try await withStore(subject) { store, dir in
            try store.append(Fixtures.events("r1", count: 1), snapshot: Fixtures.run("r1"))
            for (path, mode) in subject.privateFiles(dir) {
                #expect(try permissions(path) == mode, "\(path)")
            }
        }
    }
}
