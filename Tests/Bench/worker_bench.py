#!/usr/bin/env python3
"""`drover worker`s on PostgreSQL beside the SQLite engine, in one run.

    python3 Tests/Bench/worker_bench.py [--runs 60] [--gates 10] [--workers 1,2,4] [--drover PATH]

For the SQLite engine (one `drover serve`, maxRuns 4) and then for 1, 2 and 4 workers (each
`--max-runs 4`) on a throwaway PostgreSQL server of its own (initdb, pg_ctl on a loopback port),
with clients set to leave runs to workers (DROVER_STORE_EXECUTOR=workers):

  claimed runs/s   `--runs` one-step fake-agent runs queued, then driven: runs / (last run.completed −
                   first run.started). With workers the runs are queued before the workers start, so
                   this is claim + drive + release throughput.
  pickup ms        run.created → run.started for a run created while the drivers idle (the queue's
                   fan-out: a worker polls every 0.1 s).
  gate fan-out ms  approval.resolved (written by the client) → step.started of the next step (written by
                   whoever drives the run): how long an answer takes to reach the driver and be acted on.

Figures come from the stored events' timestamps (millisecond resolution), so polling by the bench
adds nothing to them. Stdlib only; needs PostgreSQL's server binaries (apt-get install postgresql).
"""
import argparse
import datetime
import glob
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "Tests", "Reliability"))
from client import Server, Workspace, default_drover, wait_until  # noqa: E402


def fake_step(step_id, requires_approval=False):
    step = {"id": step_id, "kind": "agent", "prompt": "{{task}}",
            "agent": {"driver": "fake", "script": [[{"result": "ok"}]]}}
    if requires_approval:
        step["requiresApproval"] = True
    return step


