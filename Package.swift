// swift-tools-version:6.0
import PackageDescription

// `drover --version` names the commit it was built from (SwiftPM reads it from the checkout).
let commit: String = {
    guard let git = Context.gitInformation else { return "unknown" }
    return String(git.currentCommit.prefix(12)) + (git.hasUncommittedChanges ? "+dirty" : "")
}()

let package = Package(
    name: "drover",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "drover", targets: ["drover"]),
        .executable(name: "drover-bench", targets: ["drover-bench"]),
    ],
    targets: [
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        .target(name: "CBuildInfo", cSettings: [.define("DROVER_COMMIT", to: "\"\(commit)\"")]),
        .target(name: "DroverSupport"),
        .target(name: "DroverProtocol"),
        // The store seam: what the engine needs from storage and run ownership, with no backend in it.
        .target(name: "DroverStore", dependencies: ["DroverProtocol"]),
        // The SQLite backend; only the executables wire it in, so the engine never links SQLite.
        .target(name: "DroverSQLite", dependencies: ["DroverStore", "DroverProtocol", "CSQLite"]),
        .target(name: "DroverEngine", dependencies: ["DroverStore", "DroverProtocol", "DroverSupport"]),
        .target(name: "DroverServer", dependencies: ["DroverEngine", "DroverStore", "DroverProtocol", "DroverSupport"]),
        .target(name: "DroverFakeAgent", dependencies: ["DroverEngine", "DroverProtocol", "DroverSupport"]),
        .executableTarget(
            name: "drover",
            dependencies: ["DroverServer", "DroverEngine", "DroverFakeAgent", "DroverSQLite", "DroverStore", "DroverProtocol",
                           "DroverSupport", "CBuildInfo"]),
        .executableTarget(
            name: "drover-bench", dependencies: ["DroverServer", "DroverEngine", "DroverSQLite", "DroverStore", "DroverProtocol", "CSQLite"]),
        .testTarget(name: "DroverProtocolTests", dependencies: ["DroverProtocol"]),
        .testTarget(name: "DroverStoreTests", dependencies: ["DroverStore", "DroverSQLite", "DroverProtocol", "CSQLite"]),
        .testTarget(name: "DroverEngineTests", dependencies: ["DroverEngine", "DroverFakeAgent", "DroverStore", "DroverProtocol"]),
        .testTarget(name: "DroverServerTests", dependencies: ["DroverServer", "DroverEngine", "DroverProtocol", "DroverSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["DroverProtocol"]),
    ],
    swiftLanguageModes: [.v6]
)
