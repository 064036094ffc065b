#!/usr/bin/env python3
"""Server memory while an agent floods its log and the client reads slowly, or not at all (issue 8).

Starts `drover serve` on a fresh workspace whose one-step pipeline prints --lines log lines, starts
the run, then reads the server's stdout in one of three ways:
  stalled  never reads again after the run/start answer;
  slow     reads 64 KiB every 50 ms (about 1.3 MB/s);
  fast     reads as fast as it can.
Samples the server's VmRSS (/proc/<pid>/status) every 100 ms until every line is in the attempt's
log file and the run's last event is in the store, plus --settle seconds; prints the peak growth
over the RSS after `initialize`, and how many lines reached the log file.

Usage (from the package root, after a release build):
  python3 Tests/Bench/slow_client.py [--lines 1000000] [--agent fake|command] [--modes stalled,slow,fast] \
      [-- .build/release/drover]
Stdlib only; Linux only (reads /proc).
"""
import argparse, glob, json, os, shutil, subprocess, tempfile, threading, time


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def pipeline(agent, lines):
    if agent == "fake":
        step = {"id": "flood", "kind": "agent", "prompt": "p",
                "agent": {"driver": "fake", "script": [[{"spam": lines}, {"result": "flooded"}]]}}
    else:
        # On stderr: a command step's stdout becomes its output (up to 16 MiB, stored in the run), which
        # measures the store, not the transport.
        step = {"id": "flood", "kind": "command",
                "command": "yes 'a line of agent output, about sixty bytes long, like a compiler' | head -n %d >&2"
                           % lines}
    return {"name": "Flood", "steps": [step]}


def send(server, message):
    server.stdin.write((json.dumps(message) + "\n").encode())
    server.stdin.flush()


def read_answer(server, pending, wanted_id):
    """Reads NDJSON lines until the answer with `wanted_id`; returns it."""
    while True:
        while b"\n" not in pending[0]:
            chunk = os.read(server.stdout.fileno(), 1 << 16)
            if not chunk:
                raise SystemExit("the server closed stdout")
            pending[0] += chunk
        line, pending[0] = pending[0].split(b"\n", 1)
        message = json.loads(line)
        if message.get("id") == wanted_id:
            return message


def count_lines(paths):
    total = 0
    for path in paths:
        with open(path, "rb") as log:
            while True:
                block = log.read(1 << 20)
                if not block:
                    break
                total += block.count(b"\n")
    return total


def measure(command, agent, lines, mode, settle, timeout):
    workspace = tempfile.mkdtemp(prefix="drover-slow-client-")
    try:
        os.makedirs(os.path.join(workspace, ".drover", "pipelines"))
        with open(os.path.join(workspace, ".drover", "pipelines", "flood.json"), "w") as file:
            json.dump(pipeline(agent, lines), file)
        env = dict(os.environ, DROVER_CONFIG_DIR=os.path.join(workspace, "config"))
        server = subprocess.Popen(command + ["serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, cwd=workspace, env=env)
        pending = [b""]
        send(server, {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                      "params": {"protocolVersion": 1, "workspace": workspace}})
        read_answer(server, pending, 1)
        send(server, {"jsonrpc": "2.0", "id": 2, "method": "workspace/trust", "params": {"trusted": True}})
        read_answer(server, pending, 2)
        baseline = rss_kib(server.pid)
        send(server, {"jsonrpc": "2.0", "id": 3, "method": "run/start",
                      "params": {"pipelineId": "flood", "task": "flood"}})
        run_id = read_answer(server, pending, 3)["result"]["run"]["id"]

        stop = threading.Event()
        received = [0]

        def reader():
            while not stop.is_set():
                chunk = os.read(server.stdout.fileno(), 1 << 16)
                if not chunk:
                    return
                received[0] += len(chunk)
                if mode == "slow":
                    time.sleep(0.05)

        if mode != "stalled":
            threading.Thread(target=reader, daemon=True).start()

        logs = os.path.join(workspace, ".drover", "logs")
        start = time.monotonic()
        peak = baseline
        logged = 0
        flooded_at = None
        while time.monotonic() - start < timeout:
            time.sleep(0.1)
            peak = max(peak, rss_kib(server.pid))
            if flooded_at is None:
                logged = count_lines(glob.glob(os.path.join(logs, run_id + "@*.log")))
                if logged >= lines:
                    flooded_at = time.monotonic() - start
            elif time.monotonic() - start >= flooded_at + settle:
                break
        final = rss_kib(server.pid)
        server.kill()
        server.wait()
        stop.set()
        print("%-7s %-7s %9d lines: peak RSS +%6.1f MB (baseline %5.1f MB, at end +%6.1f MB); "
              "%s lines in the log file after %s; client read %.1f MB" % (
                  mode, agent, lines, (peak - baseline) / 1024, baseline / 1024, (final - baseline) / 1024,
                  logged, "%.1f s" % flooded_at if flooded_at is not None else "TIMEOUT",
                  received[0] / 1e6), flush=True)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--agent", choices=["fake", "command"], default="fake")
    parser.add_argument("--modes", default="stalled,slow,fast")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds to keep sampling after the flood")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("command", nargs="*", default=[".build/release/drover"])
    args = parser.parse_args()
    command = list(args.command)
    if "/" in command[0]:
        command[0] = os.path.abspath(command[0])  # the server runs in a temporary workspace
    for mode in args.modes.split(","):
        measure(command, args.agent, args.lines, mode, args.settle, args.timeout)


if __name__ == "__main__":
    main()
