import DroverProtocol
import Foundation

/// A request handler: decodes its typed params, does the work, returns the encoded result.
public struct MethodHandler: Sendable {
    /// Whether the request changes a run (its response is then written before the events it causes).
    public let changesRuns: Bool
    let handle: @Sendable (IncomingMessage, MessageDecoder) async throws -> [UInt8]

    /// A handler for request type `R`, whose `body` receives decoded params and returns `R.Response`.
    /// `changesRuns`: the request changes a run, so its response goes out before the events it causes.
    public static func typed<R: RequestType>(
        _: R.Type, changesRuns: Bool = false, _ body: @escaping @Sendable (R) async throws -> R.Response
    ) -> MethodHandler {
        MethodHandler(changesRuns: changesRuns) { message, decoder in
            let params = try decoder.params(R.self, from: message)
            let result = try await body(params)
            // The same bytes as JSONCoding.makeEncoder(), without JSONEncoder's cold start and casts.
            return try JSONValueEncoder.encodeBytes(result)
        }
    }
}
