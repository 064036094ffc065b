#!/usr/bin/env python3
"""Transport benchmark of issue 2: drover serve vs clangd vs a minimal pygls server.

Measures, per server, over stdio with LSP framing:
  * cold initialize: wall time from spawn to the complete `initialize` response,
    median of --runs fresh processes (after one untimed warm-up spawn);
  * requests/second for an unknown method (the MethodNotFound path), one at a
    time and with --window requests in flight; median of 3 rounds.

The client logic is ../shared/bench/lsp_bench.py's (copied below, unchanged in
behaviour, so the script runs from a clean clone whatever shared/ holds).

Usage (from the package root):
  swift build -c release --static-swift-stdlib -Xswiftc -static-executable --disable-default-traits --product drover
  python3 Tests/Bench/transport_bench.py            # all three servers, one table
  python3 Tests/Bench/transport_bench.py --servers drover --requests 5000

clangd: /opt/swift/usr/bin/clangd or `clangd` on PATH (apt install clangd).
pygls:  an interpreter that can `import pygls` (pip install pygls); --python picks it.
A server that cannot be found is reported as skipped. Stdlib only.
"""
import argparse, json, os, select, shutil, statistics, subprocess, sys, tempfile, time

# How long any one answer may take before the benchmark gives up with an error (never a silent hang).
ANSWER_TIMEOUT_SECONDS = 30

# ---- client: from ../shared/bench/lsp_bench.py ---------------------------------


class Conn:
    def __init__(self, proc):
        self.p = proc
        self.wfd = proc.stdin.fileno()
        self.rfd = proc.stdout.fileno()
        self.buf = bytearray()

    def send(self, obj):
        body = json.dumps(obj, separators=(",", ":")).encode()
        data = b"Content-Length: %d\r\n\r\n" % len(body) + body
        view = memoryview(data)
        while view:
            n = os.write(self.wfd, view)
            view = view[n:]

    def _fill(self):
        ready, _, _ = select.select([self.rfd], [], [], ANSWER_TIMEOUT_SECONDS)
        if not ready:
            raise TimeoutError("%s did not answer within %d s" % (" ".join(self.p.args), ANSWER_TIMEOUT_SECONDS))
        chunk = os.read(self.rfd, 1 << 16)
        if not chunk:
            raise EOFError("%s closed stdout (exit status %s)" % (" ".join(self.p.args), self.p.poll()))
        self.buf += chunk

    def recv(self):
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                length = None
                for line in bytes(self.buf[:end]).split(b"\r\n"):
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        length = int(v.strip())
                if length is None:
                    raise ValueError("missing Content-Length")
                total = end + 4 + length
                while len(self.buf) < total:
                    self._fill()
                body = bytes(self.buf[end + 4:total])
                del self.buf[:total]
                return json.loads(body)
            self._fill()

    def recv_response(self, want_id=None):
        """Return the next response (skipping notifications / server->client requests)."""
        while True:
            msg = self.recv()
            if "id" in msg and "method" in msg:  # server->client request: answer null
                self.send({"jsonrpc": "2.0", "id": msg["id"], "result": None})
                continue
            if "id" not in msg:  # notification (logMessage etc.)
                continue
            if want_id is None or msg["id"] == want_id:
                return msg


INIT_PARAMS = {"processId": None, "rootUri": None, "capabilities": {},
               "clientInfo": {"name": "lsp_bench"}, "trace": "off"}


def spawn(cmd, cwd):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, bufsize=0, cwd=cwd)
    c = Conn(p)
    try:
        c.send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INIT_PARAMS})
        resp = c.recv_response(0)
    except BaseException:
        p.kill()
        p.wait()
        raise
    t1 = time.perf_counter()
    if "result" not in resp:
        p.kill()
        p.wait()
        raise RuntimeError("%s answered initialize with an error: %s" % (" ".join(cmd), resp.get("error")))
    c.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    return c, (t1 - t0) * 1000.0


def shutdown(c):
    try:
        c.send({"jsonrpc": "2.0", "id": "shutdown", "method": "shutdown", "params": None})
        c.recv_response("shutdown")
        c.send({"jsonrpc": "2.0", "method": "exit", "params": None})
        c.p.wait(timeout=10)
    except Exception:
        c.p.kill()
        c.p.wait()


def bench_requests(c, method, n, window):
    params = {"text": "hello", "n": 42}
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        c.send({"jsonrpc": "2.0", "id": i, "method": method, "params": params})
        r = c.recv_response(i)
        assert "error" in r, r
    seq = n / (time.perf_counter() - t0)
    base = n + 1
    sent = done = 0
    t0 = time.perf_counter()
    while done < n:
        while sent < n and sent - done < window:
            c.send({"jsonrpc": "2.0", "id": base + sent, "method": method, "params": params})
            sent += 1
        c.recv_response()
        done += 1
    pipe = n / (time.perf_counter() - t0)
    return seq, pipe


