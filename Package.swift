// swift-tools-version:6.1
import Foundation
import PackageDescription

// `drover --version` names the commit it was built from (SwiftPM reads it from the checkout).
let commit: String = {
    guard let git = Context.gitInformation else { return "unknown" }
    return String(git.currentCommit.prefix(12)) + (git.hasUncommittedChanges ? "+dirty" : "")
}()

/// DroverPostgres, linked only with the PostgreSQL trait (on by default).
let postgres = Target.Dependency.target(name: "DroverPostgres", condition: .when(traits: ["PostgreSQL"]))

/// Release builds on Linux put the functions that run at start-up side by side at the start of the
/// executable's code (README, Benchmarks, Start-up): each Swift function gets its own section, and the
/// linker (lld, shipped with the toolchain) lays out those named in Sources/drover/startup.order first —
/// written by Tests/Bench/startup_order.py. A stale list only costs speed: names the code no longer has
/// are skipped quietly, and without the file the link is the default one.
let releaseOnLinux = BuildSettingCondition.when(platforms: [.linux], configuration: .release)
let functionSections = [SwiftSetting.unsafeFlags(["-Xfrontend", "-function-sections"], releaseOnLinux)]
let startupOrderFile = Context.packageDirectory + "/Sources/drover/startup.order"
let startupOrder = FileManager.default.fileExists(atPath: startupOrderFile) ? [LinkerSetting.unsafeFlags(
    ["-use-ld=lld", "-Xlinker", "--symbol-ordering-file=" + startupOrderFile, "-Xlinker", "--no-warn-symbol-ordering"],
    releaseOnLinux)] : []

let package = Package(
    name: "drover",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "drover", targets: ["drover"]),
        .executable(name: "drover-bench", targets: ["drover-bench"]),
    ],
    // The PostgreSQL store links the system libpq, which has no fully static form on Debian (its
    // static archive needs libpgport, GSSAPI and LDAP archives that are not shipped), so the static
    // release build (README, Install) turns it off with `--disable-default-traits`.
    traits: [
        .trait(name: "PostgreSQL", description: "The PostgreSQL store (`--store postgres://…`), through the system libpq"),
        .default(enabledTraits: ["PostgreSQL"]),
    ],
    targets: [
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ"),
        .target(name: "CBuildInfo", cSettings: [.define("DROVER_COMMIT", to: "\"\(commit)\"")]),
        // pipe2 and the GNU spawn actions, which Swift's Glibc module does not import (see SpawnFunctions).
        .target(name: "CSpawn"),
        // sched_setattr (a thread's time slice), which glibc before 2.41 does not wrap (see ReaderSlice).
        .target(name: "CSched"),
        .target(name: "DroverSupport", swiftSettings: functionSections),
        .target(name: "DroverProtocol", swiftSettings: functionSections),
        // The store seam: what the engine needs from storage and run ownership, with no backend in it.
        .target(name: "DroverStore", dependencies: ["DroverProtocol"], swiftSettings: functionSections),
        // The SQLite backend; only the executables wire it in, so the engine never links SQLite.
        .target(name: "DroverSQLite", dependencies: ["DroverStore", "DroverProtocol", "CSQLite"], swiftSettings: functionSections),
        // The PostgreSQL backend (system libpq): a store many engines on many machines can share.
        .target(name: "DroverPostgres", dependencies: ["DroverStore", "DroverProtocol", "CLibPQ"], swiftSettings: functionSections),
        .target(name: "DroverEngine", dependencies: ["DroverStore", "DroverProtocol", "DroverSupport", "CSpawn"], swiftSettings: functionSections),
        .target(name: "DroverServer", dependencies: ["DroverEngine", "DroverStore", "DroverProtocol", "DroverSupport", "CSched"], swiftSettings: functionSections),
        .target(name: "DroverFakeAgent", dependencies: ["DroverEngine", "DroverProtocol", "DroverSupport"], swiftSettings: functionSections),
        .executableTarget(
            name: "drover",
            dependencies: ["DroverServer", "DroverEngine", "DroverFakeAgent", "DroverSQLite", postgres, "DroverStore", "DroverProtocol",
                           "DroverSupport", "CBuildInfo"],
            exclude: ["startup.order"], swiftSettings: functionSections, linkerSettings: startupOrder),
        .executableTarget(
            name: "drover-bench", dependencies: ["DroverServer", "DroverEngine", "DroverSQLite", postgres, "DroverStore", "DroverProtocol", "DroverSupport", "CSQLite"]),
        .testTarget(name: "DroverProtocolTests", dependencies: ["DroverProtocol"]),
        // Starts a throwaway PostgreSQL server (initdb + pg_ctl) for the tests that need one.
        .target(name: "PostgresTestServer", path: "Tests/PostgresTestServer"),
        .testTarget(
            name: "DroverStoreTests",
            dependencies: ["DroverStore", "DroverSQLite", postgres, "DroverProtocol", "CSQLite", "PostgresTestServer"]),
        .testTarget(name: "DroverEngineTests", dependencies: ["DroverEngine", "DroverFakeAgent", "DroverStore", "DroverProtocol", "PostgresTestServer"]),
        .testTarget(name: "DroverServerTests", dependencies: ["DroverServer", "DroverEngine", "DroverProtocol", "DroverSupport", "PostgresTestServer", "CSched"]),
        .testTarget(name: "EndToEndTests", dependencies: ["DroverProtocol", "DroverSupport", "PostgresTestServer"]),
    ],
    swiftLanguageModes: [.v6]
)
