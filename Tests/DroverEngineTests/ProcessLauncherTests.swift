@testable import DroverEngine
import DroverProtocol
import Foundation
import PostgresTestServer
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Shared by the launcher and fake-agent tests: run a process, record its events, wait with a limit.
enum LaunchTestSupport {
    /// Records events in order and lets a test wait for one without sleeping.
    // @unchecked Sendable: `events` and `waiters` are only touched under `lock`.
    final class Recorder: @unchecked Sendable {
        private let lock = NSLock()
        private var events: [AgentEvent] = []
        private var offsets: [Int] = []
        private var waiters: [(id: UUID, predicate: @Sendable (AgentEvent) -> Bool, continuation: CheckedContinuation<Bool, Never>)] = []

        var all: [AgentEvent] {
            lock.withLock { events }
        }

        var agentLines: [String] {
            all.compactMap { if case .log(.agent, let text) = $0 { return text } else { return nil } }
        }

        var stderrLines: [String] {
            all.compactMap { if case .log(.stderr, let text) = $0 { return text } else { return nil } }
        }

        /// The log-file offset of each recorded event's line, in order.
        var logOffsets: [Int] {
            lock.withLock { offsets }
        }

        func record(_ report: AgentReport) {
            lock.withLock { offsets.append(report.logOffset) }
            record(report.event)
        }

        func record(_ event: AgentEvent) {
            let ready: [CheckedContinuation<Bool, Never>] = lock.withLock {
                events.append(event)
                let matched = waiters.filter { $0.predicate(event) }
                waiters.removeAll { $0.predicate(event) }
                return matched.map(\.continuation)
            }
            for continuation in ready { continuation.resume(returning: true) }
        }

        /// True once an event matching `predicate` arrived (including earlier ones); false after `timeout`.
        func waitFor(timeout: Duration = hangBound, _ predicate: @escaping @Sendable (AgentEvent) -> Bool) async -> Bool {
            let id = UUID()
            return await withCheckedContinuation { continuation in
                let already = lock.withLock {
                    if events.contains(where: predicate) { return true }
                    waiters.append((id, predicate, continuation))
                    return false
                }
                if already {
                    continuation.resume(returning: true)
                    return
                }
                Task {
                    try? await Task.sleep(for: timeout)
                    let expired = self.lock.withLock {
                        let waiter = self.waiters.first { $0.id == id }
                        self.waiters.removeAll { $0.id == id }
                        return waiter?.continuation
                    }
                    expired?.resume(returning: false)
                }
            }
        }
    }


    static var baseEnvironment: [String: String] {
        ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "LC_ALL": "C"]
    }

    struct Launched {
        var handle: any AgentHandle
        var recorder: Recorder
        var logFile: URL
        var directory: URL
        /// The fresh folder `launch` made when it was given none, removed when the last copy goes.
        var scratch: TempDir?
    }

    static func launch(executable: String, arguments: [String], prompt: String = "", environment: [String: String] = [:],
                       directory: URL? = nil, timeout: Duration? = nil, parsesLineProtocol: Bool = true,
                       launcher: ProcessLauncher = ProcessLauncher()) throws -> Launched {
        let scratch = directory == nil ? try TempDir() : nil
        let directory = directory ?? scratch!.url
        let logFile = directory.appendingPathComponent("logs/deep/attempt-1.log")
        let recorder = Recorder()
        @Sendable func lineProtocol() -> any AgentOutputReader { LineProtocolReader() }
        @Sendable func plain() -> any AgentOutputReader { PlainOutputReader() }
        let makeReader: @Sendable () -> any AgentOutputReader = parsesLineProtocol ? lineProtocol : plain
        let invocation = AgentInvocation(
            executable: executable, arguments: arguments, prompt: prompt, workingDirectory: directory.path,
            environment: baseEnvironment.merging(environment) { _, new in new }, timeout: timeout,
            logFile: logFile, makeReader: makeReader)
        let handle = try launcher.launch(invocation) { (report: AgentReport) in recorder.record(report) }
        return Launched(handle: handle, recorder: recorder, logFile: logFile, directory: directory, scratch: scratch)
    }

    static func shell(_ script: String, prompt: String = "", environment: [String: String] = [:], directory: URL? = nil,
                      timeout: Duration? = nil, parsesLineProtocol: Bool = true,
                      launcher: ProcessLauncher = ProcessLauncher()) throws -> Launched {
        try launch(executable: "/bin/sh", arguments: ["-c", script], prompt: prompt, environment: environment,
                   directory: directory, timeout: timeout, parsesLineProtocol: parsesLineProtocol, launcher: launcher)
    }

    /// The outcome, or nil if the process did not finish within `limit`.
    static func outcome(of handle: any AgentHandle, within limit: Duration = .seconds(30)) async -> AgentOutcome? {
        await withTaskGroup(of: AgentOutcome?.self) { group in
            group.addTask { await handle.wait() }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            if first == nil { handle.terminate(grace: .zero) }
            return first
        }
    }

    /// Pids of processes in group `pgid` that are still alive (zombies waiting for a reaper do not count).
    static func livingMembers(ofGroup pgid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            // Fields after "comm)": state ppid pgrp ...
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, let group = Int32(fields[2]) else { return false }
            return group == pgid && fields[0] != "Z" && fields[0] != "X"
        }
    }

    /// Waits (bounded) until no living process of the group remains: the kill is asynchronous in the kernel.
    static func groupIsGone(_ pgid: Int32, within limit: Duration = .seconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if livingMembers(ofGroup: pgid).isEmpty { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return livingMembers(ofGroup: pgid).isEmpty
    }
}

