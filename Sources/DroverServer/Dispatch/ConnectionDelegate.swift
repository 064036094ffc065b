import DroverProtocol

/// What a connection needs from the layer that implements the methods.
///
/// The connection owns the protocol rules (framing, lifecycle, batches, cancellation);
/// the delegate owns the work.
public protocol ConnectionDelegate: Sendable {
    /// Validates `initialize` and prepares the session. Runs synchronously on the reader so
    /// that messages after `initialize` see its outcome; throwing leaves the server uninitialized.
    func initialize(_ params: InitializeRequest, framing: Framing, outbox: Outbox) throws -> InitializeResult

    /// Finishes setting up after `initialize` succeeded; requests wait for it. Events it
    /// causes are written after the `initialize` response.
    func start() async

    /// The handler of a request method, nil if the method is unknown.
    func handler(for method: String) -> MethodHandler?

    /// `handler(for:)` of a method named by its UTF-8 bytes (how the connection asks: a request's
    /// method needs no String to be dispatched).
    func handler(named name: UnsafeBufferPointer<UInt8>) -> MethodHandler?

    /// Stops all work (running agents are interrupted). Called on `shutdown`, `exit` or EOF; may run twice.
    func shutdown() async
}

extension ConnectionDelegate {
    public func handler(named name: UnsafeBufferPointer<UInt8>) -> MethodHandler? {
        handler(for: String(decoding: name, as: UTF8.self))
    }
}
