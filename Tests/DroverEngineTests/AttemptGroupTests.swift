import DroverProtocol
import Testing
@testable import DroverEngine

@Suite("AttemptGroup")
struct AttemptGroupTests {
    static func handle(_ pid: Int32) -> ScriptedHandle { ScriptedHandle(pid: pid, onReport: { _ in }) }

    @Test("stopping the group stops every candidate, also one launched after the stop")
    func stopReachesEveryCandidate() async {
        let group = AttemptGroup()
        let first = Self.handle(1), second = Self.handle(2), late = Self.handle(3)
        group.add(first)
        group.add(second)
        #expect(!first.wasTerminated && !second.wasTerminated)
        group.terminate(grace: .seconds(1))
        #expect(first.wasTerminated && second.wasTerminated)
        group.add(late)
        #expect(late.wasTerminated, "a candidate launched while the run was being stopped is stopped at once")
        for handle in [first, second, late] { handle.finish(.terminated) }
        #expect(await group.wait() == .terminated)
    }
}
