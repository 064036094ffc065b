import DroverProtocol
import Foundation

extension Connection {
    /// Feeds this connection from `fd` until end of input on the calling thread, then ends it as
    /// `exit` would. Answers ready at once leave from this thread (no hand-off); nothing more is read
    /// while the client is far behind reading the answers (the outbox is full) or while
    /// `maxPendingAnswers` answers (or `maxPendingRequestBytes` of requests) are being worked on, so a
    /// client that floods requests is held back instead of queueing tasks (and the requests they hold)
    /// without bound.
    ///
    /// The one read loop of `drover serve --no-daemon` (stdin) and of each engine client (its socket,
    /// or the stdin `drover serve` handed over: then `first` is what serve had read of it already, and
    /// the session also ends when `endsWith`, serve's socket, becomes readable — serve has gone).
    public func readUntilEnd(fd: Int32, first: [UInt8] = [], endsWith: Int32? = nil, parser: MessageParser) {
        StdioChannel.readUntilEnd(
            fd: fd, first: first, endsWith: endsWith, parser: parser,
            onInputs: { inputs, framing in
                // Corked by `handleInput`: the answers to this read leave in one write.
                let hasRoom = self.outbox.handleInput { for input in inputs { self.receive(input, framing: framing) } }
                self.startSessionIfAnswered()
                if !hasRoom { self.outbox.waitForRoom() }
                self.waitForRoom()
            },
            onFramingDetected: { self.outbox.setFraming($0) },
            onEnd: { self.endOfInput() })
    }
}
