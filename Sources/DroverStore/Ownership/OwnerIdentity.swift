import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Who holds something (a workspace, a run, an agent's process group): a host and a process on it.
///
/// A pid means something on its own host only, so every owner record carries the host id too: a
/// record written on another host is never taken for a process here (never signalled, never reaped).
public struct OwnerIdentity: Sendable, Hashable, CustomStringConvertible {
    /// The host the owner runs on (see `thisHost`).
    public var hostId: String
    /// The owner's pid on that host.
    public var pid: Int32

    public init(hostId: String, pid: Int32) {
        self.hostId = hostId
        self.pid = pid
    }

    /// This process.
    public static let current = OwnerIdentity(hostId: thisHost, pid: getpid())

    /// Whether the owner runs on this host, so its pid names a process here.
    public var isOnThisHost: Bool { hostId == Self.thisHost }

    /// "pid 123", or "pid 123 on host ab12…" for another host's owner.
    public var description: String { isOnThisHost ? "pid \(pid)" : "pid \(pid) on host \(hostId)" }

    /// This host's id: the machine id (`/etc/machine-id`, stable across reboots and distinct per
    /// machine and per container image), else the host name.
    public static let thisHost: String = {
        for path in ["/etc/machine-id", "/var/lib/dbus/machine-id"] {
            if let text = try? String(contentsOfFile: path, encoding: .utf8) {
                let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
                if !id.isEmpty { return id }
            }
        }
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return "unknown-host" }
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    // MARK: Record text

    /// `pid=…` and `host=…` lines, for the files that record an owner.
    public var recordLines: String { "pid=\(pid)\nhost=\(hostId)\n" }

    /// Parses `recordLines` (other `key=value` lines are ignored). A bare pid, as older builds wrote,
    /// or a record without a host line, is taken as this host's: those builds only ran host-local.
    public init?(recordText text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if let pid = Int32(trimmed) {
            self.init(hostId: Self.thisHost, pid: pid)
            return
        }
        var fields: [Substring: Substring] = [:]
        for line in trimmed.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            fields[line[..<equals]] = line[line.index(after: equals)...]
        }
        guard let pid = fields["pid"].flatMap({ Int32($0) }) else { return nil }
        self.init(hostId: fields["host"].map(String.init) ?? Self.thisHost, pid: pid)
    }
}
