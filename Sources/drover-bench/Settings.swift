/// Command-line settings of the engine benchmark.
struct Settings {
    /// The figures the benchmark can print; `--parts` picks some (all by default), e.g. to profile one.
    enum Part: String, CaseIterable {
        /// Events persisted+notified per second beside raw SQLite.
        case events
        /// Wall time per step of a pipeline of instant agents, and where the overhead goes.
        case steps
        /// Many runs at once: the engine's CPU against the agents'.
        case scale
        /// What encoding snapshots and events costs, through the JSON tree and as the stores do.
        case encoding
    }

    var steps = 50
    var events = 1000
    var rounds = 3
    /// A PostgreSQL store URL, or nil for the workspace's SQLite file.
    var storeURL: String?
    var runs = 100
    var parts = Set(Part.allCases)
    /// Leave the temporary workspace behind for the caller to delete (`--keep-workspace`): on an ext4
    /// without a journal, files deleted in the last ~30 s make every file created near them slower
    /// (`recently_deleted`), so a harness that runs the benchmark back to back deletes them at its end.
    var keepsWorkspace = false
    /// What was wrong with the arguments, if anything.
    var mistake: String?

    init(_ arguments: [String]) {
        var index = 0
        while index < arguments.count {
            if arguments[index] == "--keep-workspace" {
                keepsWorkspace = true
                index += 1
                continue
            }
            guard index + 1 < arguments.count else {
                mistake = "\(arguments[index]) needs a value"
                break
            }
            let value = Int(arguments[index + 1]) ?? 0
            switch arguments[index] {
            case "--steps": steps = max(1, value)
            case "--events": events = max(1, min(value, 1500))
            case "--rounds": rounds = max(1, value)
            case "--store": storeURL = arguments[index + 1] == "sqlite" ? nil : arguments[index + 1]
            case "--runs": runs = max(1, value)
            case "--parts":
                let names = arguments[index + 1].split(separator: ",").map(String.init)
                parts = Set(names.compactMap(Part.init(rawValue:)))
                if parts.count != names.count || parts.isEmpty {
                    mistake = "--parts takes a comma-separated list of \(Part.allCases.map(\.rawValue).joined(separator: ", ")); got '\(arguments[index + 1])'"
                }
            default: mistake = "unknown option \(arguments[index])"
            }
            index += 2
        }
    }
}
