import DroverProtocol
import Foundation

extension Connection {
    /// Feeds this connection from `fd` until end of input on the calling thread, then ends it as
    /// `exit` would. Answers ready at once leave from this thread (no hand-off); nothing more is read
    /// while the client is far behind reading the answers (the outbox is full) or while
    /// `maxPendingAnswers` answers are being worked on, so a client that floods requests is held
    /// back instead of queueing tasks (and the requests they hold) without bound.
    ///
    /// The one read loop of `drover serve --no-daemon` (stdin) and of each engine client (its socket).
    public func readUntilEnd(fd: Int32, parser: MessageParser) {
        StdioChannel.readUntilEnd(
            fd: fd, parser: parser,
            onInputs: { inputs, framing in
                self.outbox.handleInput { self.receive(inputs, framing: framing) }
                self.outbox.waitForRoom()
                self.waitForRoom()
            },
            onFramingDetected: { self.outbox.setFraming($0) },
            onEnd: { self.endOfInput() })
    }
}
