import CLibPQ
import DroverStore
import Foundation

/// A PostgreSQL store's address, `postgres://user:password@host:port/database?sslmode=…`, as libpq
/// reads it (every libpq URL parameter passes through: `sslmode`, `sslrootcert`, `options`, …).
///
/// The password never leaves this type except to libpq: `description` is `user@host:port/database`,
/// and `redact` removes the password from any text (libpq's own messages, a parse error) before it
/// reaches a message or a log. Without a password in the URL libpq reads `PGPASSFILE` (`~/.pgpass`).
public struct PostgresURL: Sendable, Hashable, CustomStringConvertible {
    /// The URL as given, for libpq only.
    let connectionString: String
    /// The password in the URL, if any, to scrub from messages.
    private let password: String?
    /// `user@host:port/database`, for messages.
    public let description: String

    /// Whether `text` is meant as a PostgreSQL URL (the schemes libpq accepts).
    public static func isPostgres(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// Parses `text` with libpq's own parser, so what is accepted here is what libpq will connect to.
    /// - Throws: `StoreError` `.invalidURL` saying what is wrong, without the password.
    public init(_ text: String) throws {
        let guessedPassword = Self.passwordInUserInfo(text)
        func invalid(_ reason: String) -> StoreError {
            StoreError(.invalidURL, Self.redact("invalid PostgreSQL store URL: \(reason)", password: guessedPassword))
        }
        guard Self.isPostgres(text) else {
            throw invalid("it must start with postgres:// or postgresql://, e.g. postgres://user@host:5432/drover")
        }
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(text, &errorMessage) else {
            let reason = errorMessage.map { String(cString: $0) } ?? "libpq cannot read it"
            if let errorMessage { PQfreemem(errorMessage) }
            throw invalid(Self.oneLine(reason))
        }
        defer { PQconninfoFree(options) }
        var values: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { values[String(cString: keyword)] = String(cString: value) }
            option += 1
        }
        connectionString = text
        password = values["password"] ?? guessedPassword
        let host = values["host"].flatMap { $0.isEmpty ? nil : $0 } ?? values["hostaddr"] ?? "localhost"
        let port = values["port"].flatMap { $0.isEmpty ? nil : $0 } ?? "5432"
        let user = values["user"].map { "\($0)@" } ?? ""
        let database = values["dbname"] ?? values["user"] ?? "(default database)"
        description = "\(user)\(host):\(port)/\(database)"
    }

    /// The URL as given, to hand a child drover process in its environment (`DROVER_STORE_URL`),
    /// never on its command line.
    public var environmentValue: String { connectionString }

    /// `text` with this URL's password replaced by `***`.
    public func redact(_ text: String) -> String { Self.redact(text, password: password) }

    static func redact(_ text: String, password: String?) -> String {
        guard let password, !password.isEmpty else { return text }
        var result = text.replacingOccurrences(of: password, with: "***")
        // A percent-encoded password may be echoed decoded or as written.
        if let decoded = password.removingPercentEncoding, !decoded.isEmpty {
            result = result.replacingOccurrences(of: decoded, with: "***")
        }
        return result
    }

    /// The `password` of `scheme://user:password@…`, as written (maybe percent-encoded).
    private static func passwordInUserInfo(_ text: String) -> String? {
        guard let schemeEnd = text.range(of: "://") else { return nil }
        let rest = text[schemeEnd.upperBound...]
        guard let at = rest.lastIndex(of: "@") else { return nil }
        let userInfo = rest[..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return nil }
        let password = userInfo[userInfo.index(after: colon)...]
        return password.isEmpty ? nil : String(password)
    }

    /// libpq's multi-line messages as one line.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " ")
    }
}
