#!/usr/bin/env python3
"""Every performance figure of issue 17 beside its anchor, as ratios, in one table.

    python3 Tests/Bench/figures.py [--runs 20] [--requests 1000] [--reliability short|default|long]
                                   [--drover PATH] [--drover-dynamic PATH] [--no-engine] [--bench-tmpdir DIR]

  start-up      spawn → `initialize` answer of `drover serve` vs floor.c (a C program that answers and
                nothing else) and clangd, interleaved; with the workspace's engine running (what an editor
                meets, and what the goal is about) and without (serve starts the engine first);
                `--drover-dynamic` adds a second build beside the first (each is said to be static or not);
                where the time goes: `drover --version` (exec and the Swift runtime's start, no serving),
                the rest (stdio, the engine's socket, initialize)
  requests      sequential and pipelined round trips of an unknown method vs the floor (and clangd),
                the servers taking turns round by round; again with everything pinned to one CPU, where
                no cross-CPU wake-up (which in a VM outweighs all else) hides the servers' own work
  store         events persisted+notified per second vs raw single-row SQLite transactions (drover-bench)
  steps         wall time per step of a 50-step pipeline vs the agent process alone; the engine's time around
                the agent; one commit's store append
  scale         100 concurrent instant runs: engine CPU vs the agents' CPU
                (store, steps and scale use drover-bench's workspaces: in the temporary folder, or in
                --bench-tmpdir, e.g. a tmpfs or a journalled disk; the rows name its file system)
  worktree      `git worktree add` of a small repository (the anchor for isolated worktrees)
With --reliability PROFILE, the reliability suite's figures follow (Tests/Reliability/run.py).
Needs release builds: swift build -c release --static-swift-stdlib -Xswiftc -static-executable
--disable-default-traits --product drover (the fast build of README's Install); swift build -c release
--product drover-bench. A figure that cannot be measured (a binary missing, a server that does not answer
within 30 s) is a FAILED row with the reason, and the script exits 1: it never prints nothing.
Stdlib only.
"""
import argparse
import os
import re
import shutil
import statistics
import struct
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


