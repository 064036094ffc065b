import DroverProtocol

/// What waits to be written to the client, in order, and what was shed because the client fell
/// behind. No I/O and no locking: `Outbox` owns one behind its lock, its writer thread drains it.
///
/// Ordering rules it keeps:
/// - while `holds > 0`, notifications wait in `held` (a run-changing request's answer goes first);
/// - while `corks > 0`, output collects into one buffer that becomes one write;
/// - per attempt, a `run/logsDropped` comes after the lines before the gap and before those after it;
///   per run, once an event is dropped every later one is too, until `run/eventsDropped` is queued.
struct OutputQueue {
    /// What a message is, which decides whether it may be shed.
    enum Kind: Equatable {
        /// A response (or batch of responses): always written.
        case answer
        /// A notification that is never shed (nothing replays it).
        case notification
        /// A `run/log` line and its log-file offset: shed first.
        case log(LogKey, offset: Int)
        /// A `run/event`: shed only beyond `limits.events`, and then announced.
        case event(runId: String, seq: Int)
    }

    /// The attempt a `run/log` line belongs to.
    struct LogKey: Hashable {
        var runId: String
        var stepId: String
        var attempt: Int
    }

    /// The lines of one attempt not sent: how many, and where the first starts in its log file.
    struct LogGap: Hashable {
        var lines: Int
        var fromOffset: Int
    }

    var framing: Framing
    let limits: OutboxLimits
    /// Bytes admitted and not yet reported written: ready, held, corked and in flight.
    private(set) var backlog = 0
    /// Framed output for the writer, oldest first; `next` is the first not yet taken.
    private var ready: [[UInt8]] = []
    private var next = 0
    private var holds = 0
    /// Notification bodies (unframed) waiting for the last `release()`.
    private var held: [[UInt8]] = []
    private var corks = 0
    private var corked: [UInt8] = []
    /// The size of the last corked piece: the next one reserves that much at once instead of growing.
    private var lastCorkedSize = 0
    /// A written batch's buffer, kept for the next corked piece: answering a request then allocates
    /// no buffer for its write (small ones only, so an idle connection holds little).
    private var spare: [UInt8] = []
    static let maxSpareBytes = 16 << 10
    /// Lines dropped per attempt since the last announcement, in the order gaps opened.
    private var droppedLogs: [LogKey: LogGap] = [:]
    private var logGaps: [LogKey] = []
    /// Per run, the last seq sent before its events were dropped, in the order gaps opened.
    private var droppedEvents: [String: Int] = [:]
    private var eventGaps: [String] = []
    /// Set once nothing more may be admitted (exit, or the client has gone).
    private(set) var isClosed = false

    init(framing: Framing, limits: OutboxLimits) {
        self.framing = framing
        self.limits = limits
    }

    /// Whether the writer has something to take.
    var hasReady: Bool { next < ready.count }

    /// Whether requests may be read: the backlog is within `limits.events`.
    var hasRoom: Bool { backlog < limits.events }

    /// Whether anything was shed and not yet announced.
    var hasGaps: Bool { !logGaps.isEmpty || !eventGaps.isEmpty }

    /// Queues `body` (unframed) unless it is shed or the queue is closed; returns whether it was taken.
    @discardableResult
    mutating func admit(_ body: [UInt8], as kind: Kind) -> Bool {
        guard !isClosed else { return false }
        switch kind {
        case .answer:
            emit(body)
            return true
        case .notification:
            break
        case .log(let key, let offset):
            if sheds(log: key, offset: offset, size: body.count) { return false }
        case .event(let runId, let seq):
            guard eventGaps.isEmpty, fits(body.count, within: limits.events) else {
                if droppedEvents[runId] == nil {
                    droppedEvents[runId] = seq - 1
                    eventGaps.append(runId)
                }
                return false
            }
        }
        if holds > 0 {
            held.append(body)
            backlog += body.count
        } else {
            emit(body)
        }
        return true
    }

