@testable import DroverEngine
import Foundation
import Testing

/// `"command": "auto"`: each ecosystem's marker picks its runner, in the order the docs give.
@Suite struct TestCommandDetectionTests {
    func detect(_ files: [String: String]) throws -> TestCommandDetection.Detected? {
        let dir = try TempDir()
        for (path, text) in files { try dir.write(path, text) }
        return try? TestCommandDetection.detect(in: dir.url.path)
    }

    @Test(arguments: [
        (["Package.swift": "// swift-tools-version:6.0"], "swift test"),
        (["Cargo.toml": "[package]"], "cargo test"),
        (["go.mod": "module x"], "go test ./..."),
        (["package.json": #"{"scripts": {"test": "vitest run"}}"#], "npm test"),
        (["package.json": #"{"scripts": {"test": "jest"}}"#, "package-lock.json": "{}"], "npm test"),
        (["package.json": #"{"scripts": {"test": "jest"}}"#, "pnpm-lock.yaml": ""], "pnpm test"),
        (["package.json": #"{"scripts": {"test": "jest"}}"#, "yarn.lock": ""], "yarn test"),
        (["package.json": #"{"scripts": {"test": "jest"}}"#, "bun.lockb": ""], "bun run test"),
        (["pyproject.toml": "[project]"], "pytest"),
        (["setup.py": ""], "pytest"),
        (["pytest.ini": "[pytest]"], "pytest"),
        (["Makefile": "all: build\n\ntest: all\n\t./run-tests\n"], "make test"),
        (["Makefile": ".PHONY: check test\ncheck test:\n\t./run\n"], "make test"),
    ])
    func eachEcosystem(files: [String: String], command: String) throws {
        #expect(try detect(files)?.display == command)
    }

    @Test func theFirstMatchWinsInTheDocumentedOrder() throws {
        #expect(try detect(["Makefile": "test:\n\ttrue\n", "go.mod": "", "Cargo.toml": ""])?.display == "cargo test")
        #expect(try detect(["Package.swift": "", "Cargo.toml": ""])?.display == "swift test")
        #expect(try detect(["pyproject.toml": "", "package.json": #"{"scripts": {"test": "t"}}"#])?.display == "npm test")
        #expect(try detect(["Makefile": "test:\n\ttrue\n", "setup.py": ""])?.reason == "setup.py")
    }

    @Test func markersThatDoNotCount() throws {
        // npm's placeholder script, no scripts, a Makefile without a test rule, `test` as a variable or a prerequisite.
        #expect(try detect(["package.json": #"{"scripts": {"test": "echo \"Error: no test specified\" && exit 1"}}"#]) == nil)
        #expect(try detect(["package.json": #"{"name": "x"}"#]) == nil)
        #expect(try detect(["Makefile": "test := 1\nbuild: test\n\tcc x.c\n# test:\n"]) == nil)
    }

    @Test func nothingFoundSaysWhatItLookedFor() throws {
        let dir = try TempDir()
        do {
            _ = try TestCommandDetection.detect(in: dir.url.path)
            Issue.record("expected NotFound")
        } catch {
            #expect(error.description.contains(dir.url.path))
            for marker in ["Package.swift", "Cargo.toml", "go.mod", "package.json", "pyproject.toml", "setup.py", "pytest.ini", "Makefile"] {
                #expect(error.description.contains(marker), "\(marker)")
            }
        }
    }
}