def measure(cmd, runs, requests, window, method, cwd):
    c, _ = spawn(cmd, cwd)  # untimed warm-up (page cache, .pyc files)
    shutdown(c)
    inits = []
    for _ in range(runs):
        c, ms = spawn(cmd, cwd)
        inits.append(ms)
        shutdown(c)
    out = {"init_ms_median": statistics.median(inits), "init_ms_min": min(inits), "init_ms_max": max(inits)}
    c, _ = spawn(cmd, cwd)
    bench_requests(c, method, min(200, requests), window)  # warm-up
    seqs, pipes = [], []
    for _ in range(3):
        s, p = bench_requests(c, method, requests, window)
        seqs.append(s)
        pipes.append(p)
    shutdown(c)
    out.update(seq_rps=statistics.median(seqs), pipe_rps=statistics.median(pipes))
    return out


# ---- servers --------------------------------------------------------------------

PYGLS_SERVER = '''
from pygls.lsp.server import LanguageServer
LanguageServer("pygls-bench", "1.0").start_io()
'''


def package_root():
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def drover_command(args):
    binary = args.drover or os.path.join(package_root(), ".build", "release", "drover")
    if not os.access(binary, os.X_OK):
        if args.drover:
            return None, f"{binary} is not executable"
        print("building drover (release)…", file=sys.stderr)
        subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib", "-Xswiftc", "-static-executable", "--disable-default-traits", "--product", "drover"], cwd=package_root(), check=True)
    return [binary, "serve"], None


def clangd_command(args):
    for candidate in [args.clangd, "/opt/swift/usr/bin/clangd", shutil.which("clangd")]:
        if candidate and os.access(candidate, os.X_OK):
            return [candidate], None
    return None, "clangd not found (apt install clangd)"


def pygls_command(args, tmp):
    python = args.python or sys.executable
    probe = subprocess.run([python, "-c", "import pygls"], capture_output=True)
    if probe.returncode != 0:
        return None, f"{python} cannot import pygls (pip install pygls; or --python)"
    path = os.path.join(tmp, "pygls_server.py")
    with open(path, "w") as f:
        f.write(PYGLS_SERVER)
    return [python, path], None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10, help="fresh processes for the cold initialize median")
    ap.add_argument("--requests", type=int, default=2000, help="requests per throughput round")
    ap.add_argument("--window", type=int, default=64, help="requests in flight when pipelined")
    ap.add_argument("--method", default="bench/nonexistent", help="an unknown method (MethodNotFound path)")
    ap.add_argument("--servers", default="drover,clangd,pygls")
    ap.add_argument("--drover", help="drover binary (default .build/release/drover, built if missing)")
    ap.add_argument("--clangd", help="clangd binary")
    ap.add_argument("--python", help="interpreter with pygls installed (default: this one)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = ap.parse_args()

    results = {}
    with tempfile.TemporaryDirectory(prefix="drover-bench-") as tmp:
        workdir = os.path.join(tmp, "workspace")
        os.mkdir(workdir)
        for name in args.servers.split(","):
            if name == "drover":
                cmd, why = drover_command(args)
            elif name == "clangd":
                cmd, why = clangd_command(args)
            elif name == "pygls":
                cmd, why = pygls_command(args, tmp)
            else:
                ap.error(f"unknown server {name}")
            if cmd is None:
                print(f"skipping {name}: {why}", file=sys.stderr)
                continue
            print(f"measuring {name}: {' '.join(cmd)}", file=sys.stderr)
            results[name] = measure(cmd, args.runs, args.requests, args.window, args.method, workdir)

    base = results.get("clangd")

    def ratio(value, key, higher_is_better):
        if not base:
            return ""
        r = value / base[key]
        return f" ({r:.2f}×)"

    print(f"\nstdio, LSP framing; cold init = median of {args.runs} fresh spawns; "
          f"{args.requests} × '{args.method}' per round, median of 3; ratios vs clangd\n")
    print("| server | cold initialize (ms) | sequential req/s | pipelined req/s (window %d) |" % args.window)
    print("|---|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['init_ms_median']:.1f}{ratio(r['init_ms_median'], 'init_ms_median', False)} "
              f"| {r['seq_rps']:,.0f}{ratio(r['seq_rps'], 'seq_rps', True)} "
              f"| {r['pipe_rps']:,.0f}{ratio(r['pipe_rps'], 'pipe_rps', True)} |")
    if base and "drover" in results:
        d = results["drover"]
        print(f"\ntargets: cold initialize no slower than clangd: "
              f"{'met' if d['init_ms_median'] <= base['init_ms_median'] else 'NOT met'}; "
              f"pipelined throughput at least clangd's: {'met' if d['pipe_rps'] >= base['pipe_rps'] else 'NOT met'}")
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
