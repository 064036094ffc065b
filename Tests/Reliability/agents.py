"""Floods and agents that misbehave, as command steps driven through `drover serve`.

  flood      prints N bytes of 60-byte lines: server RSS growth <= 64 MB, every line in the step log
  hang       never ends: the step timeout kills it, nothing left running
  fork bomb  a tree of ~127 sleeping processes: the timeout's group kill takes them all
  stdout     closes stdout early but keeps running: the step ends when the process does
  utf8       invalid UTF-8: replaced, the run completes
  long line  one line of L bytes: bounded memory, cut with a marker, the next line intact
  exit       exits non-zero right after a burst of output: the step fails, every line logged
"""
import os
import threading
import time

from client import Failed, Server, Workspace, expect, rss_kib, wait_until

LINE = "a line of agent output, about sixty bytes long, like cc -c x"  # 59 bytes + newline


def command(step_id, script, timeout=None):
    step = {"id": step_id, "kind": "command", "command": script}
    if timeout:
        step["timeoutSeconds"] = timeout
    return step


class Peak:
    """Samples a process's RSS every 20 ms until stopped; `growth` is the peak over the first sample."""

    def __init__(self, pid):
        self.pid = pid
        self.base = rss_kib(pid)
        self.peak = self.base
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.02)

    def stop(self):
        self.running = False
        self.thread.join()
        return (self.peak - self.base) / 1024


def run_to_end(server, pipeline_id, timeout):
    run_id = server.call("run/start", {"pipelineId": pipeline_id, "task": "t"})["run"]["id"]
    # Polled, not followed: a huge log line may make the server shed events (run/eventsDropped).
    return wait_until(lambda: ended(server.call("run/get", {"runId": run_id})["run"]), timeout,
                      "%s to end" % pipeline_id, interval=0.05)


def ended(run):
    return run if run["status"] in ("done", "failed", "cancelled") else None


def log_path(workspace, run):
    step = run["steps"][0]
    return os.path.join(workspace.path, ".drover", "logs", "%s@%s.%d.log" % (run["id"], step["id"], step["attempts"]))


def count_lines(path):
    lines = 0
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 22)
            if not block:
                return lines
            lines += block.count(b"\n")


def run(drover, profile, seed):
    flood_bytes = {"short": 50 << 20, "default": 200 << 20, "long": 1 << 30}[profile]
    flood_lines = flood_bytes // 60
    long_line = {"short": 40 << 20, "default": 100 << 20, "long": 100 << 20}[profile]
    workspace = Workspace(prefix="drover-agents-")
    figures = {}
    server = None
    try:
        workspace.pipeline("flood", [command("flood", "yes '%s' | head -n %d >&2" % (LINE, flood_lines))])
        workspace.pipeline("hang", [command("hang", "echo started >&2; sleep 1000", timeout=1)])
        workspace.pipeline("bomb", [command("bomb", "bomb() { if [ $1 -gt 0 ]; then bomb $(($1-1)) & bomb $(($1-1)) & fi; "
                                                    "sleep 1000; }; bomb 6", timeout=2)])
        workspace.pipeline("stdout", [command("stdout", "exec 1>&-; echo closed >&2; sleep 1; echo still here >&2")])
        workspace.pipeline("utf8", [command("utf8", r"printf 'bad \377\376 bytes\n' >&2; printf '\303(\n'; printf 'ok\n'")])
        workspace.pipeline("longline", [command("longline", "head -c %d /dev/zero | tr '\\0' x >&2; echo >&2; echo after >&2" % long_line)])
        workspace.pipeline("exit", [command("exit", "yes '%s' | head -n 100000 >&2; exit 3" % LINE)])
        server = Server(drover, workspace)
        server.call("workspace/trust", {"trusted": True})

        peak = Peak(server.pid)
        started = time.monotonic()
        flood = run_to_end(server, "flood", 1800)
        elapsed = time.monotonic() - started
        growth = peak.stop()
        expect(flood["status"] == "done", "flood: run %s" % flood["status"])
        lines = count_lines(log_path(workspace, flood))
        expect(lines == flood_lines, "flood: %d of %d lines in the log" % (lines, flood_lines))
        expect(growth <= 64, "flood: RSS grew %.1f MB" % growth)
        figures["flood"] = "%d MB in %.1f s (%.0f MB/s), %d lines all logged, RSS +%.1f MB" % (
            flood_bytes >> 20, elapsed, (flood_bytes >> 20) / elapsed, lines, growth)

        for name in ("hang", "bomb"):
            started = time.monotonic()
            got = run_to_end(server, name, 60)
            expect(got["status"] == "failed" and got["failure"]["kind"] == "timeout", "%s: %s" % (name, got.get("failure")))
            wait_until(lambda: not workspace.agent_pids(), 10, "%s's processes to go" % name)
            figures[name] = "timed out, group killed, 0 processes left (%.1f s)" % (time.monotonic() - started)

        got = run_to_end(server, "stdout", 60)
        expect(got["status"] == "done", "stdout: %s" % got["status"])
        with open(log_path(workspace, got), "rb") as f:
            expect(b"still here" in f.read(), "stdout: the line after closing stdout is not in the log")
        figures["closes stdout"] = "step ended with the process, later stderr logged"

        got = run_to_end(server, "utf8", 60)
        expect(got["status"] == "done", "utf8: %s" % got["status"])
        expect(got["steps"][0].get("output", "").endswith("ok"), "utf8: output %r" % got["steps"][0].get("output"))
        with open(log_path(workspace, got), "rb") as f:
            expect("\ufffd".encode() in f.read(), "utf8: no replacement character in the log")
        figures["invalid UTF-8"] = "replaced (U+FFFD), run done"

        peak = Peak(server.pid)
        got = run_to_end(server, "longline", 300)
        growth = peak.stop()
        expect(got["status"] == "done", "long line: %s" % got["status"])
        with open(log_path(workspace, got), "rb") as f:
            lines = f.read().split(b"\n")
        expect(b"line cut at" in lines[0], "long line: no cut marker")
        expect(lines[1:] == [b"after", b""], "long line: the rest is %r" % [l[:40] for l in lines[1:]])
        expect(growth <= 160, "long line: RSS grew %.1f MB" % growth)
        figures["%d MB line" % (long_line >> 20)] = "cut at 16 MiB with a marker, next line intact, RSS +%.1f MB" % growth

        got = run_to_end(server, "exit", 60)
        expect(got["status"] == "failed", "exit: %s" % got["status"])
        lines = count_lines(log_path(workspace, got))
        expect(lines >= 100000, "exit: %d lines logged" % lines)
        figures["exit mid-output"] = "step failed (exit 3), all 100000 lines logged"
        expect(server.stop() == 0, "drover serve did not exit 0")
        expect(not workspace.agent_pids(), "agent processes left")
        return figures
    finally:
        if server is not None:
            server.kill()
        workspace.cleanup(drover)
