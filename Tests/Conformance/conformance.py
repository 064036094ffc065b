#!/usr/bin/env python3
"""Protocol conformance tests: protocol/drover.schema.json against a live `drover serve`.

    python3 Tests/Conformance/conformance.py [--drover PATH] [--verbose]

1. The schema is a valid JSON Schema 2020-12.
2. A live `initialize` advertises exactly the schema's requests and event types, and
   notifications the schema documents.
3. Transport and lifecycle rules (framing, batches, errors, shutdown/exit codes).
4. An end-to-end scenario in a temporary workspace that calls every method, answers the
   `demo` pipeline's gates in every way, hits every error code, interrupts a run and
   replays it from a second connection. EVERY message the server writes is validated:
   responses against their method's result schema or ResponseError, notifications
   against their params schema, events against their type's data schema.
5. A client that stops reading: what the server sheds is announced (run/logsDropped,
   run/eventsDropped) and run/events fills the gap.
6. protocol/examples/client.py runs the demo to completion.

Needs Python 3.9+ and `jsonschema` (4.18+). Exits non-zero on any failure; the last line
is `N passed, M failed`.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import jsonschema
from jsonschema.exceptions import best_match
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "protocol" / "drover.schema.json"
CLIENT_PATH = ROOT / "protocol" / "examples" / "client.py"
# Codes any request may get besides those its schema entry lists.
ALWAYS_POSSIBLE = {-32600, -32002, -32603, -32800}
TIMEOUT = float(os.environ.get("CONFORMANCE_TIMEOUT", "30"))


class Failed(Exception):
    """An expectation of the test did not hold."""


def expect(condition, message):
    if not condition:
        raise Failed(message)


def short(value, limit=300):
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit] + "…"


# ---------------------------------------------------------------- results


class Report:
    def __init__(self, verbose):
        self.verbose = verbose
        self.passed = 0
        self.failed = 0
        self.lock = threading.Lock()
        # schema validations, aggregated per kind: key -> [ok count, failure count]
        self.validated = {}

    def ok(self, name):
        with self.lock:
            self.passed += 1
        if self.verbose:
            print(f"ok    {name}")

    def fail(self, name, detail):
        with self.lock:
            self.failed += 1
        print(f"FAIL  {name}: {detail}", flush=True)

    def validation(self, key, error=None):
        with self.lock:
            counts = self.validated.setdefault(key, [0, 0])
            counts[0 if error is None else 1] += 1
        if error is not None:
            self.fail(f"schema: {key}", error)

    @contextlib.contextmanager
    def case(self, name):
        try:
            yield
        except Failed as error:
            self.fail(name, str(error))
        except Exception as error:  # a crash in a case is a failure of that case, not of the run
            self.fail(name, f"{type(error).__name__}: {error}")
        else:
            self.ok(name)


# ---------------------------------------------------------------- schema


class Schema:
    def __init__(self, path):
        self.doc = json.loads(path.read_text())
        self.id = self.doc["$id"]
        registry = Registry().with_resource(self.id, Resource.from_contents(self.doc))

        def at(pointer):
            return jsonschema.Draft202012Validator({"$ref": f"{self.id}#{pointer}"}, registry=registry)

        self.message = jsonschema.Draft202012Validator(self.doc, registry=registry)
        self.requests = {r["method"]: r for r in self.doc["requests"]}
        self.params = {m: at(f"/requests/{i}/params") for i, m in enumerate(self.requests)}
        self.results = {m: at(f"/requests/{i}/result") for i, m in enumerate(self.requests)}
        self.notifications = {n["method"]: n for n in self.doc["notifications"]}
        self.notification_params = {n["method"]: at(f"/notifications/{i}/params")
                                    for i, n in enumerate(self.doc["notifications"])}
        self.event_types = [e["type"] for e in self.doc["events"]]
        self.event_data = {e["type"]: at(f"/events/{i}/data") for i, e in enumerate(self.doc["events"])}
        self.error = at("/$defs/ResponseError")

    @staticmethod
    def problem(validator, instance):
        error = best_match(validator.iter_errors(instance))
        if error is None:
            return None
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return f"at {where}: {error.message[:400]} — instance {short(instance, 200)}"


# ---------------------------------------------------------------- a connection


class Connection:
    """One `drover serve` process; every message it writes is validated as it arrives."""

    def __init__(self, ctx, cwd, framing="ndjson", args=(), name="conn"):
        self.ctx, self.framing, self.name = ctx, framing, name
        self.stderr = open(ctx.tmp / f"{name}.stderr.log", "wb")
        self.proc = subprocess.Popen(
            [ctx.drover, "serve", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.stderr, cwd=cwd, env=ctx.env)
        self.cond = threading.Condition()
        self.messages = []          # everything received, in arrival order
        self.methods = {}           # request id -> method, for validating results
        self.seqs = {}              # run id -> last seq seen in run/event
        self.closed = False
        self.next_id = 1
        self.reading = threading.Event()  # cleared: the client stalls (stops reading stdout)
        self.reading.set()
        threading.Thread(target=self._read, daemon=True).start()

    # reading ------------------------------------------------------------

    def _read_frame(self, stream):
        if self.framing == "ndjson":
            line = stream.readline()
            while line and not line.strip():
                line = stream.readline()
            return line or None
        length = None
        while True:
            line = stream.readline()
            if not line:
                return None
            line = line.strip()
            if not line:
                if length is None:
                    continue
                break
            name, _, value = line.decode().partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        return stream.read(length)

    def _read(self):
        stream = self.proc.stdout
        while True:
            self.reading.wait()
            frame = self._read_frame(stream)
            if frame is None:
                break
            try:
                message = json.loads(frame)
            except ValueError:
                self.ctx.report.fail(f"{self.name}: stdout", f"not JSON in {self.framing} framing: {frame[:200]!r}")
                continue
            for entry in message if isinstance(message, list) else [message]:
                self._check(entry)
            with self.cond:
                self.messages.append(message)
                self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def _check(self, message):
        schema, report = self.ctx.schema, self.ctx.report
        report.validation("envelope", Schema.problem(schema.message, message))
        if not isinstance(message, dict):
            return
        if "method" in message:
            method = message["method"]
            entry = schema.notifications.get(method)
            if entry is None or entry["direction"] != "serverToClient":
                report.validation(f"notification {method}", "not a documented server→client notification")
                return
            params = message.get("params")
            report.validation(f"notification {method}", Schema.problem(schema.notification_params[method], params))
            if method == "run/event" and isinstance(params, dict):
                kind = params.get("type")
                if kind in schema.event_data:
                    report.validation(f"event {kind}", Schema.problem(schema.event_data[kind], params.get("data")))
                else:
                    report.validation(f"event {kind}", "event type not in the schema's events")
                self._check_seq(params)
            elif method == "run/eventsDropped" and isinstance(params, dict):
                self.seqs.pop(params.get("runId"), None)  # the run's events go on after a gap
            return
        method = self.methods.get(message.get("id"))
        if "error" in message:
            error = message["error"]
            label = f"error of {method or 'unknown request'}"
            report.validation(label, Schema.problem(schema.error, error))
            if method in schema.requests and isinstance(error, dict):
                allowed = ALWAYS_POSSIBLE | set(schema.requests[method].get("errors", []))
                if error.get("code") not in allowed:
                    report.validation(label, f"code {error.get('code')} is not in the method's documented errors {sorted(allowed)}")
        elif method in schema.results:
            report.validation(f"result of {method}", Schema.problem(schema.results[method], message.get("result")))
        else:
            report.validation("response", f"result for an id the client no valid notification seen of: {short(message)}")

    def _check_seq(self, event):
        run, seq = event.get("runId"), event.get("seq")
        last = self.seqs.get(run)
        if last is None:
            if event.get("type") == "run.created" and seq != 1:
                self.ctx.report.fail(f"{self.name}: seq", f"run.created of {run} has seq {seq}, not 1")
        elif seq != last + 1:
            self.ctx.report.fail(f"{self.name}: seq", f"run {run}: run/event seq {seq} after {last} (gap or reorder)")
        self.seqs[run] = seq

    # writing ------------------------------------------------------------

    def send_raw(self, data: bytes):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def frame(self, body: bytes) -> bytes:
        if self.framing == "lsp":
            return b"Content-Length: %d\r\n\r\n" % len(body) + body
        return body + b"\n"

    def send(self, message):
        self.send_raw(self.frame(json.dumps(message).encode()))

    def notify(self, method, params=None):
        message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def new_id(self, method):
        request_id = self.next_id
        self.next_id += 1
        self.methods[request_id] = method
        return request_id

    def request(self, method, params=None, check_params=True):
        """Sends a request and returns (response, index of the response in self.messages)."""
        if check_params and method in self.ctx.schema.params:
            problem = Schema.problem(self.ctx.schema.params[method], params if params is not None else {})
            expect(problem is None, f"the test's own {method} params do not fit the schema: {problem}")
        request_id = self.new_id(method)
        message = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        index = self.wait_index(lambda m: isinstance(m, dict) and m.get("id") == request_id
                                and ("result" in m or "error" in m), what=f"the response to {method}")
        return self.messages[index], index

    def call(self, method, params=None):
        """A request that must succeed; returns its result."""
        response, _ = self.request(method, params)
        expect("error" not in response, f"{method} {short(params)} failed: {short(response.get('error'))}")
        return response["result"]

    def call_at(self, method, params=None):
        """Like call, also returning the response's position (for ordering checks)."""
        response, index = self.request(method, params)
        expect("error" not in response, f"{method} {short(params)} failed: {short(response.get('error'))}")
        return response["result"], index

    def error(self, method, params, code, kind=None, check_params=True):
        """A request that must fail with `code` (and data.kind `kind`); returns the error."""
        response, _ = self.request(method, params, check_params=check_params)
        expect("error" in response, f"{method} {short(params)} should fail with {code}, got result {short(response.get('result'))}")
        error = response["error"]
        codes = code if isinstance(code, (set, tuple, list)) else {code}
        expect(error.get("code") in codes, f"{method} {short(params)} should fail with {code}, got {short(error)}")
        if kind is not None:
            expect((error.get("data") or {}).get("kind") == kind, f"{method}: data.kind should be {kind!r}: {short(error)}")
        return error

    # waiting ------------------------------------------------------------

    def wait_index(self, predicate, start=0, timeout=TIMEOUT, what="a message"):
        deadline = time.monotonic() + timeout
        with self.cond:
            index = start
            while True:
                while index < len(self.messages):
                    if predicate(self.messages[index]):
                        return index
                    index += 1
                remaining = deadline - time.monotonic()
                if self.closed or remaining <= 0:
                    state = "the server closed its output" if self.closed else f"timed out after {timeout:.0f}s"
                    raise Failed(f"waiting for {what}: {state}")
                self.cond.wait(remaining)

    def event_index(self, run_id, kind, where=None, start=0, timeout=TIMEOUT):
        def match(m):
            if not (isinstance(m, dict) and m.get("method") == "run/event"):
                return False
            p = m.get("params", {})
            return p.get("runId") == run_id and p.get("type") == kind and (where is None or where(p.get("data", {})))
        return self.wait_index(match, start, timeout, what=f"{kind} of {run_id}")

    def wait_event(self, run_id, kind, where=None, start=0, timeout=TIMEOUT):
        return self.messages[self.event_index(run_id, kind, where, start, timeout)]["params"]

    def events(self, run_id):
        with self.cond:
            return [m["params"] for m in self.messages if isinstance(m, dict) and m.get("method") == "run/event"
                    and m.get("params", {}).get("runId") == run_id]

    def notifications(self, method):
        with self.cond:
            return [m["params"] for m in self.messages if isinstance(m, dict) and m.get("method") == method]

    def wait_exit(self, timeout=15):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise Failed(f"{self.name}: the server did not exit within {timeout}s")

    def close(self):
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()


