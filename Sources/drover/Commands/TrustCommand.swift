import DroverEngine
import DroverProtocol
import Foundation

/// `drover trust [--revoke]`: lets (or stops) a workspace's pipelines and config run commands.
enum TrustCommand {
    static let subcommand = Subcommand(
        name: "trust",
        usage: "trust [--revoke] [--workspace DIR]",
        summary: "Trust a workspace, so its own pipelines and config (which can run commands) may run; --revoke withdraws it.",
        options: [
            OptionSpec(name: "--revoke", value: nil, help: "withdraw trust instead"),
            Workspace.option,
        ],
        run: run
    )

    static func run(_ arguments: ParsedArguments) async throws -> Int32 {
        try arguments.refusePositionals(command: "trust", hint: "; use --workspace DIR for another folder")
        let workspace = try Workspace.resolve(arguments)
        let store = TrustStore(configDirectory: Workspace.configDirectory)
        let trust = !arguments.has("--revoke")
        let was = store.isTrusted(workspace)
        try store.setTrusted(workspace, trust)
        let t = Terminal.current
        let path = TrustStore.key(workspace)
        switch (trust, was) {
        case (true, false): Console.line("\(t.ok) Trusted \(path): its pipelines and config may now run commands.")
        case (true, true): Console.line("\(t.ok) \(path) was already trusted.")
        case (false, true): Console.line("\(t.ok) Revoked trust in \(path): its own pipelines and config will not run until you trust it again.")
        case (false, false): Console.line("\(t.ok) \(path) was not trusted; nothing changed.")
        }
        Console.line(t.dim("  (recorded in \(store.file.path))"))
        return 0
    }
}
