// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "drover",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "drover", targets: ["drover"]),
        .executable(name: "drover-bench", targets: ["drover-bench"]),
    ],
    targets: [
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        .target(name: "DroverProtocol"),
        // The store seam: what the engine needs from storage and run ownership, with no backend in it.
        .target(name: "DroverStore", dependencies: ["DroverProtocol"]),
        // The SQLite backend; only the executables wire it in, so the engine never links SQLite.
        .target(name: "DroverSQLite", dependencies: ["DroverStore", "DroverProtocol", "CSQLite"]),
        .target(name: "DroverEngine", dependencies: ["DroverStore", "DroverProtocol"]),
        .target(name: "DroverServer", dependencies: ["DroverEngine", "DroverStore", "DroverProtocol"]),
        .executableTarget(
            name: "drover", dependencies: ["DroverServer", "DroverEngine", "DroverSQLite", "DroverStore", "DroverProtocol"]),
        .executableTarget(
            name: "drover-bench", dependencies: ["DroverServer", "DroverEngine", "DroverSQLite", "DroverStore", "DroverProtocol"]),
        .testTarget(name: "DroverProtocolTests", dependencies: ["DroverProtocol"]),
        .testTarget(name: "DroverStoreTests", dependencies: ["DroverStore", "DroverSQLite", "DroverProtocol", "CSQLite"]),
        .testTarget(name: "DroverEngineTests", dependencies: ["DroverEngine", "DroverStore", "DroverProtocol"]),
        .testTarget(name: "DroverServerTests", dependencies: ["DroverServer", "DroverEngine", "DroverProtocol"]),
        .testTarget(name: "EndToEndTests", dependencies: ["DroverProtocol"]),
    ],
    swiftLanguageModes: [.v6]
)