# ---------------------------------------------------------------- the tests


class Context:
    def __init__(self, drover, report, schema):
        self.drover, self.report, self.schema = drover, report, schema
        self.tmp = Path(tempfile.mkdtemp(prefix="drover-conformance-"))
        self.config = self.tmp / "config"
        self.config.mkdir()
        self.env = dict(os.environ, DROVER_CONFIG_DIR=str(self.config), HOME=str(self.tmp / "home"),
                        XDG_CONFIG_HOME=str(self.tmp / "xdg"))
        self.connections = []
        self.workspaces = set()  # each one's engine is stopped at the end

    def workspace(self, name):
        path = self.tmp / name
        path.mkdir(exist_ok=True)
        self.workspaces.add(str(path.resolve()))
        return str(path.resolve())

    def connect(self, cwd, framing="ndjson", args=(), name="conn"):
        connection = Connection(self, cwd, framing, args, name)
        self.connections.append(connection)
        return connection

    def initialize(self, connection, workspace, logs=True):
        return connection.call("initialize", {
            "protocolVersion": 1, "clientInfo": {"name": "conformance", "version": "1"},
            "workspace": workspace, "capabilities": {"logs": logs}})


def test_schema(ctx):
    r = ctx.report
    with r.case("schema is a valid JSON Schema 2020-12"):
        jsonschema.Draft202012Validator.check_schema(ctx.schema.doc)
        expect(ctx.schema.doc.get("$schema") == "https://json-schema.org/draft/2020-12/schema", "$schema is not 2020-12")
    with r.case("schema: every request, notification and event is documented once"):
        doc = ctx.schema.doc
        for array, key in (("requests", "method"), ("notifications", "method"), ("events", "type")):
            names = [entry[key] for entry in doc[array]]
            expect(len(names) == len(set(names)), f"duplicate entries in {array}")
        for request in doc["requests"]:
            expect(request["direction"] == "clientToServer", f"{request['method']}: direction")
            expect({"params", "result"} <= request.keys(), f"{request['method']}: params and result are required")
        for notification in doc["notifications"]:
            expect(notification["direction"] in ("clientToServer", "serverToClient"), notification["method"])


def test_capabilities(ctx):
    r = ctx.report
    connection = ctx.connect(ctx.workspace("caps"), name="caps")
    try:
        with r.case("initialize succeeds"):
            result = ctx.initialize(connection, ctx.workspace("caps"))
            caps = result["capabilities"]
        with r.case("capabilities.methods equals the schema's requests"):
            advertised, documented = set(caps["methods"]), set(ctx.schema.requests)
            expect(advertised == documented,
                   f"only advertised: {sorted(advertised - documented)}; only in the schema: {sorted(documented - advertised)}")
        with r.case("capabilities.notifications ⊆ the schema's server→client notifications"):
            documented = {m for m, n in ctx.schema.notifications.items() if n["direction"] == "serverToClient"}
            expect(set(caps["notifications"]) <= documented, f"undocumented: {sorted(set(caps['notifications']) - documented)}")
        with r.case("capabilities.eventTypes equals the schema's events"):
            advertised, documented = set(caps["eventTypes"]), set(ctx.schema.event_types)
            expect(advertised == documented,
                   f"only advertised: {sorted(advertised - documented)}; only in the schema: {sorted(documented - advertised)}")
        with r.case("every advertised method is implemented (none answers -32601)"):
            missing = []
            for method in caps["methods"]:
                if method in ("initialize", "shutdown"):
                    continue
                response, _ = connection.request(method, {}, check_params=False)  # {} is harmless for every method
                if response.get("error", {}).get("code") == -32601:
                    missing.append(method)
            expect(not missing, f"advertised in capabilities.methods but -32601: {missing}")
        with r.case("initialize: workspace and framing are echoed"):
            expect(result["workspace"] == ctx.workspace("caps"), f"workspace {result['workspace']!r}")
            expect(caps["framing"] == "ndjson", f"framing {caps['framing']!r}")
        connection.call("shutdown")
        connection.notify("exit")
        connection.wait_exit()
    finally:
        connection.close()


