#!/usr/bin/env python3
"""A minimal Drover client: run the built-in `demo` pipeline and answer its gates.

    python3 protocol/examples/client.py [--drover PATH] [--workspace DIR] [--task TEXT]

It spawns `drover serve` (newline-delimited JSON on stdin/stdout), sends `initialize`,
starts a run of `demo`, prints every `run/event` as one line (seq, type, summary),
answers the decision with its first option and approves the approval, and exits
0 when the run is done (1 if it failed or was cancelled).

Use it as a template for scripting Drover: the whole protocol is in protocol/README.md.
Only the standard library is needed.
"""
import argparse
import itertools
import json
import os
import subprocess
import sys

parser = argparse.ArgumentParser(description="Run Drover's demo pipeline and answer its gates.")
parser.add_argument("--drover", default="drover", help="path of the drover binary (default: drover on PATH)")
parser.add_argument("--workspace", default=".", help="the workspace folder (default: the current directory)")
parser.add_argument("--task", default="Add a --verbose flag", help="the task given to the pipeline")
args = parser.parse_args()

# stderr is inherited: the server logs there. stdout is the protocol.
server = subprocess.Popen([args.drover, "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
ids = itertools.count(1)
backlog = []  # notifications that arrived while we waited for a response


def send(message):
    server.stdin.write(json.dumps({"jsonrpc": "2.0", **message}) + "\n")
    server.stdin.flush()


def read():
    line = server.stdout.readline()
    if not line:
        sys.exit("drover serve exited unexpectedly")
    return json.loads(line)


def request(method, params):
    """Sends a request and returns its result; notifications received meanwhile are kept."""
    request_id = next(ids)
    send({"id": request_id, "method": method, **({"params": params} if params is not None else {})})
    while True:
        message = read()
        if message.get("id") != request_id:
            backlog.append(message)
        elif "error" in message:
            error = message["error"]
            sys.exit(f"{method} failed ({error['code']}): {error['message']}")
        else:
            return message["result"]


def notifications():
    while True:
        yield backlog.pop(0) if backlog else read()


def summary(event):
    data = event["data"]
    if event["type"] == "run.created":
        return f"{data['pipelineId']}: " + " → ".join(step["id"] for step in data["steps"])
    if event["type"] == "decision.requested":
        return f"{data['question']} {data['options']}"
    if event["type"] == "approval.requested":
        return data["proposal"].splitlines()[0] if data["proposal"] else "(empty proposal)"
    if event["type"] in ("run.failed", "step.failed"):
        return f"{data['failure']['kind']}: {data['failure']['message']} (hint: {data['failure']['hint']})"
    if event["type"] == "usage.recorded":
        return f"{data['model']}: {data['inputTokens']} in, {data['outputTokens']} out"
    return ", ".join(f"{key}={value}" for key, value in data.items() if key in ("stepId", "attempt", "choice",
                                                                             "status", "fromStep", "reason"))


init = request("initialize", {"clientInfo": {"name": "example-client"}, "workspace": os.path.abspath(args.workspace),
                              "capabilities": {"logs": False}})
send({"method": "initialized", "params": {}})
print(f"connected to {init['serverInfo']['name']} {init['serverInfo']['version']} in {init['workspace']}")

run_id = request("run/start", {"pipelineId": "demo", "task": args.task})["run"]["id"]
print(f"started {run_id}")

status = None
for message in notifications():
    # Only run/event of our run matters here; ignore other notifications and runs.
    if message.get("method") != "run/event" or message["params"]["runId"] != run_id:
        continue
    event = message["params"]
    print(f"{event['seq']:>3}  {event['type']:<20} {summary(event)}")
    data = event["data"]
    if event["type"] == "decision.requested":
        choice = data["options"][0]
        print(f"     → choosing {choice!r}")
        request("decision/resolve", {"runId": run_id, "decisionId": data["decisionId"], "choice": choice})
    elif event["type"] == "approval.requested":
        print("     → approving")
        request("step/approve", {"runId": run_id, "approvalId": data["approvalId"]})
    elif event["type"] in ("run.completed", "run.failed", "run.cancelled"):
        status = event["type"].split(".")[1]
        break

run = request("run/get", {"runId": run_id})["run"]
print(f"run {run_id} {run['status']}; usage: {run['usage']['inputTokens']} tokens in, "
      f"{run['usage']['outputTokens']} out")
request("shutdown", None)
send({"method": "exit"})
server.wait()
sys.exit(0 if status == "completed" else 1)
