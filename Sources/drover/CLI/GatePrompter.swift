import DroverProtocol
import Foundation

/// A person's answer to an approval gate.
enum ApprovalAnswer: Equatable {
    /// Approve; `proposal` is the edited text, if it was edited.
    case approve(proposal: String?)
    case requestChanges(feedback: String)
    case reject(reason: String?)
}

/// Asks the person at the terminal to answer gates. Invalid input re-asks; `nil` means stdin closed.
struct GatePrompter {
    let terminal: Terminal

    /// Shows the numbered prompt until a valid option number (or an option's exact text) is typed.
    func askDecision(options: [String]) async -> String? {
        while true {
            guard let line = await Self.readLine(prompt: "  Choose 1-\(options.count): ") else { return nil }
            let answer = line.trimmingCharacters(in: .whitespaces)
            if let number = Int(answer), options.indices.contains(number - 1) { return options[number - 1] }
            if let exact = options.first(where: { $0 == answer }) { return exact }
            Console.line("  Type a number from 1 to \(options.count).")
        }
    }

    /// `[a]pprove, [c]hange, [r]eject, [e]dit` until one of them is chosen and completed.
    func askApproval(proposal: String) async -> ApprovalAnswer? {
        while true {
            let choice = "  " + terminal.bold("[a]") + "pprove, " + terminal.bold("[c]") + "hange, "
                + terminal.bold("[r]") + "eject, " + terminal.bold("[e]") + "dit? "
            guard let line = await Self.readLine(prompt: choice) else { return nil }
            switch line.trimmingCharacters(in: .whitespaces).lowercased() {
            case "a", "approve":
                return .approve(proposal: nil)
            case "c", "change", "changes":
                guard let feedback = await askFeedback() else { return nil }
                return .requestChanges(feedback: feedback)
            case "r", "reject":
                guard let reason = await Self.readLine(prompt: "  Reason (optional, Enter to skip): ") else { return nil }
                let trimmed = reason.trimmingCharacters(in: .whitespaces)
                return .reject(reason: trimmed.isEmpty ? nil : trimmed)
            case "e", "edit":
                // The editor owns the terminal until it exits; wait for it off the cooperative pool.
                let result: Result<String, any Error> = await withCheckedContinuation { continuation in
                    Self.stdinQueue.async { continuation.resume(returning: Result { try ProposalEditor.edit(proposal) }) }
                }
                switch result {
                case .success(let edited):
                    return .approve(proposal: edited == proposal ? nil : edited)
                case .failure(let error):
                    Console.line("  \(terminal.failed) \(error)")
                }
            default:
                Console.line("  Type a, c, r or e.")
            }
        }
    }

    private func askFeedback() async -> String? {
        while true {
            guard let line = await Self.readLine(prompt: "  What should change? ") else { return nil }
            let feedback = line.trimmingCharacters(in: .whitespaces)
            if !feedback.isEmpty { return feedback }
            Console.line("  Feedback is needed to re-run the step; type it, or Ctrl-C to stop.")
        }
    }

    /// stdin is read on its own queue, never on the cooperative pool the engine runs on.
    private static let stdinQueue = DispatchQueue(label: "drover.stdin")

    /// Writes `prompt`, then reads one line from stdin (without its newline); nil at end of input.
    static func readLine(prompt: String) async -> String? {
        Console.write(prompt)
        return await withCheckedContinuation { continuation in
            stdinQueue.async { continuation.resume(returning: Swift.readLine(strippingNewline: true)) }
        }
    }
}

/// Opens `$EDITOR` (else `$VISUAL`, else `vi`) on a proposal in a temporary file.
enum ProposalEditor {
    struct Failed: Error, CustomStringConvertible {
        let description: String
    }

    /// The edited text; a trailing newline the editor added is dropped if the proposal had none.
    static func edit(_ proposal: String) throws -> String {
        let environment = ProcessInfo.processInfo.environment
        let editor = [environment["EDITOR"], environment["VISUAL"]].compactMap { $0 }.first { !$0.isEmpty } ?? "vi"
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("drover-edit-\(getpid())-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("proposal.md")
        try Data(proposal.utf8).write(to: file)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        // The editor may carry arguments ("code --wait"), so the shell splits it; the path is "$1".
        process.arguments = ["-c", "\(editor) \"$1\"", "drover-editor", file.path]
        do {
            try process.run()
        } catch {
            throw Failed(description: "cannot start the editor '\(editor)': \(error.localizedDescription)")
        }
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            throw Failed(description: "the editor '\(editor)' exited with status \(process.terminationStatus); nothing was approved")
        }
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw Failed(description: "the edited file \(file.path) is gone; nothing was approved")
        }
        var edited = String(decoding: data, as: UTF8.self)
        if !proposal.hasSuffix("\n"), edited.hasSuffix("\n") { edited.removeLast() }
        return edited
    }
}