def test_transport(ctx):
    """Framing, lifecycle and JSON-RPC error rules; needs only initialize/shutdown."""
    r = ctx.report
    ws = ctx.workspace("transport")

    with r.case("lifecycle: requests before initialize → -32002, notifications before it are dropped"):
        c = ctx.connect(ws, name="t-lifecycle")
        c.notify("initialized", {})
        c.error("run/list", {}, -32002)
        result = ctx.initialize(c, ws)
        expect(result["protocolVersion"] == 1, "protocolVersion")
        c.error("initialize", {}, -32600)
        expect(c.call("shutdown") is None, "shutdown → null")
        c.error("run/list", {}, -32600)
        c.notify("exit")
        expect(c.wait_exit() == 0, "exit after shutdown → exit code 0")
        c.close()

    with r.case("lifecycle: exit without shutdown → exit code 1; EOF after shutdown → 0"):
        c = ctx.connect(ws, name="t-exit1")
        ctx.initialize(c, ws)
        c.notify("exit")
        expect(c.wait_exit() == 1, "exit without shutdown should exit 1")
        c.close()
        c = ctx.connect(ws, name="t-eof")
        ctx.initialize(c, ws)
        c.call("shutdown")
        c.proc.stdin.close()
        expect(c.wait_exit() == 0, "EOF after shutdown should exit 0")
        c.close()

    with r.case("initialize: unsupported protocolVersion → -32602 with data {supported, requested}"):
        c = ctx.connect(ws, name="t-version")
        error = c.error("initialize", {"protocolVersion": 2}, -32602)
        expect(error.get("data") == {"supported": [1], "requested": 2}, f"data {short(error.get('data'))}")
        ctx.initialize(c, ws)  # still uninitialized, so this works
        c.close()

    with r.case("initialize: an LSP client's params (rootUri, processId, unknown fields) are accepted"):
        other = ctx.workspace("lsp-root")
        c = ctx.connect(ws, name="t-lsp-params")
        result = c.call("initialize", {"processId": os.getpid(), "rootUri": Path(other).as_uri(),
                                       "capabilities": {"textDocument": {}}, "trace": "off"})
        expect(result["workspace"] == other, f"workspace should come from rootUri {other!r}, got {result['workspace']!r}")
        c.close()

    with r.case("malformed JSON → -32700 with id null; the connection survives"):
        c = ctx.connect(ws, name="t-parse")
        ctx.initialize(c, ws)
        start = len(c.messages)
        c.send_raw(b'{"jsonrpc":"2.0","id":99,"method":\n')
        index = c.wait_index(lambda m: isinstance(m, dict) and m.get("error", {}).get("code") == -32700, start)
        expect(c.messages[index]["id"] is None, "id must be null")
        c.error("no/such", {}, -32601, check_params=False)
        c.close()

    with r.case("invalid requests → -32600 (jsonrpc missing, id null, params a string)"):
        c = ctx.connect(ws, name="t-invalid")
        ctx.initialize(c, ws)
        for bad in ({"id": 5, "method": "shutdown"}, {"jsonrpc": "2.0", "id": None, "method": "shutdown"},
                    {"jsonrpc": "2.0", "id": 6, "method": "shutdown", "params": "x"}):
            start = len(c.messages)
            c.send(bad)
            index = c.wait_index(lambda m: isinstance(m, dict) and "error" in m, start, what=f"an error for {bad}")
            expect(c.messages[index]["error"]["code"] == -32600, f"{bad}: {short(c.messages[index])}")
        c.close()

    with r.case("batches: answered with an array without notification entries; empty batch → -32600"):
        c = ctx.connect(ws, name="t-batch")
        ctx.initialize(c, ws)
        a, b = c.new_id("no/such"), c.new_id("shutdown")
        start = len(c.messages)
        c.send([{"jsonrpc": "2.0", "id": a, "method": "no/such"}, {"jsonrpc": "2.0", "method": "initialized"},
                {"jsonrpc": "2.0", "id": b, "method": "shutdown"}])
        index = c.wait_index(lambda m: isinstance(m, list), start, what="a batch response")
        batch = c.messages[index]
        expect(sorted(e.get("id") for e in batch) == [a, b], f"batch response {short(batch)}")
        start = len(c.messages)
        c.send_raw(c.frame(b"[]"))
        index = c.wait_index(lambda m: isinstance(m, dict) and "error" in m, start)
        expect(c.messages[index]["error"]["code"] == -32600 and c.messages[index]["id"] is None, short(c.messages[index]))
        c.close()

    with r.case("--max-message-bytes: an oversized message → -32600, the connection survives"):
        c = ctx.connect(ws, args=("--max-message-bytes", "1000"), name="t-max")
        ctx.initialize(c, ws)
        start = len(c.messages)
        c.send({"jsonrpc": "2.0", "id": c.new_id("run/get"), "method": "run/get", "params": {"runId": "x" * 2000}})
        index = c.wait_index(lambda m: isinstance(m, dict) and "error" in m, start)
        expect(c.messages[index]["error"]["code"] == -32600, short(c.messages[index]))
        expect(c.call("shutdown") is None, "a request after the oversized one works")
        c.close()

    with r.case("framing: Content-Length input is answered in LSP framing"):
        c = ctx.connect(ws, framing="lsp", name="t-lsp")
        result = ctx.initialize(c, ws)
        expect(result["capabilities"]["framing"] == "lsp", "capabilities.framing should be lsp")
        expect(c.call("shutdown") is None, "shutdown over LSP framing")
        c.close()

    with r.case("framing: --framing lsp forces LSP framing"):
        c = ctx.connect(ws, framing="lsp", args=("--framing", "lsp"), name="t-forced")
        expect(ctx.initialize(c, ws)["capabilities"]["framing"] == "lsp", "framing")
        c.close()

    with r.case("$/cancelRequest for an unknown id is ignored; a cancelled request gets exactly one answer"):
        c = ctx.connect(ws, name="t-cancel")
        ctx.initialize(c, ws)
        c.notify("$/cancelRequest", {"id": 12345})
        request_id = c.new_id("pipeline/list")
        c.send({"jsonrpc": "2.0", "id": request_id, "method": "pipeline/list", "params": {}})
        c.notify("$/cancelRequest", {"id": request_id})
        c.wait_index(lambda m: isinstance(m, dict) and m.get("id") == request_id)
        expect(c.call("shutdown") is None, "the connection works after cancelling")
        answers = [m for m in c.messages if isinstance(m, dict) and m.get("id") == request_id]
        expect(len(answers) == 1, f"{len(answers)} answers to the cancelled request")
        error = answers[0].get("error")
        expect(error is None or error["code"] in (-32800, -32601), f"cancelled request answered {short(answers[0])}")
        c.close()


# ---------------------------------------------------------------- the end-to-end scenario


FAILING_PIPELINE = {
    "name": "Fails on purpose", "description": "conformance: a workspace pipeline whose agent fails",
    "steps": [{"id": "boom", "kind": "agent", "role": "tester", "prompt": "Fail: {{task}}",
               "agent": {"driver": "fake", "script": [[{"say": "about to fail"}, {"fail": "boom on purpose"}]]}}],
}
SLOW_PIPELINE = {
    "name": "Slow", "description": "conformance: a step that runs until it is stopped",
    "steps": [{"id": "wait", "kind": "agent", "role": "tester", "prompt": "Wait: {{task}}",
               "agent": {"driver": "fake", "script": [[{"say": "waiting"}, {"session": "conformance-session"}, {"sleep": 120}, {"result": "woke up"}]]}}],
}
BROKEN_PIPELINE = {"name": "Broken", "steps": [{"id": "x", "kind": "no-such-kind"}]}


def stop_engine(ctx, workspace):
    """Stops the workspace's engine (a `drover serve` started it) and waits until it has exited."""
    subprocess.run([ctx.drover, "engine", "stop", "--quiet", "--workspace", workspace], capture_output=True,
                   env=ctx.env, timeout=TIMEOUT)


