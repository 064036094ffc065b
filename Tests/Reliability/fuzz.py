"""Fuzz: seeded, mutated JSON-RPC messages into `drover serve` over both framings.

Two kinds of message:
  tracked  a well-formed request with a unique integer id (random method, mutated params, sometimes
           in a batch): must be answered exactly once;
  garbage  everything else — byte mutations, truncated JSON, deep nesting, invalid UTF-8, huge numbers
           and strings, messages over --max-message-bytes, bad LSP headers, frames whose
           Content-Length is wrong — carrying string ids or none: answered or not, never a crash.
Every session ends with a truncated frame and end of input. Checks: no crash (exit status, stderr), every
tracked request answered exactly once, no answer to an id never sent, the server's RSS flat: the engine's
(the process that holds the store and handles every message; `drover serve` only copies bytes to it) and
the proxy's, sampled at idle points every 1/20 of a session, may grow at most RSS_GROWTH_BOUND_KIB after the first quarter,
and the engine's at each session's end at most that over its level at the first session's end.
The curves are printed. Before the sessions, bursts of large requests (32-120 KiB) among small ones check
that the engine gives back the memory such messages leave (RELEASE_BOUND_KIB).
"""
import json
import os
import random
import subprocess
import tempfile
import threading
import time

from client import Failed, Server, Workspace, expect, rss_kib

METHODS = ["run/get", "run/list", "run/events", "inbox/list", "pipeline/list", "step/log", "run/cancel",
           "decision/resolve", "step/approve", "step/requestChanges", "step/reject", "run/retry", "run/restart",
           "run/start", "workspace/trust", "initialize", "$/cancelRequest", "bench/none", "", "run/", "RUN/GET"]
TEMPLATES = {
    "run/get": {"runId": "r-1"}, "run/list": {"status": ["done"], "limit": 5, "cursor": "r-1"},
    "run/events": {"runId": "r-1", "afterSeq": 0, "limit": 10}, "inbox/list": {}, "pipeline/list": {},
    "step/log": {"runId": "r-1", "stepId": "plan", "attempt": 1, "offset": 0, "limit": 100},
    "run/cancel": {"runId": "r-1", "reason": "x"}, "decision/resolve": {"runId": "r-1", "decisionId": "d", "choice": "a"},
    "step/approve": {"runId": "r-1", "approvalId": "a", "proposal": "p"},
    "step/requestChanges": {"runId": "r-1", "approvalId": "a", "feedback": "f"},
    "step/reject": {"runId": "r-1", "approvalId": "a", "reason": "r"}, "run/retry": {"runId": "r-1"},
    "run/restart": {"runId": "r-1", "fromStep": "plan"},
    # Never the built-in `demo` (it runs without trust): fuzzing must not start thousands of runs.
    "run/start": {"pipelineId": "nope", "task": "t", "inputs": {"k": "v"}},
    "workspace/trust": {"trusted": False}, "initialize": {"protocolVersion": 1}, "$/cancelRequest": {"id": 1},
}
STRINGS = ["", "r-1", "../../etc/passwd", "a" * 300, "é\u2028\u0000\"\\", "\U0001F600", "r-" + "9" * 40,
           "done", "plan", " ", "\t\n", "null"]


def random_value(rng, depth=0):
    kind = rng.randrange(10 if depth < 6 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice([0, -1, 1, 2 ** 31, 2 ** 53 + 1, -(2 ** 63), 2 ** 64 + 7, 10 ** 30, 10001])
    if kind == 3:
        return rng.choice([0.5, -0.0, 1e308, -1e-308, 3.14159])
    if kind in (4, 5):
        return rng.choice(STRINGS)
    if kind in (6, 7):
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(["runId", "limit", "status", "x", "", "params"]): random_value(rng, depth + 1)
            for _ in range(rng.randrange(4))}


def mutated_params(rng, method):
    params = dict(TEMPLATES.get(method, {}))
    for _ in range(rng.randrange(3)):
        action = rng.randrange(3)
        if action == 0 and params:
            params.pop(rng.choice(list(params)))
        elif action == 1 and params:
            params[rng.choice(list(params))] = random_value(rng)
        else:
            params[rng.choice(["extra", "runId", "limit", "afterSeq"])] = random_value(rng)
    if rng.random() < 0.05:
        return random_value(rng)  # not an object at all
    return params


