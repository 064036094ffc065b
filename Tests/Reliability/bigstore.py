"""Big stores: 10,000 runs (1% blocked at an approval, the rest done) and up to 1,000,000 events.

Two template runs are made by the real server (one done, one blocked), then cloned row by row with
sqlite3 into the store. Measured over pipes: `run/list` and `inbox/list` p50 (goal <= 5 ms), and the time
from spawn to the `initialize` answer and to the first `run/list` answer (the store open, runs resumed),
each against the same on an empty store.
"""
import os
import sqlite3
import statistics
import time

from client import Failed, Server, Workspace, expect, wait_until


def template_runs(drover, workspace, usage_events):
    workspace.pipeline("big", [
        {"id": "one", "kind": "agent", "prompt": "{{task}}",
         "agent": {"driver": "fake", "script": [[{"usage": {"model": "m", "input": 1, "output": 1}}] * usage_events
                                                 + [{"result": "one"}]]}},
        {"id": "two", "kind": "agent", "prompt": "{{previous.output}}", "requiresApproval": True,
         "agent": {"driver": "fake", "script": [[{"result": "proposal"}]]}},
    ])
    server = Server(drover, workspace, logs=False)
    try:
        server.call("workspace/trust", {"trusted": True})
        done = server.call("run/start", {"pipelineId": "big", "task": "done one"})["run"]["id"]
        blocked = server.call("run/start", {"pipelineId": "big", "task": "blocked one"})["run"]["id"]
        for run_id in (done, blocked):
            wait_until(lambda: server.call("run/get", {"runId": run_id})["run"]["status"] == "blocked", 60, "a gate")
        approval = [i for i in server.call("inbox/list", {})["items"] if i["runId"] == done][0]["id"]
        server.call("step/approve", {"runId": done, "approvalId": approval})
        wait_until(lambda: server.call("run/get", {"runId": done})["run"]["status"] == "done", 60, "the run to end")
        expect(server.stop() == 0, "drover serve did not exit 0")
    finally:
        server.kill()
    return done, blocked


def clone(store, templates, runs, blocked_every):
    db = sqlite3.connect(store)
    rows = {}
    for name, run_id in templates.items():
        snapshot, created = db.execute("SELECT snapshot, created_at FROM runs WHERE id = ?", (run_id,)).fetchone()
        events = db.execute("SELECT seq, type, at, data FROM events WHERE run_id = ? ORDER BY seq", (run_id,)).fetchall()
        rows[name] = (run_id, snapshot, events)
    db.execute("DELETE FROM events")
    db.execute("DELETE FROM runs")
    total = 0
    with db:
        for index in range(runs):
            name = "blocked" if index % blocked_every == 0 else "done"
            template_id, snapshot, events = rows[name]
            run_id = "r-20250101-%06d-%05d" % (index // 100000, index % 100000)
            created = "2025-01-01T%02d:%02d:%02d.%03dZ" % (index // 360000 % 24, index // 6000 % 60, index // 100 % 60, index % 1000)
            db.execute("INSERT INTO runs (id, pipeline_id, status, created_at, updated_at, snapshot) VALUES (?, ?, ?, ?, ?, ?)",
                       (run_id, "big", name, created, created, snapshot.replace(template_id, run_id)))
            db.executemany("INSERT INTO events (run_id, seq, type, at, data) VALUES (?, ?, ?, ?, ?)",
                           [(run_id, seq, kind, at, data) for seq, kind, at, data in events])
            total += len(events)
    db.close()
    return total


def timings(drover, workspace, calls):
    started = time.perf_counter()
    server = Server(drover, workspace, logs=False)
    initialized = time.perf_counter()
    server.call("run/list", {})
    ready = time.perf_counter()
    samples = {"run/list": [], "inbox/list": [], "run/list blocked": []}
    try:
        for _ in range(calls):
            for method, params in (("run/list", {}), ("inbox/list", {}), ("run/list", {"status": ["blocked"]})):
                began = time.perf_counter()
                result = server.call(method, params)
                samples[method + (" blocked" if params else "")].append((time.perf_counter() - began) * 1000)
        items = len(result["runs"]) if "runs" in result else 0
        inbox = len(server.call("inbox/list", {})["items"])
        expect(server.stop() == 0, "drover serve did not exit 0")
    finally:
        server.kill()
    return {"initialize": (initialized - started) * 1000, "ready": (ready - started) * 1000,
            "p50": {k: statistics.median(v) for k, v in samples.items()}, "inbox": inbox, "blocked listed": items}


def run(drover, profile, seed):
    runs = 10_000
    events_per_run = {"short": 10, "default": 30, "long": 100}[profile]
    calls = {"short": 30, "default": 60, "long": 100}[profile]
    empty = Workspace(prefix="drover-empty-")
    big = Workspace(prefix="drover-big-")
    try:
        # The template: created, started, step one (usage events, completed), step two, approval, completed.
        done, blocked = template_runs(drover, big, max(1, events_per_run - 10))
        events = clone(big.store, {"done": done, "blocked": blocked}, runs, 100)
        big_figures = [timings(drover, big, calls)]
        empty_figures = []
        for _ in range(15):  # interleaved, so machine noise falls on both alike
            empty_figures.append(timings(drover, empty, 1))
            big_figures.append(timings(drover, big, 1))
        init_empty = statistics.median(f["initialize"] for f in empty_figures)
        init_big = statistics.median(f["initialize"] for f in big_figures)
        ready_empty = statistics.median(f["ready"] for f in empty_figures)
        ready_big = statistics.median(f["ready"] for f in big_figures)
        p50 = big_figures[0]["p50"]
        expect(big_figures[0]["inbox"] == runs // 100, "inbox/list has %d items, %d runs are blocked" % (big_figures[0]["inbox"], runs // 100))
        figures = {"store": "%d runs, %d events, %.0f MB" % (runs, events, os.path.getsize(big.store) / 1e6),
                   "run/list p50": "%.2f ms" % p50["run/list"], "inbox/list p50 (100 gates)": "%.2f ms" % p50["inbox/list"],
                   "run/list status=blocked p50": "%.2f ms" % p50["run/list blocked"],
                   "initialize (spawn → answer)": "%.1f ms vs %.1f ms empty (%.2f×)" % (init_big, init_empty, init_big / init_empty),
                   "ready (spawn → first run/list)": "%.1f ms vs %.1f ms empty (%.2f×)" % (ready_big, ready_empty, ready_big / ready_empty)}
        # The 5 ms goal is a release build's; a debug build (run-all.sh's) gets 5× the room.
        limit = 25 if "/debug/" in drover else 5
        expect(p50["run/list"] <= limit, "run/list p50 %.2f ms > %d ms" % (p50["run/list"], limit))
        expect(p50["inbox/list"] <= limit, "inbox/list p50 %.2f ms > %d ms" % (p50["inbox/list"], limit))
        # "No slower" with room for noise on a shared machine: a start-up that scans every run is 10× or worse.
        expect(init_big <= init_empty * 1.5 + 2, "initialize %.1f ms on the big store vs %.1f ms empty" % (init_big, init_empty))
        expect(ready_big <= ready_empty * 2 + 10, "ready %.1f ms on the big store vs %.1f ms empty" % (ready_big, ready_empty))
        return figures
    finally:
        empty.cleanup(drover)
        big.cleanup(drover)
