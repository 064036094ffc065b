import DroverStore
import Foundation
import Testing

/// An ownership under test, opened in a fresh folder.
struct OwnershipSubject: Sendable, CustomTestStringConvertible {
    let name: String
    let open: @Sendable (_ layout: StoreLayout) throws -> any RunOwnership
    var testDescription: String { name }

    /// Every `RunOwnership` the package ships.
    static let all = [
        OwnershipSubject(name: "workspace lock", open: { try WorkspaceLockOwnership(layout: $0) }),
        OwnershipSubject(name: "process-local", open: { _ in ProcessLocalOwnership() }),
    ]
}

@Suite struct RunOwnershipTests {
    private func withOwnership(_ subject: OwnershipSubject, _ body: (any RunOwnership) throws -> Void) throws {
        try withTemporaryDirectory { dir in
            let layout = StoreLayout(workspace: dir)
            try layout.prepare()
            try body(try subject.open(layout))
        }
    }

    @Test(arguments: OwnershipSubject.all)
    func claimRenewRelease(_ subject: OwnershipSubject) throws {
        try withOwnership(subject) { ownership in
            #expect(ownership.owner == .current)
            #expect(!ownership.holds(runId: "r1"))
            let unclaimed = #expect(throws: RunOwnershipError.self) { try ownership.renew(runId: "r1") }
            #expect(unclaimed?.kind == .lost)

            try ownership.claim(runId: "r1")
            try ownership.claim(runId: "r1")  // claiming a held run is fine
            #expect(ownership.holds(runId: "r1") && !ownership.holds(runId: "r2"))
            try ownership.renew(runId: "r1")

            ownership.release(runId: "r1")
            ownership.release(runId: "r1")  // and so is releasing twice
            #expect(!ownership.holds(runId: "r1"))
            #expect(throws: RunOwnershipError.self) { try ownership.renew(runId: "r1") }
        }
    }

    @Test func theWorkspaceLockIsOneOwnerAtATimeAndItsClaimsEndWithIt() throws {
        try withTemporaryDirectory { dir in
            let layout = StoreLayout(workspace: dir)
            try layout.prepare()
            let first = try WorkspaceLockOwnership(layout: layout)
            let taken = #expect(throws: StoreLockError.self) { try WorkspaceLockOwnership(layout: layout) }
            #expect(taken?.holder == .current)

            try first.claim(runId: "r1")
            first.releaseLock()
            #expect(!first.holds(runId: "r1"))
            let lost = #expect(throws: RunOwnershipError.self) { try first.renew(runId: "r1") }
            #expect(lost?.kind == .lost)
            #expect(lost?.description.contains("no longer owns run r1") == true)
            #expect(throws: RunOwnershipError.self) { try first.claim(runId: "r2") }

            let second = try WorkspaceLockOwnership(layout: layout)
            try second.claim(runId: "r1")
            #expect(second.holds(runId: "r1"))
        }
    }

    @Test func ownerRecordsCarryTheHost() {
        let here = OwnerIdentity.current
        #expect(here.hostId == OwnerIdentity.thisHost && !here.hostId.isEmpty && here.pid == getpid())
        #expect(OwnerIdentity(recordText: here.recordLines) == here)
        #expect(here.description == "pid \(getpid())")

        let there = OwnerIdentity(hostId: "elsewhere", pid: 7)
        #expect(OwnerIdentity(recordText: there.recordLines) == there)
        #expect(!there.isOnThisHost && there.description == "pid 7 on host elsewhere")

        // A bare pid (what lock files held before host ids) is this host's.
        #expect(OwnerIdentity(recordText: "123\n") == OwnerIdentity(hostId: OwnerIdentity.thisHost, pid: 123))
        #expect(OwnerIdentity(recordText: "") == nil)
        #expect(OwnerIdentity(recordText: "host=x\n") == nil)
    }
}