@Suite("ProcessLauncher")
struct ProcessLauncherTests {
    typealias Support = LaunchTestSupport

    @Test("the prompt arrives on stdin")
    func promptOnStdin() async throws {
        let run = try Support.shell("cat", prompt: "plan the change\nplease")
        #expect(await Support.outcome(of: run.handle) == .completed(output: "plan the change\nplease"))
        #expect(run.recorder.agentLines == ["plan the change", "please"])
    }

    /// The engine ends an attempt's reports when `whenFinished` calls back, so every report must be in first.
    @Test("whenFinished hears the outcome after the last report, asked before the end or after it", .timeLimit(.minutes(1)))
    func whenFinishedComesAfterTheReports() async throws {
        let run = try Support.shell("echo one; echo two")
        let first: AgentOutcome = await withCheckedContinuation { continuation in
            run.handle.whenFinished { continuation.resume(returning: $0) }
        }
        #expect(first == .completed(output: "one\ntwo"))
        #expect(run.recorder.agentLines == ["one", "two"])
        let later: AgentOutcome = await withCheckedContinuation { continuation in
            run.handle.whenFinished { continuation.resume(returning: $0) }
        }
        #expect(later == first)
    }

    @Test("the environment is exactly the invocation's")
    func environment() async throws {
        let run = try Support.shell(#"echo "$DROVER_STEP_ID/$DROVER_ATTEMPT"; echo "home=${HOME-unset}""#,
                                    environment: ["DROVER_STEP_ID": "impl", "DROVER_ATTEMPT": "2"])
        #expect(await Support.outcome(of: run.handle) == .completed(output: "impl/2\nhome=unset"))
    }

    @Test("the working directory is honoured", arguments: [false, true])
    func workingDirectory(forceShellChdir: Bool) async throws {
        var launcher = ProcessLauncher()
        launcher.forceShellChdir = forceShellChdir
        let scratch = try TempDir()
        let directory = scratch.url.appendingPathComponent("with space")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let run = try Support.shell("pwd; echo \"$0\"", directory: directory, launcher: launcher)
        #expect(await Support.outcome(of: run.handle) == .completed(output: directory.path + "\n/bin/sh"))
    }

    @Test("a bare program name is found on the child's PATH, with its arguments")
    func pathLookup() async throws {
        let run = try Support.launch(executable: "printf", arguments: ["%s-%s", "a b", "c"])
        #expect(await Support.outcome(of: run.handle) == .completed(output: "a b-c"))
    }

