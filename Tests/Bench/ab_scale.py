#!/usr/bin/env python3
"""Interleaved A/B of the scale figure: `drover-bench engine --parts scale` (N concurrent instant runs,
engine CPU against the agents' CPU) of each build in turn, the order alternating each round, --rounds
times; medians, with the range, of the ratio and of the engine's and agents' CPU per run.

Alternating spreads machine noise evenly over the builds. On a disk whose file creation cost drifts
(an ext4 without a journal skips the inodes deleted in the last ~30 s when it allocates one), each bench
keeps its workspace (`--keep-workspace`) and they are deleted after the last round, so one round's
deletions do not slow the next round's file creation (--delete-each-round restores the old way, where
each bench deleted its own: back to back, the figure then climbs round after round). --tmpdir on a tmpfs
(e.g. /dev/shm/…) measures the engine without the disk.

Usage (from the package root; each drover-bench needs its drover beside it, as the release build has):
  python3 Tests/Bench/ab_scale.py --rounds 10 [--runs 100] [--tmpdir /dev/shm/ab] \\
      main=/tmp/main-build/drover-bench branch=.build/release/drover-bench
Stdlib only.
"""
import argparse, os, re, shutil, statistics, subprocess, sys

LINE = re.compile(r"(\d+) concurrent instant runs: all done in ([\d.]+) s; engine CPU ([\d.]+) s, agents' CPU ([\d.]+) s")
KEPT = re.compile(r"\(kept: delete (.+)\)$", re.MULTILINE)


def measure(bench, runs, environment, kept):
    """One bench run: (ratio %, engine ms/run, agents ms/run). With `kept` a list, the bench keeps its
    workspace and its path is added to `kept`."""
    command = [bench, "engine", "--parts", "scale", "--runs", str(runs)] + (["--keep-workspace"] if kept is not None else [])
    done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=600)
    found = LINE.search(done.stdout)
    if not found:
        hint = " (a build from before --keep-workspace? pass --delete-each-round)" if "--keep-workspace" in done.stderr else ""
        raise SystemExit("%s printed no scale line (exit %d): %s%s" % (bench, done.returncode, done.stderr.strip()[-500:], hint))
    if kept is not None:
        kept.extend(KEPT.findall(done.stdout))
    count, engine, agents = int(found.group(1)), float(found.group(3)), float(found.group(4))
    return 100 * engine / agents, 1000 * engine / count, 1000 * agents / count


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--tmpdir", help="the benches' TMPDIR (their workspaces); made if missing")
    parser.add_argument("--delete-each-round", action="store_true",
                        help="each bench deletes its workspace as it ends (builds from before --keep-workspace)")
    parser.add_argument("builds", nargs="+", metavar="NAME=DROVER_BENCH")
    args = parser.parse_args()
    builds = [build.split("=", 1) for build in args.builds]
    if any(len(build) != 2 for build in builds):
        parser.error("each build is NAME=path/to/drover-bench")
    environment = dict(os.environ)
    if args.tmpdir:
        os.makedirs(args.tmpdir, exist_ok=True)
        environment["TMPDIR"] = args.tmpdir
    results = {name: [] for name, _ in builds}
    kept = None if args.delete_each_round else []
    try:
        run_rounds(args, builds, environment, results, kept)
    finally:
        for path in kept or []:
            shutil.rmtree(path, ignore_errors=True)
    print()
    for name, _ in builds:
        ratios = [ratio for ratio, _, _ in results[name]]
        if not ratios:
            continue
        print("%-10s median %.1f%% (%.1f–%.1f) of the agents' CPU; engine %.2f ms/run, agents %.2f ms/run (medians of %d)" % (
            name, statistics.median(ratios), min(ratios), max(ratios),
            statistics.median(engine for _, engine, _ in results[name]),
            statistics.median(agents for _, _, agents in results[name]), len(ratios)))


def run_rounds(args, builds, environment, results, kept):
    for round_index in range(args.rounds):
        order = builds if round_index % 2 == 0 else builds[::-1]
        for name, bench in order:
            ratio, engine, agents = measure(bench, args.runs, environment, kept)
            results[name].append((ratio, engine, agents))
            load = open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"
            print("%-10s %5.1f%%  engine %.2f ms/run  agents %.2f ms/run  load %s" % (name, ratio, engine, agents, load),
                  flush=True)


if __name__ == "__main__":
    sys.exit(main())
