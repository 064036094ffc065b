import DroverEngine
import DroverProtocol
import Foundation
import PostgresTestServer

/// Records everything an engine tells its listeners, and lets a test wait for what comes next.
///
/// `@unchecked Sendable`: `outputs` and `cursor` are only touched while `lock` is held.
final class EventRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var outputs: [EngineOutput] = []
    private var cursor = 0
    private let condition = AsyncCondition()

    /// Subscribes to `engine`.
    static func attach(to engine: Engine) async -> EventRecorder {
        let recorder = EventRecorder()
        _ = await engine.addListener { recorder.record($0) }
        return recorder
    }

    func record(_ output: EngineOutput) {
        lock.withLock { outputs.append(output) }
        condition.signalAll()
    }

    /// Every event so far.
    var events: [Event] {
        lock.withLock { outputs.compactMap { if case .event(let event) = $0 { event } else { nil } } }
    }

    /// Every log notification so far.
    var logs: [RunLogNotification] {
        lock.withLock { outputs.compactMap { if case .log(let log) = $0 { log } else { nil } } }
    }

    /// The next event after the previous match that satisfies `matching`, waiting up to `timeout`.
    @discardableResult
    func nextEvent(timeout: Duration = hangBound, matching: @escaping (Event) -> Bool) async throws -> Event {
        let deadline = ContinuousClock.now + timeout
        while true {
            // `seen` is counted in the same critical section as the scan: counted after it, an event
            // recorded in between (its signal already sent) would be counted as seen but never scanned,
            // and this would sleep to the deadline with the event in hand.
            let (found, seen): (Event?, Int) = lock.withLock {
                while cursor < outputs.count {
                    defer { cursor += 1 }
                    if case .event(let event) = outputs[cursor], matching(event) { return (event, outputs.count) }
                }
                return (nil, outputs.count)
            }
            if let found { return found }
            guard ContinuousClock.now < deadline else { throw TestTimeout(what: "an event; seen: \(events.map(\.type))") }
            await condition.wait(until: deadline) { [self] in lock.withLock { outputs.count > seen } }
        }
    }

    /// The next event of the given wire type.
    @discardableResult
    func next(_ type: String, timeout: Duration = hangBound) async throws -> Event {
        try await nextEvent(timeout: timeout) { $0.type == type }
    }
}