class Scenario:
    def __init__(self, ctx):
        self.ctx, self.r = ctx, ctx.report
        self.ws = ctx.workspace("workspace")
        self.c = None

    def run(self):
        c = self.c = self.ctx.connect(self.ws, name="main")
        r = self.r
        with r.case("scenario: initialize"):
            ctx = self.ctx
            expect(ctx.initialize(c, self.ws)["workspace"] == self.ws, "workspace")
            c.notify("initialized", {})
        for part in (self.pipelines, self.decision_and_approval, self.replay_and_paging, self.logs, self.run_list,
                     self.lookups_and_bad_params, self.reject_and_retry, self.cancel, self.restart, self.trust,
                     self.queue, self.engine_stop, self.interrupt_and_replay):
            try:
                part()
            except Exception as error:  # a failed precondition; the part's own cases already reported
                r.fail(f"scenario: {part.__name__}", f"stopped: {type(error).__name__}: {error}")

    # helpers ------------------------------------------------------------

    def start_demo(self, task):
        result, index = self.c.call_at("run/start", {"pipelineId": "demo", "task": task})
        run = result["run"]
        created = self.c.event_index(run["id"], "run.created")
        expect(created > index, "run/start: run.created must come after the response")
        return run

    def gate(self, run_id, kind, start=0):
        """Waits for the next decision.requested/approval.requested of a run; returns its data."""
        return self.c.wait_event(run_id, kind, start=start)["data"]

    def caused(self, run_id, kind, where, response_index, response_run):
        """Checks an event a request caused: after the response, and within the run it returned."""
        index = self.c.event_index(run_id, kind, where)
        event = self.c.messages[index]["params"]
        expect(index > response_index, f"{kind} (seq {event['seq']}) was written before the response that caused it")
        expect(event["seq"] <= response_run["lastSeq"],
               f"{kind} has seq {event['seq']} but the response's run has lastSeq {response_run['lastSeq']}")
        return event

    def inbox(self):
        return self.c.call("inbox/list", {})["items"]

    def step(self, run, step_id):
        return next(s for s in run["steps"] if s["id"] == step_id)

    def all_events(self, run_id, page=1000):
        events, after = [], 0
        while True:
            result = self.c.call("run/events", {"runId": run_id, "afterSeq": after, "limit": page})
            events += result["events"]
            if not result["more"]:
                return events, result["lastSeq"]
            expect(result["events"], "run/events: more is true but the page is empty")
            after = result["events"][-1]["seq"]

    # parts --------------------------------------------------------------

    def pipelines(self):
        with self.r.case("pipeline/list: the built-in demo pipeline"):
            pipelines = {p["id"]: p for p in self.c.call("pipeline/list", {})["pipelines"]}
            demo = pipelines.get("demo")
            expect(demo is not None, f"no demo pipeline among {sorted(pipelines)}")
            expect(demo["source"] == "builtin" and "path" not in demo and demo["errors"] == [], short(demo))

    def decision_and_approval(self):
        c, r = self.c, self.r
        with r.case("run/start demo"):
            run = self.start_demo("Add a greeting")
            expect(run["pipelineId"] == "demo" and run["task"] == "Add a greeting", short(run))
            expect(run["status"] in ("queued", "running"), f"status {run['status']}")
            self.a = run["id"]
        a = self.a
        with r.case("decision.requested → run blocked, step waiting, gate in inbox/list"):
            decision = self.gate(a, "decision.requested")
            self.decision = decision
            expect(len(decision["options"]) >= 2, "the demo's decision needs two options for the conflict test")
            run = c.call("run/get", {"runId": a})["run"]
            expect(run["status"] == "blocked", f"status {run['status']}")
            step = self.step(run, decision["stepId"])
            expect(step["state"] == "waiting" and step["decision"]["id"] == decision["decisionId"]
                   and "chosen" not in step["decision"], short(step))
            items = [i for i in self.inbox() if i["runId"] == a]
            expect([(i["kind"], i["id"], i.get("options")) for i in items]
                   == [("decision", decision["decisionId"], decision["options"])], short(items))
        d_id, options = decision["decisionId"], decision["options"]
        with r.case("decision/resolve: a choice outside options → -32602"):
            c.error("decision/resolve", {"runId": a, "decisionId": d_id, "choice": "none of these"}, -32602)
        with r.case("decision/resolve: unknown decision id → -33001 not_found"):
            c.error("decision/resolve", {"runId": a, "decisionId": "d-nope-9", "choice": options[0]}, -33001, "not_found")
        with r.case("decision/resolve → decision.resolved after the response; the step re-runs"):
            result, index = c.call_at("decision/resolve", {"runId": a, "decisionId": d_id, "choice": options[0]})
            self.caused(a, "decision.resolved", lambda d: d["decisionId"] == d_id and d["choice"] == options[0],
                        index, result["run"])
            expect(self.step(result["run"], decision["stepId"])["decision"].get("chosen") == options[0], "chosen")
        with r.case("decision/resolve again with the same choice → no-op"):
            c.call("decision/resolve", {"runId": a, "decisionId": d_id, "choice": options[0]})
        with r.case("decision/resolve with another choice → -33002 conflict"):
            c.error("decision/resolve", {"runId": a, "decisionId": d_id, "choice": options[1]}, -33002, "conflict")
        with r.case("approval.requested → run blocked, gate in inbox/list with its proposal"):
            approval = self.gate(a, "approval.requested")
            self.approval_step = approval["stepId"]
            items = [i for i in self.inbox() if i["runId"] == a]
            expect([(i["kind"], i["id"], i.get("proposal")) for i in items]
                   == [("approval", approval["approvalId"], approval["proposal"])], short(items))
            expect(c.call("run/get", {"runId": a})["run"]["status"] == "blocked", "status")
        first = approval["approvalId"]
        with r.case("step/requestChanges with blank feedback → -32602"):
            c.error("step/requestChanges", {"runId": a, "approvalId": first, "feedback": "  "}, -32602, check_params=False)
            expect(Schema.problem(self.ctx.schema.params["step/requestChanges"],
                                  {"runId": a, "approvalId": first, "feedback": "  "}) is not None,
                   "the schema should reject blank feedback too")
        with r.case("step/requestChanges → changes_requested; the step re-runs and asks again"):
            mark = len(c.messages)
            result, index = c.call_at("step/requestChanges", {"runId": a, "approvalId": first, "feedback": "Add tests"})
            self.caused(a, "approval.resolved", lambda d: d["approvalId"] == first and d["status"] == "changes_requested"
                        and d.get("feedback") == "Add tests", index, result["run"])
            restarted = c.wait_event(a, "step.started", lambda d: d["stepId"] == self.approval_step, start=mark)
            expect(restarted["data"]["attempt"] >= 2, f"re-run attempt {restarted['data']['attempt']}")
            second = self.gate(a, "approval.requested", start=mark)
            expect(second["approvalId"] != first, "the re-run must raise a new approval id")
            self.second = second["approvalId"]
        with r.case("step/approve on the approval sent back for changes → -33002"):
            c.error("step/approve", {"runId": a, "approvalId": first}, -33002, "conflict")
        with r.case("step/approve with an edited proposal → step.completed with it"):
            result, index = c.call_at("step/approve", {"runId": a, "approvalId": self.second, "proposal": "Edited proposal"})
            self.caused(a, "approval.resolved", lambda d: d["approvalId"] == self.second and d["status"] == "approved"
                        and d.get("proposal") == "Edited proposal", index, result["run"])
            done = c.wait_event(a, "step.completed", lambda d: d["stepId"] == self.approval_step)
            expect(done["data"]["output"] == "Edited proposal", f"output {short(done['data']['output'])}")
        with r.case("step/approve again → no-op; reject/requestChanges on an approved gate → -33002"):
            c.call("step/approve", {"runId": a, "approvalId": self.second})
            c.error("step/reject", {"runId": a, "approvalId": self.second}, -33002, "conflict")
            c.error("step/requestChanges", {"runId": a, "approvalId": self.second, "feedback": "more"}, -33002, "conflict")
        with r.case("run.completed: run done, every step done, usage = sum of usage.recorded"):
            c.wait_event(a, "run.completed")
            run = c.call("run/get", {"runId": a})["run"]
            expect(run["status"] == "done" and "failure" not in run, short(run))
            expect(all(s["state"] == "done" for s in run["steps"]), [s["state"] for s in run["steps"]])
            expect(self.step(run, self.approval_step).get("output") == "Edited proposal", "edited output kept")
            usage = [e["data"] for e in c.events(a) if e["type"] == "usage.recorded"]
            expect(usage, "the demo records usage")
            expect(run["usage"]["inputTokens"] == sum(u["inputTokens"] for u in usage)
                   and run["usage"]["outputTokens"] == sum(u["outputTokens"] for u in usage), short(run["usage"]))
            expect(not [i for i in self.inbox() if i["runId"] == a], "answered gates leave inbox/list")

    def replay_and_paging(self):
        c, r, a = self.c, self.r, self.a
        with r.case("run/events: paging with afterSeq/limit returns seq 1..lastSeq without gaps"):
            paged, last = self.all_events(a, page=3)
            expect([e["seq"] for e in paged] == list(range(1, last + 1)), f"seqs {[e['seq'] for e in paged]}")
            expect(last == c.call("run/get", {"runId": a})["run"]["lastSeq"], "lastSeq equals run.lastSeq")
            whole, _ = self.all_events(a)
            expect(whole == paged, "one page and pages of 3 differ")
            tail = c.call("run/events", {"runId": a, "afterSeq": last})
            expect(tail["events"] == [] and tail["more"] is False, short(tail))
        with r.case("run/event notifications are exactly the stored events"):
            expect(c.events(a) == paged, "the notifications of the run differ from run/events")
        with r.case("no-ops append nothing: one decision.resolved, one approval.resolved per gate"):
            resolved = [e for e in paged if e["type"] == "decision.resolved"]
            approved = [e for e in paged if e["type"] == "approval.resolved" and e["data"]["approvalId"] == self.second]
            expect(len(resolved) == 1 and len(approved) == 1, f"{len(resolved)} decision.resolved, {len(approved)} approvals")

    def logs(self):
        c, r, a = self.c, self.r, self.a
        step_id = self.decision["stepId"]
        with r.case("run/log notifications arrive for the demo's agents"):
            lines = [n for n in c.notifications("run/log") if n["runId"] == a]
            expect(lines, "no run/log for the demo run")
        with r.case("step/log: paged reads reassemble the attempt's log, which holds its run/log text"):
            whole = c.call("step/log", {"runId": a, "stepId": step_id, "attempt": 1})
            expect(whole["eof"] is True, "a small log fits in one default page")
            text, offset = "", 0
            while True:
                page = c.call("step/log", {"runId": a, "stepId": step_id, "attempt": 1, "offset": offset, "limit": 16})
                text += page["text"]
                expect(page["nextOffset"] >= offset, "nextOffset went backwards")
                offset = page["nextOffset"]
                if page["eof"]:
                    break
            expect(text == whole["text"], "paged text differs from the whole text")
            expect(offset == len(whole["text"].encode()), "nextOffset counts bytes")
            for line in (n for n in c.notifications("run/log") if n["runId"] == a and n["stepId"] == step_id and n["attempt"] == 1):
                expect(line["text"].strip() in text, f"run/log text {line['text']!r} is not in the step's log")
            latest = c.call("step/log", {"runId": a, "stepId": step_id})
            expect(isinstance(latest["text"], str), "default attempt")
        with r.case("step/log: unknown step → -33001"):
            c.error("step/log", {"runId": a, "stepId": "no-such-step"}, -33001, "not_found")

    def run_list(self):
        c, r = self.c, self.r
        with r.case("run/list: status filter, cursor paging, outputs removed"):
            done = c.call("run/list", {"status": ["done"]})["runs"]
            expect(self.a in [x["id"] for x in done] and all(x["status"] == "done" for x in done), short(done))
            for run in done:
                for step in run["steps"]:
                    expect("output" not in step, "run/list must not carry step outputs")
                    expect(step.get("approval", {}).get("proposal", "") == "", "run/list must blank proposals")
            everything = c.call("run/list", {})["runs"]
            seen, cursor = [], None
            while True:
                page = c.call("run/list", {"limit": 1} | ({"cursor": cursor} if cursor else {}))
                expect(len(page["runs"]) <= 1, "limit")
                seen += [x["id"] for x in page["runs"]]
                cursor = page.get("nextCursor")
                if cursor is None:
                    break
            expect(seen == [x["id"] for x in everything], f"paged {seen} vs {[x['id'] for x in everything]}")
            expect(c.call("run/list", {"status": ["paused"]})["runs"] == [], "no paused runs")

    def lookups_and_bad_params(self):
        c, r = self.c, self.r
        for method, params in (("run/get", {"runId": "r-unknown"}), ("run/events", {"runId": "r-unknown"}),
                               ("run/cancel", {"runId": "r-unknown"}), ("run/retry", {"runId": "r-unknown"}),
                               ("run/restart", {"runId": "r-unknown", "fromStep": "plan"}),
                               ("step/approve", {"runId": "r-unknown", "approvalId": "a-x-1"})):
            with r.case(f"{method}: unknown run id → -33001 not_found"):
                c.error(method, params, -33001, "not_found")
        for method, params in (("run/get", {"runId": 5}), ("run/start", {"task": "no pipeline"}),
                               ("run/start", {"pipelineId": "demo", "task": " "}), ("run/list", {"limit": 0}),
                               ("run/events", {"runId": self.a, "afterSeq": "x"}),
                               ("decision/resolve", {"runId": self.a}), ("workspace/trust", {})):
            with r.case(f"{method}: bad params {short(params)} → -32602 (and the schema rejects them too)"):
                c.error(method, params, -32602, check_params=False)
                expect(Schema.problem(self.ctx.schema.params[method], params) is not None, "the schema accepts them")
        with r.case("run/start: unknown pipeline → -33001 naming it"):
            error = c.error("run/start", {"pipelineId": "no-such-pipeline", "task": "x"}, -33001, "not_found")
            expect("no-such-pipeline" in error["message"], error["message"])
        with r.case("unknown method → -32601"):
            c.error("run/frobnicate", {}, -32601, check_params=False)

    def reject_and_retry(self):
        c, r = self.c, self.r
        with r.case("step/reject → run.failed with kind rejected and a hint"):
            run = self.start_demo("Reject me")
            b = self.b = run["id"]
            decision = self.gate(b, "decision.requested")
            c.call("decision/resolve", {"runId": b, "decisionId": decision["decisionId"], "choice": decision["options"][0]})
            approval = self.gate(b, "approval.requested")
            self.rejected = approval["approvalId"]
            result, index = c.call_at("step/reject", {"runId": b, "approvalId": self.rejected, "reason": "Not like this"})
            self.caused(b, "approval.resolved", lambda d: d["status"] == "rejected", index, result["run"])
            failed = self.caused(b, "run.failed", None, index, result["run"])
            failure = failed["data"]["failure"]
            expect(failure["kind"] == "rejected" and failure["hint"] and failure.get("stepId") == approval["stepId"], short(failure))
            expect(result["run"]["status"] == "failed" and result["run"]["failure"]["kind"] == "rejected", short(result["run"]))
            self.rejected_seq = result["run"]["lastSeq"]
        with r.case("step/reject again → the run unchanged; approve/requestChanges on it → -33002"):
            again = c.call("step/reject", {"runId": self.b, "approvalId": self.rejected})
            expect(again["run"]["lastSeq"] == self.rejected_seq and again["run"]["status"] == "failed", short(again["run"]))
            c.error("step/approve", {"runId": self.b, "approvalId": self.rejected}, -33002, "conflict")
            c.error("step/requestChanges", {"runId": self.b, "approvalId": self.rejected, "feedback": "x"}, -33002, "conflict")
        with r.case("run/retry a failed run → run.retried, the rejected step asks again, run completes"):
            mark = len(c.messages)
            result, index = c.call_at("run/retry", {"runId": self.b})
            self.caused(self.b, "run.retried", lambda d: d["fromStep"] == self.approval_step, index, result["run"])
            approval = self.gate(self.b, "approval.requested", start=mark)
            expect(approval["approvalId"] != self.rejected, "a new approval id")
            c.call("step/approve", {"runId": self.b, "approvalId": approval["approvalId"]})
            c.wait_event(self.b, "run.completed")
        with r.case("run/retry a done run → -33002"):
            c.error("run/retry", {"runId": self.b}, -33002, "conflict")

    def cancel(self):
        c, r = self.c, self.r
        with r.case("run/cancel a blocked run → run.cancelled with the reason"):
            run = self.start_demo("Cancel me")
            x = self.x = run["id"]
            self.x_decision = self.gate(x, "decision.requested")
            result, index = c.call_at("run/cancel", {"runId": x, "reason": "changed my mind"})
            self.caused(x, "run.cancelled", lambda d: d["reason"] == "changed my mind", index, result["run"])
            expect(result["run"]["status"] == "cancelled", result["run"]["status"])
            self.cancelled_seq = result["run"]["lastSeq"]
        with r.case("run/restart from a step after the first unfinished one → -33002"):
            c.error("run/restart", {"runId": self.x, "fromStep": result["run"]["steps"][-1]["id"]}, -33002, "conflict")
        with r.case("run/cancel again → idempotent: the run unchanged"):
            again = c.call("run/cancel", {"runId": self.x})["run"]
            expect(again["status"] == "cancelled" and again["lastSeq"] == self.cancelled_seq, short(again))
        with r.case("decision/resolve on a cancelled run → -33002; its gate left inbox/list"):
            c.error("decision/resolve", {"runId": self.x, "decisionId": self.x_decision["decisionId"],
                                         "choice": self.x_decision["options"][0]}, -33002, "conflict")
            expect(not [i for i in self.inbox() if i["runId"] == self.x], "cancelled runs have no open gates")
        with r.case("run/retry a cancelled run → run.retried; cancel it again"):
            mark = len(c.messages)
            result, index = c.call_at("run/retry", {"runId": self.x})
            self.caused(self.x, "run.retried", None, index, result["run"])
            c.wait_index(lambda m: isinstance(m, dict) and m.get("method") == "run/event"
                         and m["params"]["runId"] == self.x
                         and m["params"]["type"] in ("decision.requested", "approval.requested"), mark,
                         what="a gate after the retry")
            c.call("run/cancel", {"runId": self.x})
            c.wait_event(self.x, "run.cancelled", start=mark)

    def restart(self):
        c, r, a = self.c, self.r, self.a
        with r.case("run/restart: unknown step → -33001"):
            c.error("run/restart", {"runId": a, "fromStep": "no-such-step"}, -33001, "not_found")
        with r.case("run/restart a done run from the gated step → run.restarted, the gate again, done"):
            mark = len(c.messages)
            result, index = c.call_at("run/restart", {"runId": a, "fromStep": self.approval_step})
            self.caused(a, "run.restarted", lambda d: d["fromStep"] == self.approval_step, index, result["run"])
            step = self.step(result["run"], self.approval_step)
            expect(step["state"] in ("pending", "working"), f"the restarted step is {step['state']}")
            approval = self.gate(a, "approval.requested", start=mark)
            expect(approval["approvalId"] != self.second, "the restarted step must raise a new approval id")
            c.error("step/requestChanges", {"runId": a, "approvalId": self.second, "feedback": "x"}, -33002, "conflict")
            c.call("step/approve", {"runId": a, "approvalId": approval["approvalId"]})
            c.wait_event(a, "run.completed", start=mark)
            paged, last = self.all_events(a, page=7)
            expect([e["seq"] for e in paged] == list(range(1, last + 1)), "seq has gaps after a restart")

    def trust(self):
        c, r = self.c, self.r
        pipelines = Path(self.ws) / ".drover" / "pipelines"
        pipelines.mkdir(parents=True, exist_ok=True)
        for name, body in (("failing", FAILING_PIPELINE), ("slow", SLOW_PIPELINE), ("broken", BROKEN_PIPELINE)):
            (pipelines / f"{name}.json").write_text(json.dumps(body, indent=2))
        with r.case("pipeline/list: workspace pipelines, broken ones with errors"):
            found = {p["id"]: p for p in c.call("pipeline/list", {})["pipelines"]}
            expect(found.get("failing", {}).get("source") == "workspace", short(found.get("failing")))
            expect(found["failing"].get("path", "").endswith("failing.json") and found["failing"]["errors"] == [],
                   short(found["failing"]))
            expect(found.get("broken", {}).get("errors"), f"broken pipeline without errors: {short(found.get('broken'))}")
        with r.case("run/start of a workspace pipeline in an untrusted workspace → -33003 untrusted"):
            error = c.error("run/start", {"pipelineId": "failing", "task": "x"}, -33003, "untrusted")
            expect("trust" in error["message"], error["message"])
        with r.case("run/start of an invalid pipeline → -32602"):
            c.error("run/start", {"pipelineId": "broken", "task": "x"}, -32602)
        with r.case("workspace/trust true → the workspace pipeline runs; its agent fails → step.failed, run.failed"):
            expect(c.call("workspace/trust", {"trusted": True}) == {"trusted": True}, "trusted")
            run = c.call("run/start", {"pipelineId": "failing", "task": "fail"})["run"]
            failed = c.wait_event(run["id"], "step.failed")["data"]
            expect(failed["failure"]["kind"] == "agent" and "boom on purpose" in failed["failure"]["message"], short(failed))
            end = c.wait_event(run["id"], "run.failed")["data"]
            expect(end["failure"]["kind"] == "agent" and end["failure"]["hint"], short(end))
        with r.case("workspace/trust false → -33003 again"):
            expect(c.call("workspace/trust", {"trusted": False}) == {"trusted": False}, "untrusted")
            c.error("run/start", {"pipelineId": "failing", "task": "x"}, -33003, "untrusted")
            c.call("workspace/trust", {"trusted": True})

    def own_workspace(self, name):
        """A new workspace with this scenario's workspace pipelines, trusted."""
        ws = self.ctx.workspace(name)
        shutil.copytree(Path(self.ws) / ".drover" / "pipelines", Path(ws) / ".drover" / "pipelines")
        return ws

    def queue(self):
        """concurrency.maxRuns 1: a second run waits queued (run.queued, reason capacity) until the first ends."""
        c, r = self.c, self.r
        with r.case("maxRuns 1 (workspace config): a second run → run.queued {reason: capacity}, starts once the first is cancelled"):
            ws = self.own_workspace("queue")
            (Path(ws) / ".drover" / "config.json").write_text(json.dumps({"concurrency": {"maxRuns": 1}}))
            q = self.ctx.connect(ws, name="queue")
            self.ctx.initialize(q, ws)
            q.notify("initialized", {})
            q.call("workspace/trust", {"trusted": True})
            first = q.call("run/start", {"pipelineId": "slow", "task": "first"})["run"]["id"]
            q.wait_event(first, "step.started")
            second = q.call("run/start", {"pipelineId": "slow", "task": "second"})["run"]
            expect(second["status"] == "queued", f"the second run is {second['status']}, not queued")
            queued = q.wait_event(second["id"], "run.queued")["data"]
            expect(queued["reason"] == "capacity", short(queued))
            q.call("run/cancel", {"runId": first})
            q.wait_event(second["id"], "step.started")
            q.call("run/cancel", {"runId": second["id"]})
            q.wait_event(second["id"], "run.cancelled")
            expect(q.call("shutdown") is None, "shutdown")
            q.notify("exit")
            expect(q.wait_exit() == 0, "exit code")
            stop_engine(self.ctx, ws)

    def engine_stop(self):
        """`drover engine stop` mid-step: the step is recorded interrupted, and the next engine resumes it."""
        r = self.r
        with r.case("drover engine stop mid-step → the client's session ends; the next client's engine has step.interrupted and resumes the step"):
            ws = self.own_workspace("engine-stop")
            first = self.ctx.connect(ws, name="engine-stop-1")
            self.ctx.initialize(first, ws)
            first.call("workspace/trust", {"trusted": True})
            run_id = first.call("run/start", {"pipelineId": "slow", "task": "wait"})["run"]["id"]
            first.wait_event(run_id, "step.started")
            stopped = subprocess.run([self.ctx.drover, "engine", "stop", "--workspace", ws], capture_output=True,
                                     text=True, env=self.ctx.env, timeout=TIMEOUT)
            expect(stopped.returncode == 0, stopped.stdout + stopped.stderr)
            expect(first.wait_exit() == 1, "a client whose engine stopped exits 1")
            second = self.ctx.connect(ws, name="engine-stop-2")
            self.ctx.initialize(second, ws)
            events = second.call("run/events", {"runId": run_id, "afterSeq": 0, "limit": 1000})["events"]
            interrupted = [e for e in events if e["type"] == "step.interrupted"]
            expect(interrupted, f"no step.interrupted in {[e['type'] for e in events]}")
            if not any(e["type"] == "step.started" for e in events[events.index(interrupted[-1]):]):
                second.wait_event(run_id, "step.started")  # the resumed attempt
            second.call("run/cancel", {"runId": run_id})
            expect(second.call("shutdown") is None, "shutdown")
            second.notify("exit")
            expect(second.wait_exit() == 0, "exit code")
            stop_engine(self.ctx, ws)

    def interrupt_and_replay(self):
        # A server with its own engine (--no-daemon) interrupts its steps when it shuts down, and holds its
        # workspace: its own workspace, since the scenario's is driven by that workspace's engine.
        self.c.close()
        stop_engine(self.ctx, self.ws)
        self.ws = self.own_workspace("no-daemon")
        c = self.c = self.ctx.connect(self.ws, args=("--no-daemon",), name="no-daemon")
        r = self.r
        self.ctx.initialize(c, self.ws)
        c.call("workspace/trust", {"trusted": True})
        with r.case("--no-daemon: shutdown while a step runs → step.interrupted; later requests → -32600; exit → 0"):
            run = c.call("run/start", {"pipelineId": "slow", "task": "wait"})["run"]
            s = self.slow = run["id"]
            c.wait_event(s, "step.started")
            expect(c.call("shutdown") is None, "shutdown → null")
            c.error("run/get", {"runId": s}, -32600)
            c.notify("exit")
            expect(c.wait_exit() == 0, "exit code after shutdown")
            self.seen_before = c.events(s)
            expect(self.seen_before, "no events of the slow run")
        with r.case("--no-daemon: a second connection (LSP framing, logs off) replays from afterSeq and resumes the interrupted run; a third one on the same workspace → -33002"):
            d = self.ctx.connect(self.ws, framing="lsp", args=("--no-daemon",), name="second")
            self.ctx.initialize(d, self.ws, logs=False)
            s, before = self.slow, self.seen_before
            everything, last = self.all_events_on(d, s)
            expect(everything[:len(before)] == before, "stored events differ from the notifications seen before")
            expect(any(e["type"] == "step.interrupted" for e in everything), "no step.interrupted in the log")
            after = d.call("run/events", {"runId": s, "afterSeq": before[-1]["seq"]})
            # The resumed run goes on meanwhile, so the page may run past `everything`: compare the overlap.
            overlap = min(len(after["events"]), len(everything) - len(before))
            expect(after["events"][:overlap] == everything[len(before):len(before) + overlap], "afterSeq page")
            expect(all(e["seq"] == before[-1]["seq"] + 1 + i for i, e in enumerate(after["events"])), "afterSeq page has gaps")
            interrupted = max(i for i, e in enumerate(everything) if e["type"] == "step.interrupted")
            if not any(e["type"] == "step.started" for e in everything[interrupted:]):
                d.wait_event(s, "step.started")  # the resumed attempt
            e = self.ctx.connect(self.ws, args=("--no-daemon",), name="third")
            error = e.error("initialize", {"workspace": self.ws}, -33002, "conflict")
            expect(str(d.proc.pid) in error["message"], f"the message should name pid {d.proc.pid}: {error['message']}")
            e.close()
            result = d.call("run/cancel", {"runId": s, "reason": "done testing"})
            expect(result["run"]["status"] == "cancelled", result["run"]["status"])
            d.wait_event(s, "run.cancelled")
            expect(not d.notifications("run/log"), "run/log sent although capabilities.logs is false")
            expect(d.call("shutdown") is None, "shutdown")
            d.notify("exit")
            expect(d.wait_exit() == 0, "exit code")
        c.close()

    def all_events_on(self, connection, run_id):
        saved, self.c = self.c, connection
        try:
            return self.all_events(run_id, page=4)
        finally:
            self.c = saved