    @Test("a non-zero exit fails with the last stderr lines")
    func failureMessage() async throws {
        let run = try Support.shell("echo out; echo first >&2; echo second >&2; exit 3")
        #expect(await Support.outcome(of: run.handle) == .failed(message: "first\nsecond", exitCode: 3))
        #expect(run.recorder.stderrLines == ["first", "second"])
    }

    @Test("only the last 20 stderr lines are kept for the message")
    func failureTail() async throws {
        let run = try Support.shell("seq 1 30 >&2; exit 1")
        let expected = (11...30).map(String.init).joined(separator: "\n")
        #expect(await Support.outcome(of: run.handle) == .failed(message: expected, exitCode: 1))
    }

    @Test("a silent non-zero exit says its status")
    func silentFailure() async throws {
        let run = try Support.shell("exit 4")
        #expect(await Support.outcome(of: run.handle) == .failed(message: "exited with status 4", exitCode: 4))
    }

    @Test("death by a signal fails without an exit code")
    func killedBySignal() async throws {
        let run = try Support.shell("kill -USR1 $$")
        guard case .failed(let message, let code)? = await Support.outcome(of: run.handle) else {
            Issue.record("expected a failure")
            return
        }
        #expect(code == nil)
        #expect(message.hasPrefix("killed by signal \(SIGUSR1)"))
    }

