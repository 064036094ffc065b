#!/usr/bin/env python3
"""Every performance figure of issue 17 beside its anchor, as ratios, in one table.

    python3 Tests/Bench/figures.py [--runs 20] [--requests 2000] [--reliability short|default|long]

  start-up      spawn → `initialize` answer of `drover serve` vs floor.c (a C program that answers and
                nothing else) and clangd; where the time goes: exec of a static binary (/bin/true),
                `drover --version` (runtime start, no serving), the rest (stdio, claim of .drover/)
  requests      sequential and pipelined round trips of an unknown method vs the floor
  store         events persisted+notified per second vs raw single-row SQLite transactions (drover-bench)
  steps         wall time per step of a 50-step pipeline vs the agent process alone; the engine's time around
                the agent; one commit's store append
  scale         100 concurrent instant runs: engine CPU vs the agents' CPU
  worktree      `git worktree add` of a small repository (the anchor for isolated worktrees)
With --reliability PROFILE, the reliability suite's figures follow (Tests/Reliability/run.py).
Needs release builds: swift build -c release --product drover; swift build -c release --product drover-bench.
Stdlib only.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import transport_bench  # noqa: E402


def spawn_ms(argv, runs):
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[1:])


def worktree_ms(runs):
    with tempfile.TemporaryDirectory(prefix="drover-wt-") as tmp:
        repo = os.path.join(tmp, "repo")
        os.mkdir(repo)
        git = ["git", "-C", repo, "-c", "user.email=b@b", "-c", "user.name=b"]
        subprocess.run(git + ["init", "-q"], check=True)
        for index in range(50):
            with open(os.path.join(repo, "f%d.txt" % index), "w") as f:
                f.write("line\n" * 100)
        subprocess.run(git + ["add", "."], check=True)
        subprocess.run(git + ["commit", "-qm", "x"], check=True)
        times = []
        for index in range(runs):
            started = time.perf_counter()
            subprocess.run(git + ["worktree", "add", "-q", "-b", "b%d" % index, os.path.join(tmp, "wt%d" % index)],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)


def engine_bench(binary):
    output = subprocess.run([binary, "engine"], capture_output=True, text=True, check=True).stdout
    figures = {}
    for key, pattern in [("events", r"events persisted\+notified: median (\d+)/s"),
                         ("raw", r"raw SQLite.*?: (\d+)/s"),
                         ("step", r"per step.*?: ([\d.]+) ms wall; agent process alone ([\d.]+) ms"),
                         ("around", r"= the engine's part [-\d.]+ ms/step: ([\d.]+) ms around the agent"),
                         ("commit", r"one commit's store work on a \d+-step run: append ([\d.]+) ms = snapshot encoded ([\d.]+) ms \(whole: ([\d.]+) ms\)"),
                         ("scale", r"(\d+) concurrent instant runs: all done in ([\d.]+) s; engine CPU ([\d.]+) s, agents' CPU ([\d.]+) s")]:
        match = re.search(pattern, output)
        figures[key] = [float(g) for g in match.groups()] if match else None
    return figures, output


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--reliability", choices=["short", "default", "long"])
    parser.add_argument("--drover", default=os.path.join(ROOT, ".build/release/drover"))
    parser.add_argument("--bench", default=os.path.join(ROOT, ".build/release/drover-bench"))
    args = parser.parse_args()
    rows = []

    def row(figure, value, anchor, ratio, goal=""):
        rows.append((figure, value, anchor, ratio, goal))
        print("  %s: %s | %s | %s" % (figure, value, anchor, ratio), file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="drover-figures-") as tmp:
        floor = os.path.join(tmp, "floor")
        subprocess.run(["cc", "-O2", "-D_GNU_SOURCE", "-o", floor, os.path.join(HERE, "floor.c")], check=True)
        workdir = os.path.join(tmp, "workspace")
        os.mkdir(workdir)
        servers = {"floor": [floor], "drover": [args.drover, "serve"]}
        clangd = shutil.which("clangd") or ("/opt/swift/usr/bin/clangd" if os.access("/opt/swift/usr/bin/clangd", os.X_OK) else None)
        if clangd:
            servers["clangd"] = [clangd]
        measured = {}
        for name, cmd in servers.items():
            print("measuring %s…" % name, file=sys.stderr, flush=True)
            measured[name] = transport_bench.measure(cmd, args.runs, args.requests, 64, "bench/nonexistent", workdir)
        d, f = measured["drover"], measured["floor"]
        c = measured.get("clangd")
        row("initialize (spawn → answer)", "%.2f ms" % d["init_ms_median"], "floor %.2f ms" % f["init_ms_median"],
            "%.2f× floor" % (d["init_ms_median"] / f["init_ms_median"]) + (", %.2f× clangd" % (d["init_ms_median"] / c["init_ms_median"]) if c else ""), "≤ 2× floor")
        true_ms = spawn_ms(["/bin/true"], args.runs)
        version_ms = spawn_ms([args.drover, "--version"], args.runs)
        row("  of which: exec of a process (/bin/true)", "%.2f ms" % true_ms, "", "%.0f%%" % (100 * true_ms / d["init_ms_median"]))
        row("  of which: drover runtime start (--version − true)", "%.2f ms" % (version_ms - true_ms), "", "%.0f%%" % (100 * (version_ms - true_ms) / d["init_ms_median"]))
        row("  of which: serve + initialize (rest)", "%.2f ms" % (d["init_ms_median"] - version_ms), "", "%.0f%%" % (100 * (d["init_ms_median"] - version_ms) / d["init_ms_median"]))
        row("sequential requests", "%.0f/s" % d["seq_rps"], "floor %.0f/s" % f["seq_rps"], "%.2f× floor" % (d["seq_rps"] / f["seq_rps"]), "≥ 0.9×")
        row("pipelined requests (window 64)", "%.0f/s" % d["pipe_rps"], "floor %.0f/s" % f["pipe_rps"], "%.2f× floor" % (d["pipe_rps"] / f["pipe_rps"])
            + (", %.2f× clangd" % (d["pipe_rps"] / c["pipe_rps"]) if c else ""))

        print("running drover-bench engine…", file=sys.stderr, flush=True)
        engine, raw_output = engine_bench(args.bench)
        if engine["events"] and engine["raw"]:
            row("events persisted+notified", "%.0f/s" % engine["events"][0], "raw SQLite txn %.0f/s" % engine["raw"][0],
                "%.2f× raw" % (engine["events"][0] / engine["raw"][0]), "≥ 1×")
        if engine["step"]:
            wall, agent = engine["step"]
            row("per step (50-step pipeline)", "%.2f ms" % wall, "agent alone %.2f ms" % agent,
                "overhead %.2f ms" % (wall - agent), "≤ 1 ms overhead")
            if engine["around"]:
                row("  the engine's time around the agent (invocation, 2 commits, hand-offs)", "%.3f ms" % engine["around"][0], "", "", "≤ 1 ms overhead")
            if engine["commit"]:
                append, snapshot, whole = engine["commit"]
                row("  one commit's store append (50-step run)", "%.3f ms" % append, "snapshot %.3f ms (whole: %.3f ms)" % (snapshot, whole), "")
        if engine["scale"]:
            runs, wall, engine_cpu, agents_cpu = engine["scale"]
            row("%d concurrent instant runs" % runs, "engine CPU %.2f s (wall %.2f s)" % (engine_cpu, wall), "agents' CPU %.2f s" % agents_cpu,
                "%.0f%% of agents'" % (100 * engine_cpu / max(agents_cpu, 1e-9)), "≤ 10%")
        row("git worktree add (50 files)", "—", "%.1f ms" % worktree_ms(5), "anchor for isolated worktrees")

    print("\n| figure | drover | anchor | ratio | goal |\n|---|---|---|---|---|")
    for figure, value, anchor, ratio, goal in rows:
        print("| %s | %s | %s | %s | %s |" % (figure, value, anchor, ratio, goal))
    print("\ndrover-bench engine said:\n" + raw_output)
    if args.reliability:
        sys.stdout.flush()
        profile = [] if args.reliability == "default" else ["--" + args.reliability]
        subprocess.run([sys.executable, os.path.join(ROOT, "Tests/Reliability/run.py"), *profile, "--drover", args.drover])


if __name__ == "__main__":
    main()
