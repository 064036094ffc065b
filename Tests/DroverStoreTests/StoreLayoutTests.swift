import DroverStore
import Foundation
import Testing

@Suite struct StoreLayoutTests {
    @Test(arguments: [
        ("a", true), ("Z", true), ("0", true), ("run-1", true), ("r_1.2-x", true), ("a.b.c", true),
        ("20260102-abc_DEF.1", true), (String(repeating: "a", count: 128), true),
        ("", false), ("../x", false), ("..", false), (".", false), ("a/b", false), ("/abs", false),
        ("a..b", false), ("x..", false), (".hidden", false), ("-flag", false), ("_x", false),
        ("a b", false), ("a\\b", false), ("a\nb", false), ("a\u{0}b", false), ("é", false), ("a:b", false),
        ("~", false), (String(repeating: "a", count: 129), false), (String(repeating: "a", count: 200), false),
    ])
    func idValidation(_ id: String, _ valid: Bool) {
        #expect(StoreLayout.isValidID(id) == valid, "\(id.debugDescription)")
    }

    @Test func pathsLiveUnderDotDrover() throws {
        let layout = StoreLayout(workspace: URL(fileURLWithPath: "/work/project"))
        #expect(layout.root.path == "/work/project/.drover")
        #expect(layout.databasePath == "/work/project/.drover/drover.db")
        #expect(layout.lockPath == "/work/project/.drover/engine.lock")
        #expect(layout.logsDirectory.path == "/work/project/.drover/logs")
        #expect(try layout.logFile(runId: "r1", stepId: "plan", attempt: 2).path == "/work/project/.drover/logs/r1@plan.2.log")
        #expect(layout.agentTablePath == "/work/project/.drover/agents")
        #expect(try layout.agentRecordFile(runId: "r1", stepId: "plan", attempt: 2).path == "/work/project/.drover/logs/r1/plan.2.pid")
    }

    @Test(arguments: [("../x", "plan"), ("r1", "../../etc/passwd"), ("a/b", "plan"), ("r1", ""), ("", "plan")])
    func logFileRefusesBadIDs(_ runId: String, _ stepId: String) {
        let layout = StoreLayout(workspace: URL(fileURLWithPath: "/work/project"))
        let error = #expect(throws: StoreError.self) { try layout.logFile(runId: runId, stepId: stepId, attempt: 1) }
        #expect(error?.kind == .invalidID)
        #expect(error?.message.contains("invalid") == true)
        #expect(throws: StoreError.self) { try layout.agentRecordFile(runId: runId, stepId: stepId, attempt: 1) }
    }

    @Test func prepareMakesUserOnlyFoldersAndIgnoresThemInGit() throws {
        try withTemporaryDirectory { dir in
            let layout = StoreLayout(workspace: dir)
            try layout.prepare()
            #expect(try permissions(layout.root.path) == 0o700)
            #expect(try permissions(layout.logsDirectory.path) == 0o700)
            #expect(try String(contentsOfFile: layout.gitignorePath, encoding: .utf8) == "*\n")
            #expect(try FileManager.default.contentsOfDirectory(atPath: layout.root.path).sorted() == [".gitignore", "logs"])
        }
    }

    @Test func prepareIsRepeatableAndKeepsAnExistingGitignore() throws {
        try withTemporaryDirectory { dir in
            let layout = StoreLayout(workspace: dir)
            try FileManager.default.createDirectory(at: layout.root, withIntermediateDirectories: true)
            #expect(chmod(layout.root.path, 0o755) == 0)
            try "custom\n".write(toFile: layout.gitignorePath, atomically: false, encoding: .utf8)

            try layout.prepare()
            try layout.prepare()
            #expect(try permissions(layout.root.path) == 0o700)  // tightened
            #expect(try String(contentsOfFile: layout.gitignorePath, encoding: .utf8) == "custom\n")
            #expect(FileManager.default.fileExists(atPath: layout.logsDirectory.path))
        }
    }

    // Root writes through any permission bits; the reliability suite's disk part covers a read-only mount as root.
    @Test("a store file the user cannot write is refused at prepare, naming it and why",
          .enabled(if: getuid() != 0, "root writes through permission bits"))
    func prepareRefusesAStoreItCannotWrite() throws {
        try withTemporaryDirectory { dir in
            let layout = StoreLayout(workspace: dir)
            try layout.prepare()
            #expect(FileManager.default.createFile(atPath: layout.databasePath, contents: Data(), attributes: [.posixPermissions: 0o400]))
            let error = #expect(throws: StoreError.self) { try layout.prepare() }
            #expect(error?.kind == .readOnly)
            #expect(error?.message.contains(layout.databasePath) == true && error?.message.contains("Permission denied") == true,
                    "\(error?.message ?? "")")
        }
    }

    @Test func prepareRefusesASymlinkedFolder() throws {
        try withTemporaryDirectory { dir in
            let elsewhere = dir.appendingPathComponent("elsewhere")
            try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
            let workspace = dir.appendingPathComponent("ws")
            try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
            let layout = StoreLayout(workspace: workspace)
            try FileManager.default.createSymbolicLink(atPath: layout.root.path, withDestinationPath: elsewhere.path)
            let error = #expect(throws: StoreError.self) { try layout.prepare() }
            #expect(error?.kind == .io)
            #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere.path).isEmpty)
        }
    }
}
