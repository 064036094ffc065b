"""kill -9 soak: runs of a three-step fake pipeline (sleeps, an approval gate) driven through `drover serve`
while the process that owns the store is SIGKILLed at seeded random moments (or, one time in five, the
client vanishes: its pipes close) and restarted, until every run is done. Then: no run lost, each run's seq gapless from 1, no step completed twice, the outputs
right, `PRAGMA integrity_check` ok, no agent process left.

The kill target is whoever .drover/engine.lock names (the store's owner), so the part keeps killing
the right process when the engine moves out of `drover serve`.
"""
import os
import random
import signal
import sqlite3
import time

from client import Failed, Server, Workspace, expect, wait_until


def pipeline_steps(rng_sleep):
    return [
        {"id": "one", "kind": "agent", "prompt": "{{task}}",
         "agent": {"driver": "fake", "script": [[{"say": "one {{attempt}}"}, {"sleep": rng_sleep},
                                                  {"usage": {"model": "m", "input": 1, "output": 1}},
                                                  {"result": "one:{{prompt}}"}]]}},
        {"id": "two", "kind": "agent", "prompt": "{{previous.output}}", "requiresApproval": True,
         "agent": {"driver": "fake", "script": [[{"sleep": rng_sleep}, {"result": "two:{{prompt}}"}]]}},
        {"id": "three", "kind": "agent", "prompt": "{{previous.output}}",
         "agent": {"driver": "fake", "script": [[{"spam": 20}, {"sleep": rng_sleep}, {"result": "three:{{prompt}}"}]]}},
    ]


def kill_store_owner(workspace, server):
    """SIGKILLs the store's owner (from the lock record), then the serve process if it is another one."""
    owner = workspace.store_owner_pid()
    target = owner if owner and os.path.exists("/proc/%d" % owner) else server.pid
    try:
        os.kill(target, signal.SIGKILL)
    except OSError:
        pass
    server.kill()
    return target


def vanish(server):
    """The client goes away mid-run: its pipes close; the server must stop on its own, losing nothing."""
    try:
        server.process.stdin.close()
    except OSError:
        pass
    try:
        server.process.wait(timeout=30)
    except Exception:
        server.kill()
        raise Failed("drover serve did not exit after its client vanished")


def answer_gates(server):
    try:
        items = server.call("inbox/list", {}, timeout=10)["items"]
    except Failed:
        return
    for item in items:
        if item["kind"] == "approval":
            server.request("step/approve", {"runId": item["runId"], "approvalId": item["id"]}, timeout=10)


