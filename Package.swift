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
        .target(name: "DroverEngine", dependencies: ["DroverProtocol", "DroverSupport", "CSQLite"]),
        .target(name: "DroverServer", dependencies: ["DroverEngine", "DroverProtocol", "DroverSupport"]),
        .target(name: "DroverFakeAgent", dependencies: ["DroverEngine", "DroverProtocol", "DroverSupport"]),
        .executableTarget(name: "drover", dependencies: ["DroverServer", "DroverEngine", "DroverFakeAgent", "DroverProtocol", "DroverSupport", "CBuildInfo"]),
        .executableTarget(name: "drover-bench", dependencies: ["DroverServer", "DroverEngine", "DroverProtocol"]),
        .testTarget(name: "DroverProtocolTests", dependencies: ["DroverProtocol"]),
        .testTarget(name: "DroverEngineTests", dependencies: ["DroverEngine", "DroverFakeAgent", "DroverProtocol"]),
        .testTarget(name: "DroverServerTests", dependencies: ["DroverServer", "DroverEngine", "DroverProtocol", "DroverSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["DroverProtocol"]),
    ],
    swiftLanguageModes: [.v6]
)
