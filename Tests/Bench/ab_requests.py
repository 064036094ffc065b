#!/usr/bin/env python3
"""Interleaved A/B of the engine's CPU per sequential request: each build's `drover serve` (and
floor.c, built from this folder) gets --rounds rounds of --requests round trips in turn, and the CPU
its serving process spent in each round is summed from /proc/<pid>/task/*/schedstat (for drover, the
workspace's engine process: after `initialize` serve only waits). Medians of ns per request, with the
range, and the rate.

A CPU figure is steadier than a rate on a shared machine, and interleaving spreads the noise evenly.
Pin the whole run to one CPU, as `figures.py`'s "one CPU" rows are (client and servers share it):
  taskset -c 1 python3 Tests/Bench/ab_requests.py --rounds 8 \\
      main=/tmp/main-build/drover branch=.build/release/drover
--method/--params choose the request: the default, an unknown method, is what `figures.py` measures
(floor.c answers anything); `--method run/get --params '{"runId":"r-20260101-000000-abcde"}'` is a
request that reaches the engine (and its store) and fails there. Each build gets a fresh workspace,
whose engine is stopped at the end. Stdlib only.
"""
import argparse, glob, json, os, shutil, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import transport_bench  # noqa: E402


def cpu_ns(pid):
    """CPU time (ns) of every thread of `pid` so far."""
    total = 0
    for task in glob.glob("/proc/%d/task/*/schedstat" % pid):
        try:
            with open(task) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass  # a thread that just ended
    return total


def engine_pid(drover, workspace):
    """The engine serving `workspace`, found by its command line (`drover` names it by its real path)."""
    wanted = ["engine", "--foreground", "--workspace", os.path.realpath(workspace)]
    for entry in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(entry, "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        if argv[1:1 + len(wanted)] == wanted:
            return int(entry.split("/")[2])
    raise SystemExit("no engine found for %s (%s)" % (workspace, drover))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--requests", type=int, default=5000, help="round trips per round")
    parser.add_argument("--method", default="bench/nonexistent")
    parser.add_argument("--params", default='{"text": "hello", "n": 42}', help="the request's params, as JSON")
    parser.add_argument("--no-floor", action="store_true", help="leave floor.c out")
    parser.add_argument("builds", nargs="+", metavar="NAME=DROVER")
    args = parser.parse_args()
    params = json.loads(args.params)
    builds = []
    for spec in args.builds:
        name, _, path = spec.partition("=")
        if not path or not os.access(path, os.X_OK):
            parser.error("%r: expected NAME=PATH to an executable drover" % spec)
        builds.append((name, os.path.abspath(path)))

    scratch = tempfile.mkdtemp(prefix="ab-requests-")
    servers = {}  # name -> (connection, pid of the process that does the work, stop)
    try:
        if not args.no_floor:
            floor = os.path.join(scratch, "floor")
            subprocess.run(["cc", "-O2", "-D_GNU_SOURCE", "-o", floor, os.path.join(HERE, "floor.c")], check=True)
            connection, _ = transport_bench.spawn([floor], scratch)
            servers["floor"] = (connection, connection.p.pid, None)
        for name, drover in builds:
            workspace = os.path.join(scratch, name)
            os.mkdir(workspace)
            connection, _ = transport_bench.spawn([drover, "serve"], workspace)
            servers[name] = (connection, engine_pid(drover, workspace), (drover, workspace))

        next_id = [10 ** 6]

        def round_trips(connection, count):
            started = time.perf_counter()
            for _ in range(count):
                next_id[0] += 1
                connection.send({"jsonrpc": "2.0", "id": next_id[0], "method": args.method, "params": params})
                connection.recv_response(next_id[0])
            return count / (time.perf_counter() - started)

        for connection, _, _ in servers.values():
            round_trips(connection, min(2000, args.requests))  # warm-up
        per_request = {name: [] for name in servers}
        rates = {name: [] for name in servers}
        for index in range(args.rounds):
            # Alternate the order, so no build always follows the same one.
            order = list(servers) if index % 2 == 0 else list(reversed(servers))
            for name in order:
                connection, pid, _ = servers[name]
                before = cpu_ns(pid)
                rates[name].append(round_trips(connection, args.requests))
                per_request[name].append((cpu_ns(pid) - before) / args.requests)

        first = builds[0][0]
        base = statistics.median(per_request[first])
        print("%s, %d rounds of %d sequential requests; CPU of the serving process per request" % (args.method, args.rounds, args.requests))
        for name in servers:
            values = per_request[name]
            print("  %-10s %6.0f ns (%.0f–%.0f)  %.3f× %s   %.0f requests/s" % (
                name, statistics.median(values), min(values), max(values), statistics.median(values) / base, first,
                statistics.median(rates[name])))
    finally:
        for connection, _, stop in servers.values():
            transport_bench.shutdown(connection)
            if stop:
                subprocess.run([stop[0], "engine", "stop", "--quiet", "--workspace", stop[1]], timeout=30)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