def is_static(path):
    """Whether the ELF executable at `path` has no program interpreter (nothing for a dynamic loader to do)."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if head[:4] != b"\x7fELF":
        return False
    phoff, = struct.unpack_from("<Q", head, 32)
    size, count = struct.unpack_from("<HH", head, 54)
    return all(struct.unpack_from("<I", head, phoff + index * size)[0] != 3 for index in range(count))  # PT_INTERP


def describe(path):
    return "%s (%s)" % (path, "static" if is_static(path) else "dynamic")


def stop_engine(binary, workspace):
    subprocess.run([binary, "engine", "stop", "--workspace", workspace], capture_output=True, timeout=60)


def interleaved_initialize(servers, runs):
    """Median ms from spawn to the `initialize` answer per server, spawning A, B, C, A, B, C, … so that
    machine noise falls on all alike. `servers`: name → (argv, workspace)."""
    times = {name: [] for name in servers}
    for name, (argv, workspace) in servers.items():  # untimed warm-up: page cache
        connection, _ = transport_bench.spawn(argv, workspace)
        transport_bench.shutdown(connection)
    for _ in range(runs):
        for name, (argv, workspace) in servers.items():
            connection, ms = transport_bench.spawn(argv, workspace)
            times[name].append(ms)
            transport_bench.shutdown(connection)
    return {name: statistics.median(values) for name, values in times.items()}


def interleaved_requests(servers, requests, rounds=9):
    """Median requests/s per server, sequential and pipelined (window 64), over `rounds` rounds of
    `requests` each, one connection per server open throughout and the servers taking turns round by
    round, so that machine noise falls on all alike. `servers`: name → (argv, workspace)."""
    connections = {name: transport_bench.spawn(argv, workspace)[0] for name, (argv, workspace) in servers.items()}
    try:
        for connection in connections.values():  # warm-up
            transport_bench.bench_requests(connection, "bench/nonexistent", min(200, requests), 64)
        figures = {name: ([], []) for name in servers}
        for _ in range(rounds):
            for name, connection in connections.items():
                sequential, pipelined = transport_bench.bench_requests(connection, "bench/nonexistent", requests, 64)
                figures[name][0].append(sequential)
                figures[name][1].append(pipelined)
    finally:
        for connection in connections.values():
            transport_bench.shutdown(connection)
    return {name: {"seq_rps": statistics.median(seq), "pipe_rps": statistics.median(pipe)} for name, (seq, pipe) in figures.items()}


def cold_initialize(binary, root, runs):
    """Median ms from spawn to the answer when no engine runs for the workspace (serve starts one)."""
    times = []
    # A folder of its own per call: two builds are both named `drover`.
    folder = tempfile.mkdtemp(prefix="cold-", dir=root)
    for index in range(runs):
        workspace = os.path.join(folder, "ws-%d" % index)
        os.mkdir(workspace)
        try:
            connection, ms = transport_bench.spawn([binary, "serve"], workspace)
            times.append(ms)
            transport_bench.shutdown(connection)
        finally:
            stop_engine(binary, workspace)
    return statistics.median(times)


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


def file_system(path):
    """What `path` is stored on, e.g. "tmpfs" or "ext4 without journal" (the journal decides how dear
    creating a file is: unjournalled ext4 steps over recently freed inodes)."""
    path, best = os.path.realpath(path), ("", "?", "?")
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            device, point, kind = line.split()[:3]
            point = point.replace("\\040", " ")
            if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) >= len(best[0]):
                best = (point, device, kind)
    point, device, kind = best
    if kind in ("ext3", "ext4"):
        journalled = os.path.exists("/proc/fs/jbd2/%s-8" % os.path.basename(device))
        kind += " with journal" if journalled else " without journal"
    return "%s on %s" % (kind, point)


def engine_bench(binary, tmpdir=None):
    environment = dict(os.environ, TMPDIR=tmpdir) if tmpdir else None
    output = subprocess.run([binary, "engine"], capture_output=True, text=True, check=True, env=environment).stdout
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
    parser.add_argument("--requests", type=int, default=1000, help="requests per round (9 rounds, servers taking turns)")
    parser.add_argument("--reliability", choices=["short", "default", "long"])
    parser.add_argument("--drover", default=os.path.join(ROOT, ".build/release/drover"))
    parser.add_argument("--bench", default=os.path.join(ROOT, ".build/release/drover-bench"))
    parser.add_argument("--drover-dynamic", help="a second drover build measured beside --drover (e.g. a plain swift build -c release)")
    parser.add_argument("--no-engine", action="store_true", help="leave out drover-bench engine (start-up and requests only)")
    parser.add_argument("--bench-tmpdir", help="where drover-bench makes its workspaces (default: the temporary folder)")
    parser.add_argument("--cold-runs", type=int, default=5, help="spawns with no engine running (each starts one); 0 leaves the row out")
    args = parser.parse_args()
    rows = []

    def row(figure, value, anchor, ratio, goal=""):
        rows.append((figure, value, anchor, ratio, goal))
        print("  %s: %s | %s | %s" % (figure, value, anchor, ratio), file=sys.stderr, flush=True)

    failures = []

    def failed(figure, error):
        failures.append(figure)
        row(figure, "FAILED", str(error), "", "")

    # Absolute: servers start in their workspaces.
    drovers = {"drover": os.path.abspath(args.drover)}
    if args.drover_dynamic:
        drovers["drover (2nd build)"] = os.path.abspath(args.drover_dynamic)
    args.drover, args.bench = drovers["drover"], os.path.abspath(args.bench)
    for name, path in list(drovers.items()) + ([] if args.no_engine else [("drover-bench", args.bench)]):
        if not os.access(path, os.X_OK):
            print("figures.py: %s is not an executable file; build it first (see --help)" % path, file=sys.stderr)
            sys.exit(1)
    with tempfile.TemporaryDirectory(prefix="drover-figures-") as tmp:
        floor = os.path.join(tmp, "floor")
        subprocess.run(["cc", "-O2", "-D_GNU_SOURCE", "-o", floor, os.path.join(HERE, "floor.c")], check=True)
        workdir = os.path.join(tmp, "workspace")
        os.mkdir(workdir)
        clangd = shutil.which("clangd") or ("/opt/swift/usr/bin/clangd" if os.access("/opt/swift/usr/bin/clangd", os.X_OK) else None)
        for name, path in drovers.items():
            print("%s: %s" % (name, describe(path)), file=sys.stderr, flush=True)
        # Start-up, engine running: each drover build gets a workspace whose engine it started beforehand.
        servers = {"floor": ([floor], workdir)}
        for name, path in drovers.items():
            workspace = os.path.join(tmp, "warm-" + str(len(servers)))
            os.mkdir(workspace)
            subprocess.run([path, "engine", "start", "--workspace", workspace], check=True, capture_output=True, timeout=60)
            servers[name] = ([path, "serve"], workspace)
        if clangd:
            servers["clangd"] = ([clangd], workdir)
        print("measuring initialize, %d interleaved spawns each…" % args.runs, file=sys.stderr, flush=True)
        warm = {}
        try:
            warm = interleaved_initialize(servers, args.runs)
        except Exception as error:
            failed("initialize, engine running", error)
        f = warm.get("floor")
        for name, path in drovers.items():
            if name in warm:
                row("initialize, engine running: %s (%s)" % (name, "static" if is_static(path) else "dynamic"),
                    "%.2f ms" % warm[name], "floor %.2f ms" % f, "%.2f× floor" % (warm[name] / f)
                    + (", %.2f× clangd" % (warm[name] / warm["clangd"]) if "clangd" in warm else ""), "≤ 2× floor")
        for name, path in drovers.items() if args.cold_runs > 0 else []:
            try:
                cold = cold_initialize(path, tmp, args.cold_runs)
                row("initialize, no engine yet (serve starts it): %s" % name, "%.2f ms" % cold,
                    "floor %.2f ms" % f if f else "", "%.1f× floor" % (cold / f) if f else "")
            except Exception as error:
                failed("initialize, no engine yet: %s" % name, error)
        if "drover" in warm:
            # Not /bin/true as the anchor of exec: it is dynamically linked, so the loader makes it slower
            # to start than a static drover.
            version_ms = spawn_ms([args.drover, "--version"], args.runs)
            d_init = warm["drover"]
            row("  of which: exec + Swift runtime start (drover --version)", "%.2f ms" % version_ms, "", "%.0f%%" % (100 * version_ms / d_init))
            row("  of which: serve, the engine's socket, initialize (rest)", "%.2f ms" % (d_init - version_ms), "", "%.0f%%" % (100 * (d_init - version_ms) / d_init))
        measured = {}
        print("measuring requests, servers taking turns…", file=sys.stderr, flush=True)
        try:
            measured = interleaved_requests(servers, args.requests)
        except Exception as error:
            failed("requests", error)
        for name, path in drovers.items():
            stop_engine(path, servers[name][1])
        # A sequential round trip is two wake-ups; when the scheduler puts client and server on different
        # CPUs, each is a cross-CPU wake-up, which in a VM costs more than everything else (floor.c
        # included) and varies with placement. On one CPU, what is left is the servers' own work.
        print("measuring requests on one CPU (client, servers and engines pinned to CPU 0)…", file=sys.stderr, flush=True)
        pinned_servers = {"floor": (["taskset", "-c", "0", floor], workdir)}
        for name, path in drovers.items():
            workspace = os.path.join(tmp, "pinned-" + str(len(pinned_servers)))
            os.mkdir(workspace)
            subprocess.run(["taskset", "-c", "0", path, "engine", "start", "--workspace", workspace], check=True, capture_output=True, timeout=60)
            pinned_servers[name] = (["taskset", "-c", "0", path, "serve"], workspace)
        if clangd:
            pinned_servers["clangd"] = (["taskset", "-c", "0", clangd], workdir)
        pinned = {}
        affinity = os.sched_getaffinity(0)
        try:
            os.sched_setaffinity(0, {0})
            pinned = interleaved_requests(pinned_servers, args.requests)
        except Exception as error:
            failed("requests on one CPU", error)
        finally:
            os.sched_setaffinity(0, affinity)
            for name, path in drovers.items():
                stop_engine(path, pinned_servers[name][1])
        for placement, figures in [("", measured), (", one CPU", pinned)]:
            fr, c = figures.get("floor"), figures.get("clangd")
            for name in drovers:
                d = figures.get(name)
                if not (d and fr):
                    continue
                row("sequential requests%s: %s" % (placement, name), "%.0f/s" % d["seq_rps"], "floor %.0f/s" % fr["seq_rps"],
                    "%.2f× floor" % (d["seq_rps"] / fr["seq_rps"]) + (", %.2f× clangd" % (d["seq_rps"] / c["seq_rps"]) if c else ""), "≥ 0.9×")
                row("pipelined requests (window 64)%s: %s" % (placement, name), "%.0f/s" % d["pipe_rps"], "floor %.0f/s" % fr["pipe_rps"],
                    "%.2f× floor" % (d["pipe_rps"] / fr["pipe_rps"]) + (", %.2f× clangd" % (d["pipe_rps"] / c["pipe_rps"]) if c else ""))

        bench_disk = file_system(args.bench_tmpdir or tempfile.gettempdir())
        if not args.no_engine:
            print("running drover-bench engine, workspaces on %s…" % bench_disk, file=sys.stderr, flush=True)
        engine, raw_output = {"events": None, "raw": None, "step": None, "around": None, "commit": None, "scale": None}, ""
        if not args.no_engine:
            try:
                engine, raw_output = engine_bench(args.bench, args.bench_tmpdir)
                missing = [key for key, value in engine.items() if value is None]
                if missing:
                    failed("drover-bench engine", "its output has no %s line" % ", ".join(missing))
            except Exception as error:
                failed("drover-bench engine", error)
        if engine["events"] and engine["raw"]:
            row("events persisted+notified (%s)" % bench_disk, "%.0f/s" % engine["events"][0], "raw SQLite txn %.0f/s" % engine["raw"][0],
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
            row("%d concurrent instant runs (%s)" % (runs, bench_disk), "engine CPU %.2f s (wall %.2f s)" % (engine_cpu, wall), "agents' CPU %.2f s" % agents_cpu,
                "%.0f%% of agents'" % (100 * engine_cpu / max(agents_cpu, 1e-9)), "≤ 10%")
        row("git worktree add (50 files)", "—", "%.1f ms" % worktree_ms(5), "anchor for isolated worktrees")

    print("\n| figure | drover | anchor | ratio | goal |\n|---|---|---|---|---|")
    for figure, value, anchor, ratio, goal in rows:
        print("| %s | %s | %s | %s | %s |" % (figure, value, anchor, ratio, goal))
    print("\ndrover-bench engine said:\n" + raw_output)
    if failures:
        print("figures.py: %d figure(s) FAILED: %s" % (len(failures), "; ".join(failures)), file=sys.stderr)
    if args.reliability:
        sys.stdout.flush()
        profile = [] if args.reliability == "default" else ["--" + args.reliability]
        subprocess.run([sys.executable, os.path.join(ROOT, "Tests/Reliability/run.py"), *profile, "--drover", args.drover])
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
