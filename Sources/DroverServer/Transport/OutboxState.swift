import Foundation
import Synchronization

/// An `Outbox`'s queue behind its lock, and the loop of the one thread that writes it out.
///
/// Callers change the queue under the lock and never wait for the client; the writer thread takes
/// ready output under the lock and writes it outside it, then reports how much went out. One other
/// thread may write instead, when no one is writing: the stdin reader (`handleInput(_:)`).
final class OutboxState: Sendable {
    /// The queue and the writer's bookkeeping; only touched under the lock.
    struct State {
        var queue: OutputQueue
        /// The writer is waiting on `wake` and must be signalled when output becomes ready (or has not
        /// started: it starts the first time the stdin reader does not write what is ready itself).
        var writerParked = true
        var writerStarted = false
        /// The writer ends once nothing is ready (the outbox has gone).
        var writerStopping = false
        /// A batch is being written (by the writer thread, or by the stdin reader); no one else writes meanwhile.
        var writing = false
        /// The stdin reader is handling a read and will write what is ready itself: the writer
        /// thread is not woken meanwhile (a wake-up per answer costs more than the write).
        var readerHandlesInput = false
        /// The stdin reader, waiting until the backlog is within `limits.events`.
        var roomWaiter: DispatchSemaphore?
        /// `finish(timeout:)` callers waiting for everything to be written, by token.
        var drainWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextDrainToken = 0
        var onPeerGone: (@Sendable () -> Void)?
        /// A write failed: the client closed its end; nothing more is written.
        var peerGone = false

        var isDrained: Bool { peerGone || (!queue.hasReady && !writing) }

        /// What the writer needs now that the queue changed: to be woken or started if there is output for it.
        mutating func writerToWake() -> WriterWakeUp {
            guard writerParked, (queue.hasReady && !readerHandlesInput) || writerStopping else { return .none }
            if !writerStarted {
                // A writer never started has nothing to stop; it starts only for output.
                guard queue.hasReady && !readerHandlesInput else { return .none }
                writerStarted = true
                writerParked = false
                return .start
            }
            writerParked = false
            return .signal
        }
    }

    /// How to get the writer going (decided under the lock, done outside it).
    enum WriterWakeUp {
        case none, signal, start
    }

    private let state: Mutex<State>
    private let wake = DispatchSemaphore(value: 0)
    private let write: @Sendable ([UInt8]) -> Bool

    init(queue: OutputQueue, write: @escaping @Sendable ([UInt8]) -> Bool) {
        state = Mutex(State(queue: queue))
        self.write = write
    }

    /// Changes the queue under the lock and wakes the writer if that made output ready.
    @discardableResult
    func update<Result>(_ change: (inout State) -> Result) -> Result {
        let (result, wakeWriter) = state.withLock { state in
            let result = change(&state)
            return (result, state.writerToWake())
        }
        perform(wakeWriter)
        return result
    }

    private func perform(_ wakeUp: WriterWakeUp) {
        switch wakeUp {
        case .none:
            break
        case .signal:
            wake.signal()
        case .start:
            // Started on demand: most answers are written by the stdin reader itself, and a session (a
            // `drover serve` start-up above all) may never need the thread.
            let thread = Thread { self.runWriter() }
            thread.name = "drover-protocol-writer"
            thread.start()
        }
    }

    func onPeerGone(_ handler: @escaping @Sendable () -> Void) {
        let goneAlready = state.withLock { state in
            state.onPeerGone = handler
            return state.peerGone
        }
        if goneAlready { handler() }
    }

    func waitForRoom() {
        let waiter: DispatchSemaphore? = state.withLock { state in
            guard !state.queue.hasRoom, !state.queue.isClosed else { return nil }
            let waiter = DispatchSemaphore(value: 0)
            state.roomWaiter = waiter
            return waiter
        }
        waiter?.wait()
    }

