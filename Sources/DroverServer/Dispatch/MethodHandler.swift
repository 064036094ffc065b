import DroverProtocol
import Foundation

/// A request handler: decodes its typed params, does the work, returns the encoded result.
public struct MethodHandler: Sendable {
    /// Whether the request changes a run (its response is then written before the events it causes).
    public let changesRuns: Bool
    let handle: @Sendable (IncomingMessage, MessageDecoder) async throws -> [UInt8]

    /// A handler for request type `R`, whose `body` receives decoded params and returns `R.Response`.
    public static func typed<R: RequestType>(
        _: R.Type, _ body: @escaping @Sendable (R) async throws -> R.Response
    ) -> MethodHandler {
        MethodHandler(changesRuns: R.changesRuns) { message, decoder in
            let params = try decoder.params(R.self, from: message)
            let result = try await body(params)
            // The same bytes as JSONCoding.makeEncoder(), without JSONEncoder's cold start and casts.
            return try JSONValueEncoder.encodeBytes(result)
        }
    }
}
