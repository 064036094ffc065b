import Foundation
import Synchronization

/// Carries elements from producing threads to one async consumer, holding at most about `capacity`
/// bytes of unread elements: `send` blocks its thread while the channel is full.
///
/// Between an agent's I/O thread and the engine, this is what keeps a flood of output from growing
/// memory: when the engine falls behind, the I/O thread stops reading, and the agent waits on its
/// pipe. The consumer must read until `nil` (after `finish()`), or a producer may wait forever;
/// never `send` from a task of the consumer's own executor while the channel may be full.
final class BoundedChannel<Element: Sendable>: AsyncSequence, Sendable {
    private struct State {
        var buffer: [Element] = []
        var bytes = 0
        var finished = false
        var consumer: CheckedContinuation<[Element], Never>?
        var producers: [DispatchSemaphore] = []
    }

    /// What `send` does after looking at the state.
    private enum SendStep {
        case done
        case resume(CheckedContinuation<[Element], Never>)
        case wait(DispatchSemaphore)
    }

    private let state = Mutex(State())
    private let capacity: Int
    private let cost: @Sendable (Element) -> Int

    /// - Parameters:
    ///   - capacity: bytes of unread elements beyond which `send` waits (one element always fits).
    ///   - cost: an element's size in bytes, for `capacity`.
    init(capacity: Int, cost: @escaping @Sendable (Element) -> Int) {
        self.capacity = capacity
        self.cost = cost
    }

    /// Hands `element` on, first waiting while the channel is full; dropped after `finish()`.
    func send(_ element: Element) {
        let size = cost(element)
        while true {
            let step: SendStep = state.withLock { state in
                if state.finished { return .done }
                if let consumer = state.consumer {
                    state.consumer = nil
                    return .resume(consumer)
                }
                guard state.bytes == 0 || state.bytes + size <= capacity else {
                    let waiter = DispatchSemaphore(value: 0)
                    state.producers.append(waiter)
                    return .wait(waiter)
                }
                state.buffer.append(element)
                state.bytes += size
                return .done
            }
            switch step {
            case .done: return
            case .resume(let consumer): return consumer.resume(returning: [element])
            case .wait(let waiter): waiter.wait()
            }
        }
    }

    /// Ends the sequence once the consumer has read what was sent.
    func finish() {
        let (consumer, producers) = state.withLock { state in
            state.finished = true
            defer {
                state.consumer = nil
                state.producers = []
            }
            return (state.consumer, state.producers)
        }
        consumer?.resume(returning: [])
        for producer in producers { producer.signal() }
    }

    /// Everything unread, in order, waiting for at least one element; empty at the end. A consumer
    /// that handles a batch at a time (the engine: one commit per batch) reads with this.
    func nextBatch() async -> [Element] {
        await takeAll()
    }

    /// Everything unread, waiting for at least one element; empty at the end.
    private func takeAll() async -> [Element] {
        await withCheckedContinuation { continuation in
            let (taken, producers): ([Element]?, [DispatchSemaphore]) = state.withLock { state in
                guard state.buffer.isEmpty else {
                    defer {
                        state.buffer = []
                        state.bytes = 0
                        state.producers = []
                    }
                    return (state.buffer, state.producers)
                }
                if state.finished { return ([], []) }
                state.consumer = continuation
                return (nil, [])
            }
            for producer in producers { producer.signal() }
            if let taken { continuation.resume(returning: taken) }
        }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let channel: BoundedChannel
        var batch: [Element] = []
        var index = 0

        /// The next element; takes what has piled up in one go, so a flood costs one wake-up per batch.
        mutating func next() async -> Element? {
            if index == batch.count {
                batch = await channel.takeAll()
                index = 0
                if batch.isEmpty { return nil }
            }
            defer { index += 1 }
            return batch[index]
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(channel: self)
    }
}