class Postgres:
    """A throwaway cluster: initdb in a temporary folder, trust auth, a free loopback port."""

    def __init__(self):
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not candidates:
            raise SystemExit("worker_bench: no PostgreSQL server binaries (apt-get install postgresql)")
        self.bin = os.path.dirname(candidates[-1])
        self.folder = tempfile.mkdtemp(prefix="drover-bench-pg-")
        self.data = os.path.join(self.folder, "data")
        self.as_postgres = os.getuid() == 0
        if self.as_postgres:
            shutil.chown(self.folder, "postgres")
        self._run("initdb", "-D", self.data, "-U", "drover", "--auth=trust", "-E", "UTF8")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        options = "-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories='%s' -c fsync=on" % (self.port, self.folder)
        self._run("pg_ctl", "-D", self.data, "-o", options, "-l", os.path.join(self.folder, "log"), "-w", "start")

    def _run(self, program, *args):
        argv = [os.path.join(self.bin, program), *args]
        if self.as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def url(self, database):
        return "postgres://drover@127.0.0.1:%d/%s" % (self.port, database)

    def create(self, database):
        subprocess.run([os.path.join(self.bin, "psql"), "-X", "-q", "-d", self.url("postgres"), "-c", "CREATE DATABASE " + database],
                       check=True, stdout=subprocess.DEVNULL)
        return self.url(database)

    def stop(self):
        try:
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def stamp(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def events(server, run_id):
    return server.call("run/events", {"runId": run_id, "afterSeq": 0, "limit": 1000})["events"]


def first_at(run_events, event_type, **data):
    for event in run_events:
        if event["type"] == event_type and all(event.get("data", {}).get(k) == v for k, v in data.items()):
            return stamp(event["at"])
    raise SystemExit("worker_bench: no %s in %s" % (event_type, [e["type"] for e in run_events]))


def all_ended(server, run_ids):
    runs = server.call("run/list", {"limit": 500})["runs"]
    ended = {r["id"] for r in runs if r["status"] in ("done", "failed", "cancelled")}
    return ended >= set(run_ids)


def measure(drover, workers, args, postgres):
    """One configuration: workers == 0 is the SQLite engine."""
    workspace = Workspace(prefix="drover-bench-w-")
    workspace.pipeline("instant", [fake_step("only")])
    workspace.pipeline("gated", [fake_step("draft", requires_approval=True), fake_step("next")])
    with open(os.path.join(workspace.path, ".drover", "config.json"), "w") as f:
        json.dump({"concurrency": {"maxRuns": 4}}, f)
    if workers:
        url = postgres.create("bench_w%d_%d" % (workers, os.getpid()))
        env = {"DROVER_STORE_URL": url, "DROVER_STORE_EXECUTOR": "workers"}
    else:
        env = {"DROVER_STORE_URL": "sqlite"}
    client = Server(drover, workspace, logs=False, args=["--no-daemon"], env=env)
    started = []
    try:
        client.call("workspace/trust", {"trusted": True})
        ids = [client.call("run/start", {"pipelineId": "instant", "task": "run %d" % n})["run"]["id"] for n in range(args.runs)]

        def worker():
            process = subprocess.Popen([drover, "worker", "--store", url, "--max-runs", "4", "--lease", "5"],
                                       cwd=workspace.path, env=dict(workspace.env(), **env),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            os.set_blocking(process.stderr.fileno(), False)
            started.append(process)
            return process
        for _ in range(workers):
            worker()
        wait_until(lambda: all_ended(client, ids), 600, "the %d runs to end" % args.runs, interval=0.2)
        per_run = [events(client, run_id) for run_id in ids]
        failed = [run_id for run_id, es in zip(ids, per_run) if any(e["type"] == "run.failed" for e in es)]
        if failed:
            raise SystemExit("worker_bench: runs failed: %s" % failed[:3])
        span = max(first_at(es, "run.completed") for es in per_run) - min(first_at(es, "run.started") for es in per_run)
        throughput = args.runs / span

        pickups, fanouts = [], []
        for n in range(args.gates):
            run_id = client.call("run/start", {"pipelineId": "gated", "task": "gate %d" % n})["run"]["id"]
            item = wait_until(lambda: next((i for i in client.call("inbox/list")["items"] if i["runId"] == run_id), None),
                              60, "the approval of %s" % run_id, interval=0.05)
            client.call("step/approve", {"runId": run_id, "approvalId": item["id"]})
            wait_until(lambda: all_ended(client, [run_id]), 60, "%s to end" % run_id, interval=0.05)
            es = events(client, run_id)
            pickups.append((first_at(es, "run.started") - first_at(es, "run.created")) * 1000)
            fanouts.append((first_at(es, "step.started", stepId="next") - first_at(es, "approval.resolved")) * 1000)
        return throughput, pickups, fanouts
    finally:
        for process in started:
            process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        client.stop()
        workspace.cleanup()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--gates", type=int, default=10)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--drover", default=None)
    args = parser.parse_args()
    drover = os.path.abspath(args.drover) if args.drover else default_drover()
    counts = [int(n) for n in args.workers.split(",") if n]
    print("worker_bench: %s, %d runs per configuration, %d gated runs, %d cores" % (drover, args.runs, args.gates, os.cpu_count()))
    postgres = Postgres()
    try:
        rows = [("SQLite engine (maxRuns 4)", measure(drover, 0, args, postgres))]
        for workers in counts:
            rows.append(("%d worker%s (--max-runs 4 each)" % (workers, "" if workers == 1 else "s"), measure(drover, workers, args, postgres)))
    finally:
        postgres.stop()
    print("%-32s %16s %18s %22s" % ("", "claimed runs/s", "pickup ms (median)", "gate fan-out ms med/max"))
    for name, (throughput, pickups, fanouts) in rows:
        print("%-32s %16.1f %18.0f %15.0f / %.0f" % (name, throughput, statistics.median(pickups), statistics.median(fanouts), max(fanouts)))


if __name__ == "__main__":
    main()