def tracked_request(rng, request_id):
    method = rng.choice(METHODS)
    message = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if rng.random() < 0.9:
        message["params"] = mutated_params(rng, method)
    if rng.random() < 0.05:
        message["unknown"] = random_value(rng)
    return message


# Sizes in KiB per MiB of --max-message-bytes: both sides of the limit. Every session sends each once
# first, so the allocator's high-water mark is reached before the RSS baseline is taken.
HUGE_SIZES = [512, 1000, 1025, 2048]
# Past warm-up (the first quarter of a session), RSS may grow this much. glibc's dynamic mmap threshold
# once let freed buffers pile up (45 -> 110 MB in 30,000 messages, +15 MB in the short profile); with
# it fixed, growth is about 1 MB. RSS is sampled at idle points (every request sent so far answered):
# sampled with requests in flight it swung 6-10 MB within a session while its floor stayed flat (seed 1129:
# every session's idle end at 42-43 MB, in-flight samples 41-52 MB), because the engine holds the large
# messages it works on (a 1 MB request costs ~3 MB until answered; Connection.maxPendingRequestBytes bounds
# how many are read ahead); that peak is printed, and bounded by RELEASE_PEAK_BOUND_KIB in the bursts of
# large requests. What the engine keeps is what this bounds.
RSS_GROWTH_BOUND_KIB = 8 * 1024


# Bursts of requests, a quarter of them 32-120 KiB, each burst sent without waiting and then answered in
# full: at those idle points the engine's RSS may exceed its level after the first burst by this much. It
# grew 7-29 MB over five bursts when each small message kept the capacity of the last large one and the
# heap kept the holes large messages left; 0.2-0.5 MB since (MessageParser.handOver, LargeMessageRelease).
RELEASE_BOUND_KIB = 1024
# While a burst is worked on, the engine's peak RSS may exceed that level by this much: it reads no more
# while Connection.maxPendingRequestBytes (4 MiB) of requests are in flight, each held with what is parsed
# from it (peak ~9.5 MB; 21-22 MB when only the count of pending answers bounded them).
RELEASE_PEAK_BOUND_KIB = 16 * 1024
RELEASE_BURST = 1000
RELEASE_FLUSH_BYTES = 256 << 10  # LargeMessageRelease.budgetBytes


def reset_peak(pid):
    """Restarts the kernel's record of `pid`'s peak RSS (VmHWM) from its RSS now."""
    with open("/proc/%d/clear_refs" % pid, "w") as f:
        f.write("5")


def peak_kib(pid):
    """`pid`'s peak RSS (VmHWM) in KiB."""
    with open("/proc/%d/status" % pid) as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def large_messages_released(drover, bursts):
    """(KiB grown at idle points after the first burst, per burst; peak KiB over that level; seconds). Checks
    that every request is answered and that the not-found answer to a 32-120 KiB run id quotes only part of it."""
    workspace = Workspace(prefix="drover-fuzz-large-")
    server = None
    try:
        server = Server(drover, workspace, logs=False)
        engine = workspace.store_owner_pid()
        expect(engine, "no engine holds the store of %s" % workspace.path)
        rng = random.Random(1130)
        started = time.monotonic()
        levels = []
        first_id = 1 << 20  # beyond the ids Server.request uses
        for burst in range(bursts):
            ids = range(first_id + burst * RELEASE_BURST, first_id + (burst + 1) * RELEASE_BURST)
            long_ids = {i for i in ids if i % 4 == 0}
            data = b"".join((b'{"jsonrpc":"2.0","id":%d,"method":"run/get","params":{"runId":"%s"}}\n' % (
                i, b"y" * rng.randrange(32 << 10, 120 << 10))) if i in long_ids else
                b'{"jsonrpc":"2.0","id":%d,"method":"run/list","params":{"limit":5}}\n' % i for i in ids)
            writer = threading.Thread(target=server.process.stdin.write, args=(data,))
            writer.start()
            with server.cond:
                answered = server.cond.wait_for(lambda: all(i in server.answers for i in ids) or server.closed, timeout=120)
            writer.join()
            expect(answered and not server.closed, "large messages: burst %d not answered in full" % (burst + 1))
            with server.cond:
                answers = [server.answers.pop(i) for i in ids]
            too_long = [a for a in answers if a.get("id") in long_ids and len(json.dumps(a)) > 1024]
            expect(not too_long, "large messages: the answer to a long run id repeats it: %s…" % json.dumps(too_long[:1])[:300])
            # One request as large as the release's budget: once it is answered, the engine has released
            # what the burst left (it does so before a large message's answer leaves).
            server.request("run/get", {"runId": "z" * RELEASE_FLUSH_BYTES})
            levels.append(rss_kib(engine))
            if burst == 0:
                reset_peak(engine)
        growth = [level - levels[0] for level in levels[1:]]
        peak = peak_kib(engine) - levels[0]
        expect(peak <= RELEASE_PEAK_BOUND_KIB, "large messages: engine RSS peaked %.1f MB over its level after the first burst "
               "(bound %.0f MB)" % (peak / 1024, RELEASE_PEAK_BOUND_KIB / 1024))
        expect(max(growth) <= RELEASE_BOUND_KIB, "large messages: engine RSS grew %s KiB after bursts of %d requests "
               "(a quarter of them 32-120 KiB), bound %d KiB; levels %s" % (growth, RELEASE_BURST, RELEASE_BOUND_KIB, levels))
        return growth, peak, time.monotonic() - started
    finally:
        if server:
            server.stop()
        workspace.cleanup(drover)