ISOLATED_PIPELINE = {
    "name": "Isolated", "description": "conformance: writes a file, then a tests step fixed by its fixer",
    "steps": [
        {"id": "impl", "kind": "agent", "role": "tester", "prompt": "Write: {{task}}",
         "agent": {"driver": "fake", "script": [[{"write": {"path": "new.txt", "text": "new\n"}}, {"result": "wrote"}]]}},
        {"id": "test", "kind": "tests", "command": "test -f fixed.txt || { echo 'fixed.txt missing'; exit 1; }",
         "fixer": {"role": "fixer", "maxAttempts": 1,
                   "agent": {"driver": "fake", "script": [[{"write": {"path": "fixed.txt", "text": "ok\n"}}, {"result": "fixed"}]]}}},
        {"id": "estimate", "kind": "agent", "role": "estimator", "prompt": "How big is: {{task}}",
         "agent": {"driver": "fake", "script": [[{"result": "{\"size\": \"small\"}"}]]}},
        {"id": "large-only", "kind": "command", "command": "true",
         "when": {"step": "estimate", "path": "size", "in": ["large"]}},
        {"id": "review", "kind": "review", "reviews": "impl", "threshold": 0.8, "maxRounds": 2, "prompt": "Review: {{task}}",
         "agent": {"driver": "fake", "script": [[{"result": "not a verdict"}],
                                                [{"result": "{\"score\": 0.3, \"findings\": [\"name the file better\"]}"}],
                                                [{"result": "{\"score\": 0.9, \"findings\": []}"}]]}},
    ],
}