    /// Whether a `run/log` line of `size` bytes at `offset` is shed now (the client is behind, or a gap
    /// is not yet announced); a shed line is counted against its attempt.
    mutating func sheds(log key: LogKey, offset: Int, size: Int) -> Bool {
        guard hasGaps || !fits(size, within: limits.logs) else { return false }
        if droppedLogs[key] == nil { logGaps.append(key) }
        droppedLogs[key, default: LogGap(lines: 0, fromOffset: offset)].lines += 1
        return true
    }

    mutating func hold() {
        holds += 1
    }

    /// Ends a hold; the last one queues the held notifications.
    mutating func release() {
        holds -= 1
        guard holds == 0, !held.isEmpty else { return }
        let bodies = held
        held = []
        for body in bodies {
            backlog -= body.count
            emit(body)
        }
    }

    mutating func cork() {
        corks += 1
    }

    /// Ends a cork; the last one queues what was collected as one piece (one write).
    mutating func uncork() {
        corks -= 1
        guard corks == 0, !corked.isEmpty else { return }
        lastCorkedSize = corked.count
        ready.append(corked)
        corked = []
    }

    /// Takes ready output for one write: whole messages, up to about `maxBytes` (at least one).
    /// The bytes stay in `backlog` until `written(_:)`.
    mutating func take(maxBytes: Int) -> [UInt8]? {
        guard next < ready.count else { return nil }
        var batch = ready[next]
        ready[next] = []
        next += 1
        while next < ready.count, batch.count + ready[next].count <= maxBytes {
            batch += ready[next]
            ready[next] = []
            next += 1
        }
        if next == ready.count {
            // The usual case (one answer ready, taken): emptied in place, without a range replaced.
            ready.removeAll(keepingCapacity: true)
            next = 0
        } else if next > 1024 {
            ready.removeFirst(next)
            next = 0
        }
        return batch
    }

    /// Reports `count` bytes of taken output written; once the backlog is down to `limits.resume`,
    /// announces what was shed.
    mutating func written(_ count: Int) {
        backlog -= count
        guard hasGaps, backlog <= limits.resume else { return }
        for runId in eventGaps {
            let notice = RunEventsDroppedNotification(runId: runId, afterSeq: droppedEvents[runId] ?? 0)
            admit(Outbox.notificationBody(method: RunEventsDroppedNotification.method, params: notice), as: .notification)
        }
        for key in logGaps {
            guard let gap = droppedLogs[key] else { continue }
            let notice = RunLogsDroppedNotification(runId: key.runId, stepId: key.stepId, attempt: key.attempt,
                                                    lines: gap.lines, fromOffset: gap.fromOffset)
            admit(Outbox.notificationBody(method: RunLogsDroppedNotification.method, params: notice), as: .notification)
        }
        droppedEvents = [:]
        eventGaps = []
        droppedLogs = [:]
        logGaps = []
    }

    /// Takes back the buffer of a batch that has been written, for the next corked piece.
    mutating func recycle(_ buffer: [UInt8]) {
        guard buffer.capacity <= Self.maxSpareBytes, spare.capacity == 0 else { return }
        spare = buffer
    }

    /// Admits nothing more; what is queued may still be written.
    mutating func close() {
        isClosed = true
    }

    /// Closes and forgets everything not yet written (the client has gone).
    mutating func discard() {
        isClosed = true
        ready = []
        next = 0
        held = []
        corked = []
        spare = []
        backlog = 0
    }

    /// Whether `size` more bytes keep the backlog within `limit`; a client that is not behind
    /// (backlog at most `limits.resume`) gets any single message, however large.
    private func fits(_ size: Int, within limit: Int) -> Bool {
        backlog <= limits.resume || backlog + size <= limit
    }

    private mutating func emit(_ body: [UInt8]) {
        if corks > 0 {
            // Framed straight into the corked write: no array per message.
            if corked.isEmpty {
                // The writer has let go of the spare by now, so emptying it keeps its storage.
                if corked.capacity == 0 { swap(&corked, &spare) }
                corked.removeAll(keepingCapacity: true)
                corked.reserveCapacity(max(lastCorkedSize, body.count + 32))
            }
            let before = corked.count
            framing.frame(body, into: &corked)
            backlog += corked.count - before
        } else {
            let framed = framing.frame(body)
            backlog += framed.count
            ready.append(framed)
        }
    }
}