def huge(gid, size):
    return b'{"jsonrpc":"2.0","id":"%s","method":"run/get","params":{"runId":"%s"}}' % (gid.encode(), b"x" * size)


def garbage(rng, max_bytes):
    """(bytes, desyncs) — desyncs: an LSP frame whose length is wrong, so what follows must resynchronise."""
    kind = rng.randrange(14)
    gid = "g%d" % rng.randrange(1 << 30)
    base = json.dumps({"jsonrpc": "2.0", "id": gid, "method": rng.choice(METHODS),
                       "params": mutated_params(rng, "run/get")}).encode()
    if kind == 0:  # flip bytes
        data = bytearray(base)
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data), False
    if kind == 1:  # truncated
        return base[:rng.randrange(len(base))], False
    if kind == 2:  # deep nesting
        depth = rng.choice([513, 600, 5000, 100000])
        return (b"[" * depth + b"]" * depth) if rng.random() < 0.5 else \
            b'{"jsonrpc":"2.0","id":"%s","method":"run/get","params":' % gid.encode() + b'{"a":' * depth + b"1" + b"}" * (depth + 1), False
    if kind == 3:  # invalid UTF-8 in a string, in a key, or bare
        junk = rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80\x80"])
        return rng.choice([base.replace(b"r-1", junk), b'{"jsonrpc":"2.0","id":"%s","method":"run/get","params":{"%s":1}}' % (gid.encode(), junk), junk * 10]), False
    if kind == 4:  # huge numbers
        number = rng.choice([b"1e999999", b"-1e400", b"9" * 5000, b"0." + b"0" * 4000 + b"1", b"1" + b"0" * 400])
        return b'{"jsonrpc":"2.0","id":"%s","method":"run/events","params":{"runId":"r-1","afterSeq":%s}}' % (gid.encode(), number), False
    if kind == 5 and rng.random() < 0.02:  # huge strings (rare: each is a megabyte on the pipe)
        return huge(gid, rng.choice(HUGE_SIZES) * max_bytes // 1024), False
    if kind == 5:
        return b'{"jsonrpc":"2.0","id":"%s","method":"run/get","params":{"runId":"%s"}}' % (gid.encode(), b"y" * rng.randrange(100_000)), False
    if kind == 6:  # not requests
        return rng.choice([b"[]", b"[1,2]", b"42", b'"str"', b"null", b"{}", b'{"jsonrpc":"1.0","id":"%s"}' % gid.encode(),
                           b'{"jsonrpc":"2.0","id":{"a":1},"method":"run/get"}', b'{"jsonrpc":"2.0","result":1,"id":"%s"}' % gid.encode(),
                           b'[{"jsonrpc":"2.0","id":"%s","method":"inbox/list"}, 5]' % gid.encode()]), False
    if kind == 7:  # lone surrogates and control characters
        return rng.choice([base.replace(b"r-1", b"\\ud800"), base.replace(b"r-1", b"\x01\x02"), base.replace(b"r-1", b"\\u00")]), False
    if kind == 8:  # duplicate keys, trailing garbage, comments
        return rng.choice([base + b"}", base + b" x", b"/*c*/" + base, base.replace(b'"jsonrpc"', b'"id":1,"jsonrpc"', 1)
                           .replace(b'"id":1,', b'"id":"%s",' % gid.encode())]), False
    # kinds 9…13: LSP-only header trouble (sent as plain garbage bodies in NDJSON)
    return base, kind >= 12


def frame_lsp(rng, body, kind_hint):
    if kind_hint == "bad-header":
        return rng.choice([b"Content-Type: x\r\n\r\n", b"Content-Length: -5\r\n\r\n", b"Content-Length: abc\r\n\r\n",
                           b"NoColonHere\r\n\r\n", b"X-Long: " + b"h" * 9000 + b"\r\n\r\n",
                           b"Content-Length: 99999999999999999999999\r\n\r\n"])
    if kind_hint == "short":
        return b"Content-Length: %d\r\n\r\n" % max(0, len(body) - rng.randrange(1, 20)) + body
    if kind_hint == "long":
        return b"Content-Length: %d\r\n\r\n" % (len(body) + rng.randrange(1, 40)) + body
    header = b"Content-Length: %d\r\n" % len(body)
    if rng.random() < 0.05:
        header = rng.choice([b"content-length:%d\r\n" % len(body), b"Content-Type: application/json\r\n" + header,
                             header + b"X-Extra: 1\r\n", b"CONTENT-LENGTH:   %d   \r\n" % len(body)])
    return header + b"\r\n" + body


JUNK_NOTIFICATION = json.dumps({"jsonrpc": "2.0", "method": "$/fuzz/resync", "params": {"pad": "p" * 80}}).encode()


class Session:
    """One server and one framing; a writer thread sends, this thread's reader counts answers."""

    def __init__(self, drover, workspace, framing, seed, count, max_bytes):
        self.rng = random.Random(seed)
        self.framing = framing
        self.count = count
        self.max_bytes = max_bytes
        self.stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen([drover, "serve", "--max-message-bytes", str(max_bytes)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                        cwd=workspace.path, env=workspace.env(), bufsize=0)
        self.answers = {}
        self.unknown_ids = []
        self.other_answers = 0
        self.sent_tracked = 0
        self.lock = threading.Condition()  # guards `answers` and `other_answers`; notified per answer
        self.workspace = workspace
        self.engine_pid = None
        self.rss = []  # at idle points: (messages sent, engine KiB, proxy KiB)
        self.busy_rss = []  # engine KiB just before each idle point, requests in flight

    def frame(self, body, hint=None):
        if self.framing == "lsp":
            return frame_lsp(self.rng, body, hint)
        return body.replace(b"\n", b" ") + (b"\r\n" if self.rng.random() < 0.05 else b"\n")

    def messages(self):
        """Yields (bytes, tracked ids) until `count` messages are made."""
        init = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                           "params": {"protocolVersion": 1, "capabilities": {"logs": False}}}).encode()
        yield self.frame(init), [0]
        for size in HUGE_SIZES:
            yield self.frame(huge("warm-up", size * self.max_bytes // 1024)), []
        next_id = 1
        for n in range(self.count):
            roll = self.rng.random()
            if roll < 0.55:
                ids = []
                if self.rng.random() < 0.05:
                    batch = []
                    for _ in range(self.rng.randrange(1, 6)):
                        if self.rng.random() < 0.8:
                            batch.append(tracked_request(self.rng, next_id))
                            ids.append(next_id)
                            next_id += 1
                        else:
                            batch.append({"jsonrpc": "2.0", "method": "$/fuzz/note", "params": random_value(self.rng)})
                    body = json.dumps(batch).encode()
                else:
                    body = json.dumps(tracked_request(self.rng, next_id)).encode()
                    ids = [next_id]
                    next_id += 1
                yield self.frame(body), ids
            elif roll < 0.60:
                yield self.frame(json.dumps({"jsonrpc": "2.0", "method": self.rng.choice(METHODS),
                                             "params": random_value(self.rng)}).encode()), []
            else:
                body, desync = garbage(self.rng, self.max_bytes)
                if self.framing == "lsp":
                    kind = self.rng.randrange(20)
                    hint = "bad-header" if kind == 0 else ("short" if kind == 1 else ("long" if kind == 2 else None))
                    data = self.frame(body, hint)
                    if hint in ("short", "long"):
                        # What follows a wrongly sized frame is eaten or read as a header: pad with two junk
                        # frames longer than the error, so the parser is back in step before the next tracked one.
                        data += b"".join(frame_lsp(self.rng, JUNK_NOTIFICATION, None) for _ in range(2))
                    yield data, []
                else:
                    yield self.frame(body), []
        self.last_id = next_id

    def read_answers(self):
        buffer = b""
        fd = self.process.stdout.fileno()
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return
            buffer += chunk
            for body in self.split(buffer_holder := [buffer]):
                self.account(json.loads(body))
            buffer = buffer_holder[0]

    def split(self, holder):
        buffer = holder[0]
        bodies = []
        if self.framing == "ndjson":
            *lines, rest = buffer.split(b"\n")
            bodies = [line for line in lines if line.strip()]
            holder[0] = rest
            return bodies
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            length = int(buffer[:end].split(b":", 1)[1])
            if len(buffer) < end + 4 + length:
                break
            bodies.append(buffer[end + 4:end + 4 + length])
            buffer = buffer[end + 4 + length:]
        holder[0] = buffer
        return bodies

    def account(self, message):
        for answer in message if isinstance(message, list) else [message]:
            if "method" in answer:
                continue
            answer_id = answer.get("id")
            with self.lock:
                if isinstance(answer_id, int) and not isinstance(answer_id, bool):
                    self.answers[answer_id] = self.answers.get(answer_id, 0) + 1
                    self.lock.notify_all()
                else:
                    self.other_answers += 1

    def wait_answered(self, tracked, timeout=60):
        """Waits until every tracked request sent so far is answered; the ids never answered (after `timeout`)."""
        with self.lock:
            if self.lock.wait_for(lambda: len(self.answers) >= len(tracked), timeout):
                return []
            return [i for i in tracked if i not in self.answers]

    def run(self):
        reader = threading.Thread(target=self.read_answers, daemon=True)
        reader.start()
        tracked = []
        sent = 0
        try:
            for data, ids in self.messages():
                self.process.stdin.write(data)
                tracked += ids
                sent += 1
                if sent % max(1, self.count // 20) == 0:
                    # RSS at an idle point: every request so far answered, so what is measured is what the
                    # engine keeps, not the large messages it happens to hold at the moment (see RSS_GROWTH_BOUND_KIB).
                    self.sample_busy()
                    missing = self.wait_answered(tracked)
                    expect(not missing, "%s: %d tracked requests never answered, e.g. ids %s" % (self.framing, len(missing), missing[:5]))
                    self.sample(sent)
        except BrokenPipeError:
            raise Failed("%s: the server closed its input after %d messages (exit %s)" % (self.framing, sent, self.process.wait()))
        # Everything tracked answered (the answers may come in any order), then a truncated frame and EOF.
        missing = self.wait_answered(tracked)
        self.sample(sent)
        tail = b"Content-Length: 100\r\n\r\n{\"jsonrpc\":" if self.framing == "lsp" else b'{"jsonrpc":"2.0","id":'
        try:
            self.process.stdin.write(tail)
            self.process.stdin.close()
        except BrokenPipeError:
            pass
        try:
            status = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise Failed("%s: the server did not exit at end of input" % self.framing)
        reader.join(5)
        self.stderr.seek(0)
        stderr = self.stderr.read()
        expect(status >= 0, "%s: the server died of signal %d" % (self.framing, -status))
        expect(b"Fatal error" not in stderr and b"Segmentation" not in stderr,
               "%s: crash report on stderr: %s" % (self.framing, stderr[-500:]))
        expect(not missing, "%s: %d tracked requests never answered, e.g. ids %s" % (self.framing, len(missing), missing[:5]))
        twice = [i for i, n in self.answers.items() if n > 1]
        expect(not twice, "%s: requests answered more than once: %s" % (self.framing, twice[:5]))
        sent_ids = set(tracked)  # once: built per answer, it took ~30 s of each long session
        unknown = [i for i in self.answers if i not in sent_ids]
        expect(not unknown, "%s: answers to ids never sent: %s" % (self.framing, unknown[:5]))
        return {"framing": self.framing, "messages": sent - 1, "tracked": len(tracked), "status": status,
                "rss": self.rss, "busy_rss": self.busy_rss, "other_answers": self.other_answers}

    def sample(self, sent):
        """RSS of the engine (found from the workspace's lock once `initialize` has attached) and of the proxy."""
        if self.engine_pid is None and 0 in self.answers:
            self.engine_pid = self.workspace.store_owner_pid()
        self.rss.append((sent, rss_kib(self.engine_pid) if self.engine_pid else 0, rss_kib(self.process.pid)))

    def sample_busy(self):
        """The engine's RSS while requests are in flight (printed, not bounded: it holds the messages it works on)."""
        if self.engine_pid:
            self.busy_rss.append(rss_kib(self.engine_pid))


def rss_growth(samples, column):
    """KiB grown after the first quarter of a session's samples (its warm-up), at most."""
    values = [sample[column] for sample in samples if sample[column]]
    if len(values) < 4:
        return 0
    baseline = values[len(values) // 4]
    return max(values[len(values) // 4:]) - baseline


def curve(samples, column):
    return " ".join("%.0f" % (sample[column] / 1024) for sample in samples)


def run(drover, profile, seed):
    total = {"short": 20_000, "default": 200_000, "long": 1_000_000}[profile]
    sessions = {"short": 2, "default": 4, "long": 10}[profile]
    release_growth, release_peak, release_seconds = large_messages_released(drover, {"short": 4, "default": 6, "long": 10}[profile])
    workspace = Workspace(prefix="drover-fuzz-")
    try:
        started = time.monotonic()
        results = []
        for index in range(sessions):
            framing = "lsp" if index % 2 == 0 else "ndjson"
            session = Session(drover, workspace, framing, seed * 1000 + index, total // sessions, 1 << 20)
            results.append(session.run())
        elapsed = time.monotonic() - started
        figures = {}
        for index, r in enumerate(results):
            figures["session %d (%s) RSS MB, engine" % (index + 1, r["framing"])] = curve(r["rss"], 1)
            figures["session %d (%s) RSS MB, drover serve" % (index + 1, r["framing"])] = curve(r["rss"], 2)
        in_flight = max(max(r["busy_rss"] or [0]) - min(sample[1] for sample in r["rss"] if sample[1]) for r in results)
        growth = {"engine": max(rss_growth(r["rss"], 1) for r in results),
                  "drover serve": max(rss_growth(r["rss"], 2) for r in results)}
        # One engine serves every session: at each session's end (idle) it may hold at most the bound more than
        # after the first. Without LargeMessageRelease and MessageParser.handOver it crept up across sessions
        # while each session's own growth stayed small (seed 1130: 46 MB after the first, 57 after the fourth).
        ends = [r["rss"][-1][1] for r in results]
        across = max(ends[1:] or [ends[0]]) - ends[0]
        expect(across <= RSS_GROWTH_BOUND_KIB, "engine RSS at the end of a session grew %.1f MB over the first session's end (bound %.0f MB): %s" % (
            across / 1024, RSS_GROWTH_BOUND_KIB / 1024, " ".join("%.0f" % (end / 1024) for end in ends)))
        for name, kib in growth.items():
            expect(kib <= RSS_GROWTH_BOUND_KIB, "%s RSS grew %.1f MB after a session's first quarter (bound %.0f MB); curves: %s" % (
                name, kib / 1024, RSS_GROWTH_BOUND_KIB / 1024, "; ".join("%s: %s" % item for item in figures.items())))
        messages = sum(r["messages"] for r in results)
        return {"messages": messages, "tracked requests answered once": sum(r["tracked"] for r in results),
                "crashes": 0, "sessions": "%d (lsp+ndjson)" % sessions,
                "RSS growth after a session's first quarter (max)": "engine %.1f MB, drover serve %.1f MB (bound %.0f MB)" % (
                    growth["engine"] / 1024, growth["drover serve"] / 1024, RSS_GROWTH_BOUND_KIB / 1024),
                "engine RSS at each session's end, MB": "%s (at most %.1f MB over the first's; bound %.0f MB)" % (
                    " ".join("%.0f" % (end / 1024) for end in ends), across / 1024, RSS_GROWTH_BOUND_KIB / 1024),
                "engine RSS with requests in flight (max over a session's idle floor)": "%.1f MB (not bounded)" % (in_flight / 1024),
                "large messages: engine RSS after each burst (idle), KiB over the first": "%s (bound %d KiB; %d requests a burst, %.1f s)" % (
                    " ".join(map(str, release_growth)), RELEASE_BOUND_KIB, RELEASE_BURST, release_seconds),
                "large messages: engine peak RSS during the later bursts over the first's level": "%.1f MB (bound %.0f MB)" % (
                    release_peak / 1024, RELEASE_PEAK_BOUND_KIB / 1024),
                **figures,
                "rate": "%.0f msg/s" % (messages / elapsed)}
    finally:
        workspace.cleanup(drover)
