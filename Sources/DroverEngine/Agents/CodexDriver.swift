import DroverProtocol
import Foundation

/// `driver: codex`: the Codex CLI run headless (`codex exec --json`) on the step's prompt (given on stdin),
/// in the run's working directory; its JSONL events are read by `CodexEventReader`. An attempt that has
/// a thread to continue runs `codex exec resume --json … THREAD -`.
///
/// Toward least privilege: commands run in Codex's sandbox, `workspace-write` by default (bubblewrap on
/// Linux): writes only inside the working directory — not `/tmp`, not `$TMPDIR` —, `.git` read-only, no
/// network; approvals are never asked (nobody could answer them). So an agent cannot publish anything:
/// it can neither commit nor reach a remote. `read-only` narrows that; `danger-full-access` (no sandbox)
/// must be asked for by name. Web search and plugins are off; analytics too.
public struct CodexDriver: AgentDriver {
    /// The program run when the block has no `command`.
    public static let defaultCommand = "codex"
    /// The sandbox when the block names none.
    public static let defaultSandbox = "workspace-write"
    /// The sandboxes `codex exec` knows.
    public static let sandboxes: Set<String> = ["read-only", "workspace-write", "danger-full-access"]

    public init() {}

    public var name: String { "codex" }
    public var settingNames: Set<String> { ["command", "args", "env", "sandbox", "prices", "allowFailedPatches"] }

    public func validate(_ settings: [String: JSONValue], field: String) -> [String] {
        var check = AgentSettingsCheck(settings, field: field)
        check.command(program: "codex")
        check.argumentsAndEnvironment()
        check.oneOf("sandbox", Self.sandboxes)
        check.prices()
        check.boolean("allowFailedPatches")
        return check.errors
    }

    public func invocation(for attempt: AttemptContext) throws -> AgentInvocation {
        let settings = AgentSettings(attempt.agent)
        let session = attempt.resumeSessionId.flatMap(CodexSession.init(token:))
        let sandbox = settings.string("sandbox") ?? Self.defaultSandbox

        var arguments = ["exec"]
        if session != nil { arguments.append("resume") }
        arguments += ["--json", "--skip-git-repo-check"]
        if let model = attempt.agent?.model { arguments += ["--model", model] }
        // `-c` rather than `--sandbox`: `exec resume` refuses `--sandbox`, and one spelling serves both.
        arguments += Self.configuration(sandbox: sandbox).flatMap { ["-c", $0] }
        arguments += ["--disable", "plugins"]
        // The role's own arguments come after ours, so its `-c` overrides win (a later `-c` replaces an earlier one).
        arguments += settings.extraArguments
        if let session { arguments.append(session.thread) }
        arguments.append("-")  // the prompt is on stdin

        let context = settings.applyingEnvironment(to: attempt)
        let (workingDirectory, model, values) = (attempt.workingDirectory, attempt.agent?.model, settings.values)
        let resumeSessionId = session?.token
        return context.invocation(executable: settings.command(default: Self.defaultCommand), arguments: arguments) {
            CodexEventReader(workingDirectory: workingDirectory, model: model, settings: values, resumeSessionId: resumeSessionId)
        }
    }

    /// The `-c` overrides that set the sandbox and take away what an unattended agent must not have.
    static func configuration(sandbox: String) -> [String] {
        var overrides = ["sandbox_mode=\"\(sandbox)\"", "approval_policy=\"never\"", "web_search=\"disabled\"",
                         "analytics.enabled=false"]
        if sandbox == "workspace-write" {
            overrides += ["sandbox_workspace_write.network_access=false",
                          "sandbox_workspace_write.exclude_slash_tmp=true",
                          "sandbox_workspace_write.exclude_tmpdir_env_var=true"]
        }
        return overrides
    }
}

/// What the codex driver keeps as the step's session: the Codex thread id, and the thread's token totals
/// so far, because Codex reports a resumed thread's usage as a running total that includes the earlier
/// attempts (Drover records each attempt's own share). Written as `THREAD` or `THREAD;input,cached,output,reasoning`.
struct CodexSession: Sendable, Hashable {
    var thread: String
    var totals: TokenUsage

    init(thread: String, totals: TokenUsage = TokenUsage()) {
        self.thread = thread
        self.totals = totals
    }

    init?(token: String) {
        let parts = token.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)
        guard let thread = parts.first, !thread.isEmpty else { return nil }
        self.thread = String(thread)
        let counts = parts.count > 1 ? parts[1].split(separator: ",").map { Int($0) ?? 0 } : []
        func count(_ index: Int) -> Int { index < counts.count ? max(counts[index], 0) : 0 }
        totals = TokenUsage(input: count(0), cacheRead: count(1), output: count(2), reasoningOutput: count(3))
    }

    var token: String {
        totals == TokenUsage() ? thread
            : "\(thread);\(totals.input),\(totals.cacheRead),\(totals.output),\(totals.reasoningOutput)"
    }
}
