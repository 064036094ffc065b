import DroverEngine
import DroverProtocol
import DroverStore
import Foundation
import Testing

/// The stores encode a run's snapshot reusing the JSON of its unchanged steps (`SnapshotEncoder`):
/// what they store must be exactly the run the events fold to, encoded whole.
@Suite struct SnapshotEncodingTests {
    @Test func everySnapshotOfARealRunEqualsItsReplayedEventsEncodedWhole() async throws {
        let steps = (1...5).map { #"{"id": "s\#($0)", "kind": "agent", "prompt": "step \#($0) of {{task}}", "agent": \#(EngineHarness.fakeAgent)}"# }
        let h = try await EngineHarness.make(files: [
            "config/pipelines/five.json": #"{"name": "Five", "steps": [\#(steps.joined(separator: ","))]}"#,
        ])
        let run = try await h.start("five")
        for index in 1...5 {
            let launch = try await h.nextLaunch("s\(index)", attempt: 1)
            launch.handle.emit(.usage(AgentUsage(model: "m", inputTokens: index, outputTokens: 1, reportedCostUSD: nil)))
            if index == 3 {
                launch.handle.finish(.decision(question: "Which way?", options: ["left", "right"]))
                let asked = try await h.next("decision.requested", of: run.id)
                guard case .decisionRequested(let decision) = asked.body else { Issue.record("not a decision"); return }
                _ = try await h.engine.resolveDecision(DecisionResolveRequest(runId: run.id, decisionId: decision.decisionId, choice: "left"))
                try await h.nextLaunch("s3", attempt: 2).handle.finish(.completed(output: "went left"))
            } else {
                launch.handle.finish(.completed(output: "output of s\(index)"))
            }
        }
        try await h.next("run.completed", of: run.id)

        let encoder = SnapshotEncoder()
        var folded: Run?
        for event in h.store.allEvents(run.id) {
            folded = try RunReducer.apply(event, to: folded)
            let snapshot = try #require(folded)
            let reused = try encoder.encode(snapshot)
            #expect(reused == (try EventCodec().encodeSnapshot(snapshot)), "after seq \(event.seq) (\(event.type))")
            #expect(try EventCodec().decodeSnapshot(Data(reused), runId: run.id) == snapshot)
        }
        #expect(folded == (try await h.engine.getRun(run.id)), "the stored snapshot is the fold of the stored events")
    }

    /// Steps added, removed or changed, runs interleaved, a run ended and then retried: the bytes never
    /// differ from encoding the run whole.
    @Test func reusedStepsNeverChangeTheBytes() throws {
        let encoder = SnapshotEncoder(rememberedRuns: 2)
        func run(_ id: String, _ states: [StepState], status: RunStatus = .running, output: String? = nil) -> Run {
            Run(id: id, pipelineId: "p", task: "t", status: status, createdAt: "2026-01-01T00:00:00.000Z", updatedAt: "2026-01-01T00:00:00.000Z",
                steps: states.enumerated().map { Step(id: "s\($0.offset)", kind: .agent, state: $0.element, output: $0.element == .done ? output : nil) })
        }
        let sequence = [
            run("a", [.pending, .pending]), run("b", [.working]), run("a", [.working, .pending]),
            run("a", [.done, .pending], output: "x"), run("a", [.done, .working], output: "y"), run("c", [.pending]),
            run("a", [.done, .done, .pending], output: "z"), run("a", [.done], output: "z"), run("a", [.done], status: .done, output: "z"),
            run("a", [.pending], status: .running), run("b", [.done], status: .failed), run("d", []), run("d", [.pending]),
        ]
        for snapshot in sequence {
            #expect(try encoder.encode(snapshot) == (try EventCodec().encodeSnapshot(snapshot)), "\(snapshot.id) \(snapshot.steps.map(\.state))")
        }
    }
}