    func finish(timeout: Duration) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let token: Int? = state.withLock { state in
                state.queue.close()
                if state.isDrained { return nil }
                let token = state.nextDrainToken
                state.nextDrainToken += 1
                state.drainWaiters[token] = continuation
                return token
            }
            guard let token else { return continuation.resume() }
            Task {
                try? await Task.sleep(for: timeout)
                self.state.withLock { $0.drainWaiters.removeValue(forKey: token) }?.resume()
            }
        }
    }

    /// Lets the writer end once nothing is ready.
    func stopWriter() {
        update { $0.writerStopping = true }
    }

    // MARK: The writer thread

    /// Runs `handle` (the stdin reader's handling of one read) corked, so its answers leave in one write,
    /// then writes what is ready on the calling thread, unless the writer thread is writing already (it
    /// then gets the rest). Returns whether the backlog leaves room to read on (else `waitForRoom()`).
    /// Cork and uncork ride on the locks this takes anyway: this runs once per request.
    func handleInput(_ handle: () -> Void) -> Bool {
        state.withLock { state in
            state.readerHandlesInput = true
            state.queue.cork()
        }
        handle()
        let (batch, wakeWriter, hasRoom): ([UInt8]?, WriterWakeUp, Bool) = state.withLock { state in
            state.readerHandlesInput = false
            state.queue.uncork()
            guard !state.writing, let batch = state.queue.take(maxBytes: Outbox.maxWriteBytes) else {
                return (nil, state.writerToWake(), state.queue.hasRoom || state.queue.isClosed)
            }
            state.writing = true
            return (batch, WriterWakeUp.none, true)
        }
        perform(wakeWriter)
        guard let batch else { return hasRoom }
        return wrote(batch, delivered: write(batch)).readOn
    }

    /// Writes ready output until stopped or the client has gone.
    func runWriter() {
        while true {
            switch nextStep() {
            case .write(let batch):
                guard wrote(batch, delivered: write(batch)).delivered else { return }
            case .park:
                wake.wait()
            case .stop:
                return
            }
        }
    }

    private enum WriterStep {
        case write([UInt8])
        case park
        case stop
    }

    private func nextStep() -> WriterStep {
        state.withLock { state in
            if !state.writing, let batch = state.queue.take(maxBytes: Outbox.maxWriteBytes) {
                state.writing = true
                return .write(batch)
            }
            if state.writerStopping { return .stop }
            state.writerParked = true
            return .park
        }
    }

    /// Records a finished write (its buffer goes back to the queue) and wakes whoever waited for it;
    /// returns whether writing goes on (`delivered`) and whether the reader may read on without
    /// `waitForRoom()` (`readOn`).
    private func wrote(_ batch: [UInt8], delivered: Bool) -> (delivered: Bool, readOn: Bool) {
        let (roomWaiter, drainWaiters, peerGoneHandler, wakeWriter, readOn) = state.withLock { state in
            state.writing = false
            if delivered {
                state.queue.written(batch.count)
                state.queue.recycle(batch)
            } else {
                state.queue.discard()
                state.peerGone = true
            }
            var roomWaiter: DispatchSemaphore?
            if state.queue.hasRoom || state.peerGone {
                roomWaiter = state.roomWaiter
                state.roomWaiter = nil
            }
            var drainWaiters: [CheckedContinuation<Void, Never>] = []
            // Checked first: this runs once per request, and there is rarely anyone waiting.
            if !state.drainWaiters.isEmpty, state.isDrained {
                drainWaiters = Array(state.drainWaiters.values)
                state.drainWaiters = [:]
            }
            // Output queued meanwhile is the writer thread's (it parks while another thread writes).
            return (roomWaiter, drainWaiters, delivered ? nil : state.onPeerGone, state.writerToWake(),
                    state.queue.hasRoom || state.queue.isClosed)
        }
        perform(wakeWriter)
        roomWaiter?.signal()
        for waiter in drainWaiters { waiter.resume() }
        peerGoneHandler?()
        return (delivered, readOn)
    }
}