def test_isolation(ctx):
    """A git workspace: run.workspace, step.committed, tests.finished, step.skipped, review.*, run/diff, run/apply, run.applied, run/discard, run.discarded."""
    r = ctx.report
    ws = ctx.workspace("isolated")
    git = ["git", "-C", ws, "-c", "user.name=c", "-c", "user.email=c@c"]
    subprocess.run(git + ["init", "-q", "-b", "main"], check=True, env=ctx.env)
    Path(ws, "README").write_text("conformance\n")
    subprocess.run(git + ["add", "README"], check=True, env=ctx.env)
    subprocess.run(git + ["commit", "-q", "-m", "init"], check=True, env=ctx.env)
    pipelines = Path(ws, ".drover", "pipelines")
    pipelines.mkdir(parents=True)
    (pipelines / "isolated.json").write_text(json.dumps(ISOLATED_PIPELINE))
    c = ctx.connect(ws, name="isolated")
    try:
        ctx.initialize(c, ws)
        c.call("workspace/trust", {"trusted": True})
        with r.case("isolation: a run of a git workspace works in its own worktree; the fixer fixes its tests"):
            run = c.call("run/start", {"pipelineId": "isolated", "task": "a file"})["run"]
            run_id = run["id"]
            workspace = c.wait_event(run_id, "run.workspace")["data"]
            expect(workspace["isolation"] == "worktree" and workspace["branch"] == f"drover/{run_id}", short(workspace))
            c.wait_event(run_id, "run.completed")
            types = [e["type"] for e in c.events(run_id)]
            for needed in ("step.committed", "tests.finished", "step.skipped", "review.malformed", "review.verdict", "review.rework"):
                expect(needed in types, f"no {needed} in {types}")
            expect(not Path(ws, "new.txt").exists(), "the run wrote into the user's tree")
        with r.case("run/diff: the run's files with their patches"):
            diff = c.call("run/diff", {"runId": run_id})
            expect([f["path"] for f in diff["files"]] == ["fixed.txt", "new.txt"], short(diff))
            c.error("run/diff", {"runId": "r-unknown"}, -33001, "not_found")
        with r.case("run/apply: merges the run; a second apply → -33002"):
            applied = c.call("run/apply", {"runId": run_id, "strategy": "merge"})["run"]
            expect(applied["workspace"]["applied"]["strategy"] == "merge", short(applied["workspace"]))
            c.wait_event(run_id, "run.applied")
            expect(Path(ws, "new.txt").read_text() == "new\n", "the change is not in the user's tree")
            c.error("run/apply", {"runId": run_id}, -33002, "conflict")
        with r.case("run/report: the ended run as Markdown, written under .drover/reports"):
            report = c.call("run/report", {"runId": run_id})
            expect(report["markdown"].startswith(f"# Run {run_id}") and report["path"].endswith(f"/.drover/reports/{run_id}.md"),
                   short(report))
            expect(Path(report["path"]).read_text() == report["markdown"], "the file differs from the result")
            c.error("run/report", {"runId": "r-unknown"}, -33001, "not_found")
        with r.case("run/discard: an applied run's branch goes; run.discarded; diff of a discarded run → -33002"):
            discarded = c.call("run/discard", {"runId": run_id})["run"]["workspace"]
            expect(discarded.get("discarded") is True and discarded.get("branchDeleted") is True, short(discarded))
            event = c.wait_event(run_id, "run.discarded")["data"]
            expect(event == {"worktreeRemoved": False, "branchDeleted": True}, short(event))
            c.error("run/diff", {"runId": run_id}, -33002, "conflict")
            c.error("run/discard", {"runId": run_id}, -33002, "conflict")
            c.error("run/discard", {"runId": "r-unknown"}, -33001, "not_found")
        expect(c.call("shutdown") is None, "shutdown")
        c.notify("exit")
        c.wait_exit()
    finally:
        c.close()


