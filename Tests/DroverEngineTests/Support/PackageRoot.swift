import Foundation

/// The package's root folder (the one holding Package.swift), found from this file's path: where tests
/// find the built binary and the files under Tests/.
enum PackageRoot {
    static let url: URL = {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while directory.path != "/" && !FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
            directory.deleteLastPathComponent()
        }
        return directory
    }()

    /// The lines of a transcript recorded from a real agent CLI (Tests/Agents/transcripts/`name`).
    static func transcript(_ name: String) throws -> [String] {
        let file = url.appendingPathComponent("Tests/Agents/transcripts/\(name)")
        return try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map(String.init)
    }
}
