"""Disk trouble: the workspace's .drover on a 4 MiB tmpfs (needs root: it mounts one; skipped otherwise), filled up.

  start while full   run/start answers a clear error naming the full disk; nothing half-stored
  full mid-step      the disk fills while a step runs: its usage and outcome cannot be stored;
                     `drover engine status` says which runs wait for the store and why
  space returns      the kept outcome is recorded (the step is not re-run), usage kept, seq gapless
  read-only store    remounted read-only: initialize and `drover engine start` fail at once, naming the path and why
  space returns      a new run completes; the run done before is intact; integrity_check ok
"""
import json
import os
import sqlite3
import subprocess

from client import Failed, Server, Workspace, engine_pids, expect, wait_until


def fill(folder):
    subprocess.run("dd if=/dev/zero of=%s/filler bs=64k 2>/dev/null" % folder, shell=True)


def waiting_for_store(drover, workspace):
    """The line of `drover engine status` about runs waiting for the store, or None."""
    out = subprocess.run([drover, "engine", "status", "--workspace", workspace.path], env=workspace.env(),
                         capture_output=True, text=True).stdout
    return next((line for line in out.splitlines() if "wait for the store" in line), None)


def read_only_start(drover, workspace, store_folder):
    """With the engine stopped and the store's disk remounted read-only, `drover serve` answers
    initialize with -32603 naming the path and the reason; `drover engine start` fails saying the same."""
    # Until the engine's process is gone its store descriptors may still be open (`engine stop` returns once
    # the socket closes), and the remount would fail "busy".
    workspace.stop_engine(drover)
    expect(not engine_pids(workspace.path), "the engine did not exit after drover engine stop")
    remount = subprocess.run(["mount", "-o", "remount,ro", store_folder], capture_output=True, text=True)
    expect(remount.returncode == 0, "cannot remount the store read-only: %s" % remount.stderr.strip())
    initialize = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                             "params": {"protocolVersion": 1, "workspace": workspace.path}}) + "\n"
    served = subprocess.run([drover, "serve"], input=initialize, capture_output=True, text=True, timeout=30,
                            cwd=workspace.path, env=workspace.env())
    answer = json.loads(served.stdout.splitlines()[0])
    error = answer.get("error", {})
    expect(error.get("code") == -32603 and store_folder in error.get("message", "")
           and "Read-only file system" in error.get("message", ""),
           "initialize on a read-only store: %s" % answer)
    started = subprocess.run([drover, "engine", "start", "--workspace", workspace.path], capture_output=True,
                             text=True, timeout=30, env=workspace.env())
    expect(started.returncode != 0 and "Read-only file system" in started.stderr,
           "drover engine start on a read-only store: exit %d, %r" % (started.returncode, started.stderr))
    return "initialize -32603: %s" % error["message"]


def run(drover, profile, seed):
    if os.geteuid() != 0:
        return {"skipped": "needs root to mount a tmpfs"}
    workspace = Workspace(prefix="drover-disk-")
    store_folder = os.path.join(workspace.path, ".drover")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", store_folder], check=True)
    server = None
    figures = {}
    try:
        os.makedirs(os.path.join(store_folder, "pipelines"))
        workspace.pipeline("quick", [{"id": "one", "kind": "agent", "prompt": "x", "agent": {"driver": "fake", "script": [
            [{"usage": {"model": "m", "input": 1, "output": 1}}] * 50 + [{"result": "ok"}]]}}])
        workspace.pipeline("slow", [
            {"id": "one", "kind": "agent", "prompt": "x", "agent": {"driver": "fake", "script": [
                [{"sleep": 1.0}, {"usage": {"model": "m", "input": 1, "output": 1}}, {"result": "ok"}]]}},
            {"id": "two", "kind": "agent", "prompt": "x", "agent": {"driver": "fake", "script": [[{"result": "ok2"}]]}}])
        server = Server(drover, workspace)
        server.call("workspace/trust", {"trusted": True})
        done = server.call("run/start", {"pipelineId": "quick", "task": "before"})["run"]["id"]
        wait_until(lambda: server.call("run/get", {"runId": done})["run"]["status"] == "done", 30, "the first run")
        before = server.call("run/get", {"runId": done})["run"]["lastSeq"]

        fill(store_folder)
        answer = server.request("run/start", {"pipelineId": "quick", "task": "while full"})
        message = answer.get("error", {}).get("message", "")
        expect("full" in message, "run/start on a full disk: %s" % answer)
        expect(all(r["task"] != "while full" for r in server.call("run/list", {})["runs"]), "a run half-stored on a full disk")
        figures["start while full"] = "clear error: %s" % message
        os.remove(os.path.join(store_folder, "filler"))

        after = server.call("run/start", {"pipelineId": "quick", "task": "after"})["run"]["id"]
        wait_until(lambda: server.call("run/get", {"runId": after})["run"]["status"] == "done", 30, "a run after space returned")
        figures["space returns"] = "new run done"

        mid = server.call("run/start", {"pipelineId": "slow", "task": "mid"})["run"]["id"]
        wait_until(lambda: any(s["state"] == "working" for s in server.call("run/get", {"runId": mid})["run"]["steps"]), 30, "the step")
        fill(store_folder)
        try:
            # The agent reports usage and its result while the disk is full: the engine keeps both
            # and says so in `drover engine status` (its log is on the full disk too).
            status = wait_until(lambda: not workspace.agent_pids() and waiting_for_store(drover, workspace), 30,
                                "the agent to end and drover engine status to report its run waiting for the store")
            expect("full" in status, "engine status does not say the disk is full: %s" % status)
            figures["full mid-step"] = "engine status: %s" % status.strip()
            stuck = server.call("run/get", {"runId": mid})["run"]
            expect(stuck["status"] == "running", "the run changed while nothing could be stored: %s" % stuck["status"])
        finally:
            os.remove(os.path.join(store_folder, "filler"))
        try:
            wait_until(lambda: server.call("run/get", {"runId": mid})["run"]["status"] == "done", 20,
                       "the run whose step ended on a full disk to go on once space returned")
            run_after = server.call("run/get", {"runId": mid})["run"]
            one = run_after["steps"][0]
            expect(one["attempts"] == 1 and one["output"] == "ok",
                   "the step's outcome was not kept (attempts %s, output %r)" % (one["attempts"], one.get("output")))
            expect(run_after["usage"]["inputTokens"] == 1, "usage reported on the full disk was lost: %s" % run_after["usage"])
            seqs = [e["seq"] for e in server.call("run/events", {"runId": mid, "limit": 1000})["events"]]
            expect(seqs == list(range(1, len(seqs) + 1)), "seq not gapless: %s" % seqs)
            expect(not waiting_for_store(drover, workspace), "engine status still reports a run waiting for the store")
            figures["space returns mid-step"] = "outcome kept: attempt 1 done, usage kept, %d events gapless" % len(seqs)
        finally:
            expect(server.call("run/get", {"runId": done})["run"]["lastSeq"] == before, "the earlier run changed")
            expect(server.stop() == 0, "drover serve did not exit 0")
            database = sqlite3.connect(workspace.store)
            integrity = database.execute("PRAGMA integrity_check").fetchone()[0]
            database.close()
            expect(integrity == "ok", "integrity_check: %s" % integrity)
        figures["read-only store"] = read_only_start(drover, workspace, store_folder)
        return figures
    finally:
        if server is not None:
            server.kill()
        workspace.stop_engine(drover)  # while its socket under .drover is still mounted
        subprocess.run(["umount", "-l", store_folder])
        workspace.cleanup(drover)