def test_budget(ctx):
    """A budget: run.paused when usage reaches it, run/resume with a higher one, run.resumed."""
    r = ctx.report
    ws = ctx.workspace("budget")
    pipelines = Path(ws, ".drover", "pipelines")
    pipelines.mkdir(parents=True)
    (pipelines / "spend.json").write_text(json.dumps({"name": "Spend", "steps": [
        {"id": "spend", "kind": "agent", "prompt": "p", "agent": {"driver": "fake", "script": [
            [{"usage": {"model": "m", "input": 10, "output": 5, "costUSD": 1.0}}, {"hang": True}],
            [{"result": "spent"}]]}}]}))
    c = ctx.connect(ws, name="budget")
    try:
        ctx.initialize(c, ws)
        c.call("workspace/trust", {"trusted": True})
        with r.case("budget: reaching it pauses the run (run.paused); run/resume with a higher one goes on (run.resumed)"):
            c.error("run/start", {"pipelineId": "spend", "task": "t", "budget": {"maxUSD": -1}}, -32602, None,
                    check_params=False)
            run_id = c.call("run/start", {"pipelineId": "spend", "task": "t", "budget": {"maxUSD": 0.5}})["run"]["id"]
            paused = c.wait_event(run_id, "run.paused")["data"]
            expect(paused["reason"] == "budget" and paused["limit"] == {"maxUSD": 0.5}, short(paused))
            c.error("run/resume", {"runId": run_id}, -32602)
            resumed = c.call("run/resume", {"runId": run_id, "budget": {"maxUSD": 5}})["run"]
            expect(resumed["status"] == "running" and resumed["budget"] == {"maxUSD": 5}, short(resumed))
            c.wait_event(run_id, "run.resumed")
            c.wait_event(run_id, "run.completed")
            c.error("run/resume", {"runId": run_id}, -33002, "conflict")
        expect(c.call("shutdown") is None, "shutdown")
        c.notify("exit")
        c.wait_exit()
    finally:
        c.close()


