import Foundation

/// The next steps failure hints point to, written for both audiences: the command a person at a
/// terminal types and the protocol method an editor calls, e.g. "`drover retry r-…` (or run/retry)".
/// Every hint that suggests a retry or restart goes through here, so they stay one line and alike.
enum Hints {
    /// "`drover retry RUN` (or run/retry)".
    static func retry(_ runId: String) -> String {
        "`drover retry \(runId)` (or run/retry)"
    }

    /// "`drover restart RUN --from STEP` (or run/restart)"; `STEP` stays a placeholder unless given.
    static func restart(_ runId: String, from stepId: String? = nil) -> String {
        "`drover restart \(runId) --from \(stepId ?? "STEP")` (or run/restart)"
    }

    /// "<what to fix>, then run `drover retry RUN` (or run/retry)".
    static func fixThenRetry(_ fix: String, runId: String) -> String {
        "\(fix), then run \(retry(runId))"
    }
}
