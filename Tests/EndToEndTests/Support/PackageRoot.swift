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

    /// Tests/Agents: the scripted model servers, the CLI locators and recorded transcripts.
    static var agentsFolder: URL { url.appendingPathComponent("Tests/Agents") }
}