def test_pipelines(ctx):
    """Richer pipeline steps: consensus (consensus.candidate, consensus.decided) and fan-out (run.children, child.merged)."""
    r = ctx.report
    ws = ctx.workspace("pipelines")
    drover = Path(ws, ".drover")
    (drover / "pipelines").mkdir(parents=True)
    answer = lambda text: {"driver": "fake", "script": [[{"result": text}]]}
    (drover / "config.json").write_text(json.dumps({"agents": {"a": answer("yes"), "b": answer("no"), "c": answer("Yes")}}))
    (drover / "pipelines" / "vote.json").write_text(json.dumps({"name": "Vote", "steps": [
        {"id": "pick", "kind": "agent", "prompt": "yes or no?", "consensus": {"agents": ["a", "b", "c"], "strategy": "vote"}}]}))
    fake = lambda *actions: {"driver": "fake", "script": [list(actions)]}
    (drover / "pipelines" / "split.json").write_text(json.dumps({"name": "Split", "steps": [
        {"id": "plan", "kind": "agent", "prompt": "p", "agent": fake({"result": '["x.txt", "y.txt"]'}), "fanOut": {"pipeline": "child"}}]}))
    (drover / "pipelines" / "child.json").write_text(json.dumps({"name": "Child", "steps": [
        {"id": "work", "kind": "agent", "prompt": "{{task}}", "agent": fake({"write": {"path": "{{prompt}}", "text": "x"}}, {"result": "ok"})}]}))
    git = ["git", "-C", ws, "-c", "user.name=c", "-c", "user.email=c@c"]
    subprocess.run(git + ["init", "-q", "-b", "main"], check=True, env=ctx.env)
    Path(ws, "README").write_text("conformance\n")
    subprocess.run(git + ["add", "README"], check=True, env=ctx.env)
    subprocess.run(git + ["commit", "-q", "-m", "init"], check=True, env=ctx.env)
    c = ctx.connect(ws, name="pipelines")
    try:
        ctx.initialize(c, ws)
        c.call("workspace/trust", {"trusted": True})
        with r.case("consensus: three roles answer at once, the vote picks the answer two agree on"):
            run_id = c.call("run/start", {"pipelineId": "vote", "task": "t"})["run"]["id"]
            decided = c.wait_event(run_id, "consensus.decided")["data"]
            expect(decided["winner"] == "a" and decided["output"] == "yes", short(decided))
            c.wait_event(run_id, "run.completed")
            # They answer in any order; their attempts are numbered in the order the roles are listed.
            answers = sorted((e["data"] for e in c.events(run_id) if e["type"] == "consensus.candidate"), key=lambda d: d["attempt"])
            expect([d["role"] for d in answers] == ["a", "b", "c"], short(answers))
        with r.case("fan-out: a child run per subtask (run.created parentRunId), run.children, child.merged, then the step completes"):
            run_id = c.call("run/start", {"pipelineId": "split", "task": "t", "isolation": "worktree"})["run"]["id"]
            children = c.wait_event(run_id, "run.children")["data"]["children"]
            expect([child["task"] for child in children] == ["x.txt", "y.txt"], short(children))
            c.wait_event(run_id, "run.completed")
            outcomes = [e["data"]["outcome"] for e in c.events(run_id) if e["type"] == "child.merged"]
            expect(outcomes == ["merged", "merged"], short(outcomes))
            child = c.call("run/get", {"runId": children[0]["runId"]})["run"]
            expect(child.get("parentRunId") == run_id and child.get("parentStepId") == "plan", short(child))
        expect(c.call("shutdown") is None, "shutdown")
        c.notify("exit")
        c.wait_exit()
    finally:
        c.close()


def test_slow_client(ctx):
    """A client that stops reading: shed run/log lines and run/events are announced, and run/events fills the gap."""
    r = ctx.report
    ws = ctx.workspace("slow-client")
    lines = 20000
    pipelines = Path(ws) / ".drover" / "pipelines"
    pipelines.mkdir(parents=True, exist_ok=True)
    (pipelines / "flood.json").write_text(json.dumps({"name": "Flood", "steps": [
        {"id": "spam", "kind": "agent", "prompt": "p",
         "agent": {"driver": "fake", "script": [[{"spam": lines}, {"result": "flooded"}]]}},
        # An output (200 kB, in step.completed) larger than the whole backlog the server below allows.
        {"id": "big", "kind": "command", "command": "printf '%0200000d' 0"},
    ]}))
    with r.case("a client that stops reading: run/log lines are dropped and counted (run/logsDropped), "
                "run/events past the bound are announced (run/eventsDropped) and run/events fills the gap"):
        c = ctx.connect(ws, args=("--max-backlog-bytes", "65536"), name="t-slow")
        ctx.initialize(c, ws)
        c.call("workspace/trust", {"trusted": True})
        run_id = c.call("run/start", {"pipelineId": "flood", "task": "flood"})["run"]["id"]
        c.reading.clear()
        deadline = time.monotonic() + TIMEOUT
        while True:  # the stalled server still drives the run to its end (the CLI reads the store beside it)
            status = subprocess.run([ctx.drover, "status", run_id], capture_output=True, text=True, env=ctx.env, cwd=ws)
            header = status.stdout.splitlines()[0] if status.stdout else ""
            if " done" in header:
                break
            expect(time.monotonic() < deadline, f"the run did not finish while its client was stalled: {status.stdout}{status.stderr}")
            time.sleep(0.05)  # polling interval
        c.reading.set()

        def dropped(method):
            return lambda m: isinstance(m, dict) and m.get("method") == method and m["params"].get("runId") == run_id
        gap = c.messages[c.wait_index(dropped("run/eventsDropped"))]["params"]
        c.wait_index(dropped("run/logsDropped"))
        after = gap["afterSeq"]
        notified = [e["seq"] for e in c.events(run_id)]
        expect(notified[:after] == list(range(1, after + 1)), f"events before the gap, then none: {notified}")
        paged, cursor = [], after
        while True:
            page = c.call("run/events", {"runId": run_id, "afterSeq": cursor, "limit": 100})
            paged += page["events"]
            if not page["more"]:
                break
            cursor = page["events"][-1]["seq"]
        expect([e["seq"] for e in paged] == list(range(after + 1, after + 1 + len(paged))) and paged,
               f"run/events after {after}: {short(paged)}")
        expect(paged[-1]["type"] == "run.completed", f"the gap ends with the run: {short(paged[-1])}")
        logs = [p for p in c.notifications("run/log") if p["runId"] == run_id and p["stepId"] == "spam"]
        counted = sum(p["lines"] for p in c.notifications("run/logsDropped") if p["runId"] == run_id and p["stepId"] == "spam")
        expect(counted > 0 and len(logs) + counted == lines,
               f"{len(logs)} lines sent + {counted} counted as dropped should be {lines}")
        expect(c.call("shutdown") is None, "shutdown")
        c.close()


def test_coverage(ctx):
    """One check per message kind the schema defines, however the run's timing went: it passes when every
    message of that kind was valid, fails when one was not (each was reported as it arrived) or when none
    was seen. The kinds a run may or may not meet (error responses: a race can turn one into a result)
    are one check together, so the number of checks never depends on timing."""
    r = ctx.report
    validated = ctx.report.validated
    expected = (["envelope"] + [f"result of {m}" for m in ctx.schema.requests]
                + [f"event {t}" for t in ctx.schema.event_types]
                + [f"notification {m}" for m, n in ctx.schema.notifications.items() if n["direction"] == "serverToClient"])
    for key in expected:
        good, bad = validated.get(key, (0, 0))
        with r.case(f"schema: every {key} is valid ({good} seen)"):
            expect(not bad, f"{bad} invalid (reported above)")
            expect(good, f"no {key} was seen: the scenario must produce one")
    others = {key: counts for key, counts in validated.items() if key not in expected}
    seen = sum(good + bad for good, bad in others.values())
    with r.case(f"schema: every error response and other message is valid ({seen} seen, {len(others)} kinds)"):
        invalid = sorted(key for key, (_, bad) in others.items() if bad)
        expect(not invalid, f"invalid (reported above): {invalid}")


def test_example_client(ctx):
    with ctx.report.case("protocol/examples/client.py runs the demo to done (exit 0)"):
        workspace = ctx.workspace("example")
        proc = subprocess.run([sys.executable, str(CLIENT_PATH), "--drover", ctx.drover, "--workspace", workspace],
                              capture_output=True, text=True, timeout=120, env=ctx.env, cwd=workspace)
        expect(proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-1500:]}\n{proc.stderr[-1500:]}")
        for needle in ("decision.requested", "approval.requested", "run.completed"):
            expect(needle in proc.stdout, f"{needle} not printed:\n{proc.stdout[-1500:]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drover", default=str(ROOT / ".build" / "debug" / "drover"), help="the drover binary")
    parser.add_argument("--verbose", "-v", action="store_true", help="print passing checks too")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (server stderr logs)")
    args = parser.parse_args()
    drover = str(Path(args.drover).resolve())
    if not os.access(drover, os.X_OK):
        sys.exit(f"conformance: {drover} is not an executable; build with `swift build` or pass --drover")
    report = Report(args.verbose)
    ctx = Context(drover, report, Schema(SCHEMA_PATH))
    try:
        test_schema(ctx)
        test_capabilities(ctx)
        test_transport(ctx)
        Scenario(ctx).run()
        test_slow_client(ctx)
        test_isolation(ctx)
        test_budget(ctx)
        test_pipelines(ctx)
        test_coverage(ctx)
        test_example_client(ctx)
    finally:
        for connection in ctx.connections:
            with contextlib.suppress(Exception):
                connection.close()
        for workspace in sorted(ctx.workspaces):
            with contextlib.suppress(Exception):
                stop_engine(ctx, workspace)
        if args.keep or report.failed:
            print(f"server logs kept in {ctx.tmp}")
        else:
            shutil.rmtree(ctx.tmp, ignore_errors=True)
    print(f"{report.passed} passed, {report.failed} failed")
    sys.exit(1 if report.failed else 0)


if __name__ == "__main__":
    main()
