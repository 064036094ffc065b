#!/usr/bin/env python3
"""Regenerates the wire transcripts in protocol/examples/ from a real `drover serve`.

    python3 protocol/examples/capture.py [--drover PATH]

Writes demo-transcript.md (the demo run with its decision and approval; pasted into
protocol/README.md) and errors.md (one example of each error). Strings longer than 100
characters, except error messages, are shortened with "…" so the transcripts stay
readable; run ids and times differ on every run.
"""
import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def shorten(value, key=None):
    """Long strings (except error messages) cut to 100 characters, for reading."""
    if isinstance(value, str):
        return value if len(value) <= 100 or key == "message" else value[:99] + "…"
    if isinstance(value, list):
        return [shorten(v) for v in value]
    if isinstance(value, dict):
        return {k: shorten(v, k) for k, v in value.items()}
    return value


def show(message):
    return json.dumps(shorten(message), ensure_ascii=False)


class Server:
    def __init__(self, drover, workspace, env):
        self.proc = subprocess.Popen([drover, "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=workspace, env=env)
        self.lines, self.next_id = [], 1

    def send(self, message):
        message = {"jsonrpc": "2.0", **message}
        self.lines.append("→ " + show(message))
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def read(self):
        message = json.loads(self.proc.stdout.readline())
        self.lines.append("← " + show(message))
        return message

    def request(self, method, params=None):
        request_id, self.next_id = self.next_id, self.next_id + 1
        self.send({"id": request_id, "method": method, **({"params": params} if params is not None else {})})
        while True:
            message = self.read()
            if message.get("id") == request_id:
                return message

    def until(self, predicate):
        while True:
            message = self.read()
            if predicate(message):
                return message


def event(kind):
    return lambda m: m.get("method") == "run/event" and m["params"]["type"] == kind


def demo(drover, workspace, env):
    s = Server(drover, workspace, env)
    s.request("initialize", {"clientInfo": {"name": "capture"}, "workspace": workspace})
    s.send({"method": "initialized", "params": {}})
    run_id = s.request("run/start", {"pipelineId": "demo", "task": "Add a --verbose flag"})["result"]["run"]["id"]
    decision = s.until(event("decision.requested"))["params"]["data"]
    s.request("inbox/list", {})
    s.request("decision/resolve", {"runId": run_id, "decisionId": decision["decisionId"], "choice": decision["options"][0]})
    approval = s.until(event("approval.requested"))["params"]["data"]
    s.request("step/approve", {"runId": run_id, "approvalId": approval["approvalId"]})
    last = s.until(event("run.completed"))["params"]["seq"]
    # A reconnecting client pages through what it missed: here the last three events, two at a time.
    s.request("run/events", {"runId": run_id, "afterSeq": last - 3, "limit": 2})
    s.request("run/events", {"runId": run_id, "afterSeq": last - 1, "limit": 2})
    s.request("shutdown")
    s.send({"method": "exit"})
    s.proc.wait()
    return run_id, s.lines


def errors(drover, workspace, env, run_id):
    s = Server(drover, workspace, env)
    cases = []

    def case(title, send):
        start = len(s.lines)
        send()
        cases.append((title, s.lines[start:]))

    case("A request before `initialize` → -32002", lambda: s.request("run/list", {}))
    case("Unsupported protocolVersion → -32602 with data.supported",
         lambda: s.request("initialize", {"protocolVersion": 2}))
    s.request("initialize", {"workspace": workspace, "capabilities": {"logs": False}})
    run = s.request("run/get", {"runId": run_id})["result"]["run"]
    gated = next(step for step in run["steps"] if "approval" in step)
    decided = next(step for step in run["steps"] if "decision" in step)
    case("Not JSON → -32700 with id null", lambda: (s.proc.stdin.write("{oops\n"), s.proc.stdin.flush(),
                                                     s.lines.append("→ {oops"), s.read()))
    case("Unknown method → -32601", lambda: s.request("run/frobnicate", {}))
    case("Missing or mistyped params → -32602", lambda: s.request("run/get", {"runId": 42}))
    case("Unknown run → -33001 not_found", lambda: s.request("run/get", {"runId": "r-20250101-000000-nope0"}))
    case("A choice that is not an option → -32602 with data.options",
         lambda: s.request("decision/resolve", {"runId": run_id, "decisionId": decided["decision"]["id"], "choice": "maybe"}))
    case("Another choice for a resolved decision → -33002 conflict",
         lambda: s.request("decision/resolve", {"runId": run_id, "decisionId": decided["decision"]["id"],
                                                "choice": decided["decision"]["options"][-1]}))
    case("Rejecting an approved gate → -33002 conflict",
         lambda: s.request("step/reject", {"runId": run_id, "approvalId": gated["approval"]["id"]}))
    case("run/retry of a done run → -33002 conflict", lambda: s.request("run/retry", {"runId": run_id}))
    pipelines = Path(workspace) / ".drover" / "pipelines"
    pipelines.mkdir(parents=True, exist_ok=True)
    (pipelines / "mine.json").write_text(json.dumps({"name": "Mine", "steps": [
        {"id": "go", "kind": "agent", "role": "x", "prompt": "{{task}}",
         "agent": {"driver": "fake", "script": [[{"result": "ok"}]]}}]}))
    case("A workspace pipeline before the workspace is trusted → -33003 untrusted",
         lambda: s.request("run/start", {"pipelineId": "mine", "task": "x"}))
    s.request("shutdown")
    case("Any request after `shutdown` → -32600", lambda: s.request("pipeline/list", {}))
    s.send({"method": "exit"})
    s.proc.wait()
    return cases


def main():
    parser = argparse.ArgumentParser(description="Regenerate the wire transcripts from a real drover serve.")
    parser.add_argument("--drover", default=str(HERE.parents[1] / ".build" / "debug" / "drover"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workspace = os.path.realpath(tmp)
        env = dict(os.environ, DROVER_CONFIG_DIR=os.path.join(workspace, ".config"))
        run_id, lines = demo(args.drover, workspace, env)
        (HERE / "demo-transcript.md").write_text(
            "A real `drover serve` session (NDJSON) running the built-in `demo` pipeline, captured by capture.py.\n"
            "`→` client to server, `←` server to client; strings over 100 characters are shortened with `…` (newlines in them show as \\n).\n\n"
            "```\n" + "\n".join(lines) + "\n```\n")
        text = ["# Error examples", "",
                "Real responses of `drover serve`, captured by capture.py (long strings other than error messages shortened).",
                "See the Errors section of protocol/README.md for the codes.", ""]
        for title, case_lines in errors(args.drover, workspace, env, run_id):
            text += [f"## {title}", "", "```", *case_lines, "```", ""]
        (HERE / "errors.md").write_text("\n".join(text))
    print(f"wrote {HERE / 'demo-transcript.md'} and {HERE / 'errors.md'}")


if __name__ == "__main__":
    main()
