import Foundation

/// `"command": "auto"` of a tests step: the project's test command, found from the files in the run's
/// working directory. The first match wins, in this order: Package.swift → `swift test`; Cargo.toml →
/// `cargo test`; go.mod → `go test ./...`; package.json with a `test` script → that script through the
/// package manager its lock file names (pnpm, yarn, bun, else npm); pyproject.toml, setup.py or
/// pytest.ini → `pytest`; a Makefile with a `test` target → `make test`.
public enum TestCommandDetection {
    /// A detected command and the file that chose it.
    public struct Detected: Sendable, Hashable {
        public var argv: [String]
        /// Why this command, e.g. "Package.swift".
        public var reason: String
        /// The command as a person would type it.
        public var display: String { argv.joined(separator: " ") }
    }

    /// What `auto` looks for, in order: the failure message lists exactly this.
    public static let lookedFor = [
        "Package.swift (swift test)", "Cargo.toml (cargo test)", "go.mod (go test ./...)",
        "package.json with a \"test\" script (pnpm/yarn/bun/npm test, by lock file)",
        "pyproject.toml, setup.py or pytest.ini (pytest)", "a Makefile with a 'test' target (make test)",
    ]

    /// No test command could be found: the step fails with kind `tests` and this message.
    public struct NotFound: Error, CustomStringConvertible, Sendable {
        public var directory: String
        public var description: String {
            "\"command\": \"auto\" found no test command in \(directory). It looked for, in order: "
                + TestCommandDetection.lookedFor.joined(separator: "; ") + "."
        }
        /// What to do about it.
        public var hint: String {
            "Give the tests step its command (e.g. \"command\": [\"make\", \"check\"]) in a copy of the pipeline "
                + "(.drover/pipelines/<id>.json), or add a 'test' target to the project's Makefile"
        }
    }

    /// The test command for the project in `directory`, or `NotFound`.
    public static func detect(in directory: String) throws(NotFound) -> Detected {
        let folder = URL(fileURLWithPath: directory, isDirectory: true)
        func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path) }
        func text(_ name: String) -> String? { try? String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8) }

        if exists("Package.swift") { return Detected(argv: ["swift", "test"], reason: "Package.swift") }
        if exists("Cargo.toml") { return Detected(argv: ["cargo", "test"], reason: "Cargo.toml") }
        if exists("go.mod") { return Detected(argv: ["go", "test", "./..."], reason: "go.mod") }
        if let manifest = text("package.json"), hasTestScript(packageJSON: manifest) {
            for (lockFile, runner) in [("pnpm-lock.yaml", ["pnpm", "test"]), ("yarn.lock", ["yarn", "test"]),
                                       ("bun.lockb", ["bun", "run", "test"]), ("bun.lock", ["bun", "run", "test"])]
            where exists(lockFile) {
                return Detected(argv: runner, reason: "package.json's test script, \(lockFile)")
            }
            return Detected(argv: ["npm", "test"], reason: "package.json's test script")
        }
        for marker in ["pyproject.toml", "setup.py", "pytest.ini"] where exists(marker) {
            return Detected(argv: ["pytest"], reason: marker)
        }
        for makefile in ["GNUmakefile", "makefile", "Makefile"] {
            if let rules = text(makefile), hasTestTarget(makefile: rules) {
                return Detected(argv: ["make", "test"], reason: "\(makefile)'s test target")
            }
        }
        throw NotFound(directory: directory)
    }

    /// Whether package.json has a `scripts.test` that is not npm's placeholder ("no test specified").
    static func hasTestScript(packageJSON: String) -> Bool {
        guard let data = packageJSON.data(using: .utf8),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let scripts = object["scripts"] as? [String: Any], let test = scripts["test"] as? String else { return false }
        return !test.trimmingCharacters(in: .whitespaces).isEmpty && !test.contains("Error: no test specified")
    }

    /// Whether a Makefile has a rule whose targets include `test` (`test:`, `check test:`; not `test := …`).
    static func hasTestTarget(makefile: String) -> Bool {
        for line in makefile.split(separator: "\n") where !line.hasPrefix("\t") && !line.hasPrefix("#") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let after = line[line.index(after: colon)...]
            if after.hasPrefix("=") { continue } // `test := value` assigns a variable
            let targets = line[..<colon].split(whereSeparator: { $0 == " " || $0 == "\t" })
            if targets.contains("test") { return true }
        }
        return false
    }
}
