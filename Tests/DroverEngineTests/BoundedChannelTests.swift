@testable import DroverEngine
import Foundation
import Synchronization
import Testing

@Suite("BoundedChannel")
struct BoundedChannelTests {
    @Test("every element arrives in order, and the sequence ends after finish")
    func order() async {
        let channel = BoundedChannel<Int>(capacity: 100, cost: { _ in 10 })
        let producer = Thread {
            for value in 1...10_000 { channel.send(value) }
            channel.finish()
        }
        producer.start()
        var received: [Int] = []
        for await value in channel { received.append(value) }
        #expect(received == Array(1...10_000))
    }

    @Test("a producer waits while the channel is full, and goes on as the consumer reads")
    func backpressure() async throws {
        let channel = BoundedChannel<Int>(capacity: 100, cost: { _ in 10 })
        let sent = Atomic<Int>(0)
        let producer = Thread {
            for value in 1...50 {
                channel.send(value)
                sent.store(value, ordering: .relaxed)
            }
            channel.finish()
        }
        producer.start()
        let deadline = ContinuousClock.now + .seconds(10)
        while sent.load(ordering: .relaxed) < 10, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(2))  // polling interval, not synchronisation
        }
        try await Task.sleep(for: .milliseconds(50))  // a producer that does not wait would get further
        let sentWhileUnread = sent.load(ordering: .relaxed)
        #expect(sentWhileUnread == 10, "a full channel (10 elements of 10 bytes) holds the producer")
        var count = 0
        for await _ in channel { count += 1 }
        #expect(count == 50)
    }

    @Test("one element larger than the capacity still goes through")
    func oversized() async {
        let channel = BoundedChannel<String>(capacity: 10, cost: { $0.utf8.count })
        channel.send(String(repeating: "x", count: 1_000))
        channel.finish()
        var received: [String] = []
        for await value in channel { received.append(value) }
        #expect(received.map(\.count) == [1_000])
    }
}