    @Test("a result line is the output; log, progress and usage lines are events")
    func resultLine() async throws {
        let run = try Support.shell("""
            echo '{"type":"log","text":"working"}'
            echo '{"type":"progress","fraction":0.5,"message":"half"}'
            echo '{"type":"usage","model":"m","inputTokens":3,"outputTokens":4,"costUSD":0.01}'
            echo '{"type":"result","output":"the answer"}'
            echo 'afterwards'
            """)
        #expect(await Support.outcome(of: run.handle) == .completed(output: "the answer"))
        #expect(run.recorder.all == [
            .log(.agent, "working"),
            .progress(fraction: 0.5, message: "half"),
            .usage(AgentUsage(model: "m", inputTokens: 3, outputTokens: 4, reportedCostUSD: 0.01)),
            .log(.agent, "afterwards"),
        ])
    }

    @Test("a decision line parks the step")
    func decisionLine() async throws {
        let run = try Support.shell(#"echo '{"type":"decision","question":"Which DB?","options":["sqlite","postgres"]}'"#)
        #expect(await Support.outcome(of: run.handle) == .decision(question: "Which DB?", options: ["sqlite", "postgres"]))
    }

    @Test("a decision or result only counts on exit 0")
    func decisionThenFailure() async throws {
        let run = try Support.shell(#"echo '{"type":"result","output":"x"}'; echo broken >&2; exit 2"#)
        #expect(await Support.outcome(of: run.handle) == .failed(message: "broken", exitCode: 2))
    }

    @Test("without a result line the output is the printed text")
    func plainOutput() async throws {
        let run = try Support.shell("""
            echo '  hello'
            echo '{"type":"log","text":"world"}'
            echo '{"type":"usage","model":"m","inputTokens":1,"outputTokens":1}'
            echo '' ; echo warn >&2
            """)
        #expect(await Support.outcome(of: run.handle) == .completed(output: "hello\nworld"))
    }

    @Test("plain command steps do not read the protocol")
    func plainCommand() async throws {
        let run = try Support.shell(#"echo '{"type":"result","output":"x"}'; echo two"#, parsesLineProtocol: false)
        #expect(await Support.outcome(of: run.handle) == .completed(output: "{\"type\":\"result\",\"output\":\"x\"}\ntwo"))
        #expect(run.recorder.all == [.log(.agent, #"{"type":"result","output":"x"}"#), .log(.agent, "two")])
    }

    @Test("a partial last line and invalid UTF-8 still arrive")
    func partialLine() async throws {
        let run = try Support.shell(#"printf 'a\r\nb\377c'; printf 'no newline' >&2"#)
        #expect(await Support.outcome(of: run.handle) == .completed(output: "a\nb\u{FFFD}c"))
        #expect(run.recorder.agentLines == ["a", "b\u{FFFD}c"])
        #expect(run.recorder.stderrLines == ["no newline"])
    }

    @Test("a timeout kills the whole process group")
    func timeoutKillsGroup() async throws {
        let start = ContinuousClock.now
        let run = try Support.shell("sleep 1000 & sleep 1000", timeout: .milliseconds(300))
        #expect(await Support.outcome(of: run.handle) == .timedOut)
        // Far below the 1000 s the sleeps would last: on a loaded 2-core machine this test alone took 14 s.
        #expect(ContinuousClock.now - start < .seconds(60))
        #expect(await Support.groupIsGone(run.handle.pid))
    }

    @Test("a timeout escalates to SIGKILL for processes that ignore SIGTERM")
    func timeoutEscalates() async throws {
        var launcher = ProcessLauncher()
        launcher.timeoutGrace = .milliseconds(200)
        let run = try Support.shell("trap '' TERM; sleep 1000 & echo started; wait", timeout: .milliseconds(300), launcher: launcher)
        #expect(await Support.outcome(of: run.handle) == .timedOut)
        #expect(await Support.groupIsGone(run.handle.pid))
    }

    @Test("terminate kills the whole process group, grandchildren included (leader's exit heard on its pidfd, or by a waiting thread)",
          arguments: [false, true])
    func terminateKillsGroup(forceWaitThread: Bool) async throws {
        var launcher = ProcessLauncher()
        launcher.forceWaitThread = forceWaitThread
        let run = try Support.shell("sleep 1000 & echo started; sleep 1000", launcher: launcher)
        #expect(await run.recorder.waitFor { $0 == .log(.agent, "started") })
        #expect(Support.livingMembers(ofGroup: run.handle.pid).count >= 2)
        run.handle.terminate(grace: .seconds(2))
        run.handle.terminate(grace: .seconds(2))
        #expect(await Support.outcome(of: run.handle) == .terminated)
        #expect(await Support.groupIsGone(run.handle.pid))
        // Once reaped, the group id is never signalled again.
        run.handle.terminate(grace: .zero)
        #expect(await run.handle.wait() == .terminated)
    }

    @Test("terminate escalates to SIGKILL after the grace period")
    func terminateEscalates() async throws {
        let run = try Support.shell("trap '' TERM; echo started; while :; do sleep 1; done")
        #expect(await run.recorder.waitFor { $0 == .log(.agent, "started") })
        run.handle.terminate(grace: .milliseconds(200))
        #expect(await Support.outcome(of: run.handle) == .terminated)
        #expect(await Support.groupIsGone(run.handle.pid))
    }

    @Test("a grandchild holding the pipes does not keep us waiting once the leader exits (heard on its pidfd, or by a waiting thread)",
          arguments: [false, true])
    func strayGrandchild(forceWaitThread: Bool) async throws {
        let start = ContinuousClock.now
        var launcher = ProcessLauncher()
        launcher.forceWaitThread = forceWaitThread
        let run = try Support.shell("sleep 1000 & echo done", launcher: launcher)
        #expect(await Support.outcome(of: run.handle) == .completed(output: "done"))
        // Far below the 1000 s the sleeps would last: on a loaded 2-core machine this test alone took 14 s.
        #expect(ContinuousClock.now - start < .seconds(60))
        #expect(await Support.groupIsGone(run.handle.pid))
    }

    @Test("the agent runs in its own process group")
    func ownProcessGroup() async throws {
        let run = try Support.shell("ps -o pgid= -p $$")
        guard case .completed(let output)? = await Support.outcome(of: run.handle) else {
            Issue.record("ps failed")
            return
        }
        #expect(output.trimmingCharacters(in: .whitespaces) == String(run.handle.pid))
        #expect(getpgrp() != run.handle.pid)
    }

    @Test("every line goes to the log file, which only the user can read")
    func logFile() async throws {
        let run = try Support.shell(#"echo out1; echo err1 >&2; echo '{"type":"result","output":"r"}'"#)
        #expect(await Support.outcome(of: run.handle) == .completed(output: "r"))
        let log = try String(contentsOf: run.logFile, encoding: .utf8)
        let lines = log.split(separator: "\n").map(String.init)
        #expect(Set(lines) == ["out1", "err1", #"{"type":"result","output":"r"}"#])
        #expect(log.hasSuffix("\n"))
        let attributes = try FileManager.default.attributesOfItem(atPath: run.logFile.path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test("a second attempt appends to an existing log")
    func logAppends() async throws {
        let scratch = try TempDir()
        let directory = scratch.url
        let first = try Support.shell("echo one", directory: directory)
        _ = await Support.outcome(of: first.handle)
        let second = try Support.shell("echo two", directory: directory)
        _ = await Support.outcome(of: second.handle)
        #expect(try String(contentsOf: second.logFile, encoding: .utf8) == "one\ntwo\n")
    }

    @Test("a 1 MB prompt does not deadlock against a child that writes as it reads")
    func hugePrompt() async throws {
        let prompt = String(repeating: String(repeating: "x", count: 1023) + "\n", count: 1024)
        let run = try Support.shell("cat", prompt: prompt)
        #expect(await Support.outcome(of: run.handle) == .completed(output: prompt.trimmingCharacters(in: .newlines)))
        #expect(run.recorder.agentLines.count == 1024)
    }

    @Test("a child that never reads its prompt does not hurt us")
    func unreadPrompt() async throws {
        let prompt = String(repeating: "y", count: 1 << 20)
        let run = try Support.shell("exec 0<&-; echo ignored the prompt", prompt: prompt)
        #expect(await Support.outcome(of: run.handle) == .completed(output: "ignored the prompt"))
    }

    @Test("10 000 lines all arrive, in order")
    func manyLines() async throws {
        let run = try Support.shell("seq 1 10000")
        let expected = (1...10000).map(String.init)
        #expect(await Support.outcome(of: run.handle) == .completed(output: expected.joined(separator: "\n")))
        #expect(run.recorder.agentLines == expected)
        let log = try String(contentsOf: run.logFile, encoding: .utf8)
        #expect(log == expected.joined(separator: "\n") + "\n")
    }

    #if canImport(Glibc)
    // A fully static binary (README's Install) has no dynamic symbol table, so looking these up at run time
    // found nothing there and every agent went through `sh -c cd` with an fd scan; the shim links them.
    @Test("glibc's chdir and closefrom spawn actions are used, not the shell and fd-scan fallbacks")
    func gnuSpawnActionsLinked() {
        #expect(SpawnFunctions.addchdir != nil)
        #expect(SpawnFunctions.addclosefrom != nil)
    }
    #endif

    #if os(Linux)
    // One thread per attempt hears both its output and its leader's exit, through the leader's pidfd.
    @Test("the leader's exit is heard on a pidfd here, so no thread per attempt waits for it")
    func pidfdIsAvailable() {
        let descriptor = openProcessDescriptor(getpid())
        #expect(descriptor >= 0, "pidfd_open failed: errno \(errno)")
        if descriptor >= 0 { close(descriptor) }
    }
    #endif

    @Test("nothing but stdin, stdout and stderr is inherited", arguments: [false, true])
    func noInheritedDescriptors(forceFDScan: Bool) async throws {
        var launcher = ProcessLauncher()
        launcher.forceFDScan = forceFDScan
        // A descriptor the server opened without close-on-exec, as careless code might.
        let leaked = open("/dev/null", O_RDONLY)
        #expect(leaked > 2)
        defer { close(leaked) }
        let run = try Support.shell(#"[ -e /proc/$$/fd/\#(leaked) ] && echo leaked; for fd in 0 1 2; do readlink /proc/$$/fd/$fd; done"#,
                                    launcher: launcher)
        guard case .completed(let output)? = await Support.outcome(of: run.handle) else {
            Issue.record("the child failed")
            return
        }
        let lines = output.split(separator: "\n")
        #expect(!lines.contains("leaked"))
        #expect(lines.count == 3 && lines.allSatisfy { $0.hasPrefix("pipe:") })
    }

    @Test("signal dispositions and the signal mask are reset in the child")
    func signalsReset() async throws {
        // The server may ignore signals (SIGPIPE, typically); an agent must not inherit that.
        let previous = signal(SIGUSR2, SIG_IGN)
        defer { signal(SIGUSR2, previous) }
        // exec, so the program that reads the status is the spawned process itself (a shell waiting for a
        // child blocks signals while it waits, which would show up here).
        let run = try Support.shell(#"exec sed -n 's/^Sig\(Ign\|Blk\):\t//p' /proc/self/status"#)
        guard case .completed(let output)? = await Support.outcome(of: run.handle) else {
            Issue.record("the child failed")
            return
        }
        let masks = output.split(separator: "\n").compactMap { UInt64($0, radix: 16) }
        #expect(masks.count == 2)
        // Only the classic signals 1–31: glibc's posix_spawn deliberately leaves its two internal real-time
        // signals (32, 33) ignored, and the child's libc re-installs them at start-up anyway.
        for mask in masks { #expect(mask & 0x7fff_ffff == 0, "mask \(String(mask, radix: 16))") }
    }

    @Test("a missing executable fails the attempt with a clear message")
    func missingExecutable() async throws {
        let run = try Support.launch(executable: "/nonexistent/agent", arguments: [])
        #expect(run.handle.pid == 0)
        #expect(await run.handle.wait() == .failed(message: "cannot start /nonexistent/agent: no such file", exitCode: nil))
        #expect(run.recorder.stderrLines == ["cannot start /nonexistent/agent: no such file"])
        #expect(try String(contentsOf: run.logFile, encoding: .utf8).contains("no such file"))
        run.handle.terminate(grace: .zero)
    }

    @Test("a program missing from PATH fails the attempt")
    func missingOnPath() async throws {
        let run = try Support.launch(executable: "drover-no-such-agent", arguments: [])
        guard case .failed(let message, nil)? = await Support.outcome(of: run.handle) else {
            Issue.record("expected a failure")
            return
        }
        #expect(message.hasPrefix("cannot start drover-no-such-agent: not found on PATH"))
    }

    @Test("a missing working directory fails the attempt, saying so", arguments: [false, true])
    func missingDirectory(forceShellChdir: Bool) async throws {
        var launcher = ProcessLauncher()
        launcher.forceShellChdir = forceShellChdir
        let scratch = try TempDir()
        let directory = scratch.url
        let recorder = Support.Recorder()
        for executable in ["/bin/sh", "./agent"] {
            let invocation = AgentInvocation(
                executable: executable, arguments: ["-c", "true"], prompt: "", workingDirectory: directory.path + "/gone",
                environment: [:], timeout: nil, logFile: directory.appendingPathComponent("a.log")) { LineProtocolReader() }
            let handle = try launcher.launch(invocation) { (report: AgentReport) in recorder.record(report) }
            #expect(handle.pid == 0)
            #expect(await handle.wait() == .failed(
                message: "cannot start \(executable): working directory \(directory.path)/gone does not exist", exitCode: nil))
        }
    }

    @Test("a path that names no program fails the attempt, saying why", arguments: [false, true])
    func notAProgram(forceShellChdir: Bool) async throws {
        var launcher = ProcessLauncher()
        launcher.forceShellChdir = forceShellChdir
        let scratch = try TempDir()
        try scratch.write("plain.txt", "not a program")
        try FileManager.default.createDirectory(at: scratch.url.appendingPathComponent("folder"), withIntermediateDirectories: true)
        try scratch.write("tool", "#!/bin/sh\necho '{\"type\":\"result\",\"output\":\"ran\"}'\n")
        chmod(scratch.url.appendingPathComponent("tool").path, 0o755)
        let cases = [
            (scratch.url.appendingPathComponent("plain.txt").path, "not an executable file"),
            (scratch.url.appendingPathComponent("folder").path, "not an executable file"),
            ("./missing", "no such file"),
        ]
        for (executable, reason) in cases {
            let run = try Support.launch(executable: executable, arguments: [], directory: scratch.url, launcher: launcher)
            #expect(run.handle.pid == 0)
            #expect(await run.handle.wait() == .failed(message: "cannot start \(executable): \(reason)", exitCode: nil))
            #expect(run.recorder.stderrLines == ["cannot start \(executable): \(reason)"])
        }
        // A relative path is the working directory's.
        let run = try Support.launch(executable: "./tool", arguments: [], directory: scratch.url, launcher: launcher)
        #expect(await Support.outcome(of: run.handle) == .completed(output: "ran"))
    }

    @Test("the driver's input channel outlives the attempt: its wake pipe is closed by the input, not by the pump")
    func inputOutlivesTheAttempt() async throws {
        final class Keeper: AgentOutputReader, @unchecked Sendable {
            var input: AgentInput?
            func readStdout(_ line: String) -> [AgentEvent] { [] }
            func readStderr(_ line: String) -> [AgentEvent] { [] }
            func outcome(exit status: AgentExitStatus) -> AgentOutcome { .completed(output: "") }
            func attach(input: AgentInput) { self.input = input }
        }
        let keeper = Keeper()
        let scratch = try TempDir()
        let invocation = AgentInvocation(
            executable: "/bin/sh", arguments: ["-c", "exit 0"], prompt: "", workingDirectory: scratch.url.path,
            environment: Support.baseEnvironment, timeout: nil, logFile: scratch.url.appendingPathComponent("a.log"),
            keepsStdinOpen: true) { keeper }
        let handle = try ProcessLauncher().launch(invocation) { _ in }
        #expect(await Support.outcome(of: handle) == .completed(output: ""))
        let input = try #require(keeper.input)
        // A late answer still goes into the input's own pipe (once the pump had closed it, a reused
        // descriptor number took the byte, and the input later closed someone else's file).
        input.send("late")
        var byte: UInt8 = 0
        #expect(read(input.wake.read, &byte, 1) == 1)
    }

    @Test("an unwritable log file is the server's problem: launch throws")
    func unwritableLog() throws {
        let scratch = try TempDir()
        let directory = scratch.url
        let blocker = directory.appendingPathComponent("file")
        try Data().write(to: blocker)
        let invocation = AgentInvocation(
            executable: "/bin/true", arguments: [], prompt: "", workingDirectory: directory.path, environment: [:],
            timeout: nil, logFile: blocker.appendingPathComponent("sub/a.log")) { LineProtocolReader() }
        #expect(throws: ProcessLaunchError.self) {
            _ = try ProcessLauncher().launch(invocation) { _ in }
        }
    }

    @Test("several waiters all get the outcome")
    func severalWaiters() async throws {
        let run = try Support.shell("echo '{\"type\":\"result\",\"output\":\"ok\"}'")
        async let first = run.handle.wait()
        async let second = run.handle.wait()
        let outcomes = await [first, second, Support.outcome(of: run.handle)]
        #expect(outcomes == [.completed(output: "ok"), .completed(output: "ok"), .completed(output: "ok")])
    }
}

@Suite("ProcessLauncher internals")
struct ProcessLauncherInternalsTests {
    @Test("lines split across reads, CRLF, and a cut for endless lines")
    func lineSplitter() {
        var splitter = OutputLineSplitter()
        #expect(splitter.feed(Array("ab".utf8)[...]) == [])
        #expect(splitter.feed(Array("c\r\nd\n\ne".utf8)[...]) == ["abc", "d", ""])
        // A multibyte character split between two reads is decoded whole.
        let euro = Array("€".utf8)
        #expect(splitter.feed(euro[0..<1]) == [])
        #expect(splitter.feed((euro[1...] + Array("\n".utf8))[...]) == ["e€"])
        #expect(splitter.finish() == nil)
        #expect(splitter.feed(Array("tail".utf8)[...]) == [])
        #expect(splitter.finish() == "tail")

        // A line over the limit is cut there with a marker; the rest of it, up to its newline, is dropped.
        var small = OutputLineSplitter()
        small.maxLineBytes = 4
        let cut = "abcd" + small.cutMarker
        #expect(small.cutMarker.contains("line cut at 4 bytes"))
        #expect(small.feed(Array("abcdef".utf8)[...]) == [cut])
        #expect(small.feed(Array("ghij".utf8)[...]) == [])
        #expect(small.feed(Array("g\nok\n".utf8)[...]) == ["ok"])
        #expect(small.feed(Array("1234567\nxy".utf8)[...]) == ["1234" + small.cutMarker])
        #expect(small.feed(Array("z\n".utf8)[...]) == ["xyz"])
        #expect(small.feed(Array("abcd".utf8)[...]) == [], "exactly the limit is not cut")
        #expect(small.feed(Array("\n".utf8)[...]) == ["abcd"])
    }

    /// What each reader decides from a natural exit (a kill the engine asked for is the launcher's:
    /// see the timeout and terminate tests). `final` is sent as a protocol line after `text`.
    static let outcomeCases: [(status: AgentExitStatus, final: AgentLine?, text: String,
                               stderr: [String], parses: Bool, expected: AgentOutcome)] = [
        (.exited(0), .result(output: "r"), "printed", [], true, .completed(output: "r")),
        (.exited(0), .decision(question: "q", options: ["a"]), "", [], true, .decision(question: "q", options: ["a"])),
        (.exited(0), nil, "\n  printed \n", ["warn"], true, .completed(output: "printed")),
        (.exited(0), .result(output: "r"), "all of stdout", [], false,
         .completed(output: "all of stdout\n" + AgentLine.result(output: "r").encoded)),
        (.exited(1), .result(output: "r"), "", ["a", "b"], true, .failed(message: "a\nb", exitCode: 1)),
        (.exited(7), nil, "", [], true, .failed(message: "exited with status 7", exitCode: 7)),
        (.exited(7), nil, "", ["plain"], false, .failed(message: "plain", exitCode: 7)),
        (.signaled(SIGKILL), nil, "", ["oom?"], true, .failed(message: "oom?", exitCode: nil)),
        (.unknown("lost"), nil, "", [], true, .failed(message: "lost", exitCode: nil)),
    ]

    @Test("outcome rules of the line-protocol and plain readers", arguments: outcomeCases)
    func outcomeRules(_ c: (status: AgentExitStatus, final: AgentLine?, text: String,
                            stderr: [String], parses: Bool, expected: AgentOutcome)) {
        let reader: any AgentOutputReader = c.parses ? LineProtocolReader() : PlainOutputReader()
        for line in c.text.split(separator: "\n", omittingEmptySubsequences: false) { _ = reader.readStdout(String(line)) }
        if let final = c.final { _ = reader.readStdout(final.encoded) }
        for line in c.stderr { _ = reader.readStderr(line) }
        #expect(reader.outcome(exit: c.status) == c.expected)
    }

    @Test("every report carries the byte offset of its line in the log file")
    func reportsCarryLogOffsets() async throws {
        // Multibyte text and both streams: offsets are bytes of the file, in the order lines landed there.
        let run = try LaunchTestSupport.shell(#"printf 'één\n'; printf 'two\n' >&2; printf '{"type":"log","text":"three"}\n'"#)
        #expect(await LaunchTestSupport.outcome(of: run.handle) == .completed(output: "één\nthree"))
        let file = try Data(contentsOf: run.logFile)
        var starts: [Int] = [0]
        for (index, byte) in file.enumerated() where byte == UInt8(ascii: "\n") && index + 1 < file.count { starts.append(index + 1) }
        #expect(run.recorder.all.count == 3)
        #expect(run.recorder.logOffsets.sorted() == starts)
        for (event, offset) in zip(run.recorder.all, run.recorder.logOffsets) {
            let line = String(decoding: file[offset...].prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
            switch event {
            case .log(.stderr, let text): #expect(line == text)
            case .log(.agent, let text): #expect(line == text || line.contains("\"\(text)\""))
            default: Issue.record("unexpected \(event)")
            }
        }
    }

    @Test("wait statuses decode like the W* macros")
    func waitStatus() {
        #expect(AgentExitStatus(waitStatus: 0) == .exited(0))
        #expect(AgentExitStatus(waitStatus: 3 << 8) == .exited(3))
        #expect(AgentExitStatus(waitStatus: 9) == .signaled(9))
        #expect(AgentExitStatus(waitStatus: 11 | 0x80) == .signaled(11))
    }
}