def run(drover, profile, seed):
    runs_wanted, kills_wanted, max_gap = {"short": (20, 25, 0.5), "default": (50, 100, 0.6),
                                          "long": (200, 500, 0.8)}[profile]
    rng = random.Random(seed)
    workspace = Workspace(prefix="drover-soak-")
    try:
        workspace.pipeline("soak", pipeline_steps(0.05))
        tasks = ["task-%d" % i for i in range(runs_wanted)]
        acknowledged = {}  # task -> run id, once run/start answered
        kills = vanished = 0
        server = None
        deadline = time.monotonic() + {"short": 150, "default": 400, "long": 1800}[profile]

        def start_server():
            s = Server(drover, workspace, logs=False)
            s.call("workspace/trust", {"trusted": True})
            # Runs started before a kill whose answer never came may exist anyway: adopt them by task.
            known = {}
            cursor = None
            while True:
                params = {"limit": 500}
                if cursor:
                    params["cursor"] = cursor
                page = s.call("run/list", params)
                for r in page["runs"]:
                    known[r["task"]] = r["id"]
                cursor = page.get("nextCursor")
                if not cursor:
                    break
            for task, run_id in known.items():
                if task in acknowledged:
                    expect(acknowledged[task] == run_id, "%s has two runs" % task)
                acknowledged.setdefault(task, run_id)
            return s, known

        while True:
            expect(time.monotonic() < deadline, "the soak did not finish in time (%d kills)" % kills)
            server, known = start_server()
            statuses = {}
            killing = kills + vanished < kills_wanted
            kill_at = time.monotonic() + rng.uniform(0.0, max_gap)
            # Start what is not started yet, a few at a time, answering gates in between.
            while True:
                pending = [t for t in tasks if t not in acknowledged]
                for task in pending[:rng.randint(1, 4)]:
                    answer = server.request("run/start", {"pipelineId": "soak", "task": task}, timeout=30)
                    expect("result" in answer, "run/start failed: %s" % answer)
                    acknowledged[task] = answer["result"]["run"]["id"]
                answer_gates(server)
                if killing and time.monotonic() >= kill_at:
                    break
                if not killing:
                    runs = [server.call("run/get", {"runId": acknowledged[t]})["run"] for t in tasks if t in acknowledged]
                    statuses = {r["id"]: r["status"] for r in runs}
                    if len(statuses) == len(tasks) and all(s in ("done", "failed", "cancelled") for s in statuses.values()):
                        break
                time.sleep(0.01 if killing else 0.05)
            if killing:
                # Mostly kill -9 of the store's owner; now and then the client vanishes instead.
                if rng.random() < 0.2:
                    vanish(server)
                    vanished += 1
                else:
                    kill_store_owner(workspace, server)
                    kills += 1
                continue
            # Every run ended: check each run's log over the wire, then stop cleanly.
            lost = [t for t in tasks if t not in acknowledged]
            expect(not lost, "runs lost: %s" % lost)
            not_done = {rid: s for rid, s in statuses.items() if s != "done"}
            expect(not not_done, "runs not done: %s" % not_done)
            completed_twice = 0
            for task in tasks:
                run_id = acknowledged[task]
                events, after = [], 0
                while True:
                    page = server.call("run/events", {"runId": run_id, "afterSeq": after, "limit": 10000})
                    events += page["events"]
                    if not page["more"]:
                        break
                    after = events[-1]["seq"]
                seqs = [e["seq"] for e in events]
                expect(seqs == list(range(1, len(seqs) + 1)), "%s: seq not gapless: %s" % (run_id, seqs))
                done_steps = [e["data"]["stepId"] for e in events if e["type"] == "step.completed"]
                if len(done_steps) != len(set(done_steps)):
                    completed_twice += 1
                expect(sorted(done_steps) == ["one", "three", "two"], "%s completed %s" % (run_id, done_steps))
                got = server.call("run/get", {"runId": run_id})["run"]
                outputs = {s["id"]: s.get("output") for s in got["steps"]}
                expect(outputs["three"] == "three:two:one:" + task, "%s: wrong output %r" % (run_id, outputs["three"]))
                expect(got["lastSeq"] == len(seqs), "%s: lastSeq %d but %d events" % (run_id, got["lastSeq"], len(seqs)))
            expect(completed_twice == 0, "%d runs completed a step twice" % completed_twice)
            expect(server.stop() == 0, "drover serve did not exit 0 after shutdown")
            break
        left = []
        try:
            wait_until(lambda: not workspace.agent_pids(), 10, "agents to exit")
        except Failed:
            left = workspace.agent_pids()
        expect(not left, "agent processes left: %s" % left)
        db = sqlite3.connect(workspace.store)
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        stored_runs = db.execute("SELECT count(*) FROM runs").fetchone()[0]
        db.close()
        expect(integrity == "ok", "integrity_check: %s" % integrity)
        expect(stored_runs == runs_wanted, "%d runs stored, %d started" % (stored_runs, runs_wanted))
        return {"kills survived": kills, "client vanished mid-run": vanished, "runs": runs_wanted, "lost": 0, "steps completed twice": 0,
                "integrity": integrity}
    finally:
        if server is not None:
            server.kill()
        workspace.cleanup(drover)
