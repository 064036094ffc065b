#!/usr/bin/env python3
"""Server-bound pipelined throughput: write N unknown-method requests at once, read every answer.

transport_bench.py keeps 64 requests in flight and is bound by its own Python client (both drover
and clangd saturate it); this driver writes all requests from one thread while another only counts
answers, so the server is the bottleneck. Stdlib only.

Usage (from the package root, after a release build):
  python3 Tests/Bench/bulk_pipeline.py [--requests 200000] -- .build/release/drover serve
  python3 Tests/Bench/bulk_pipeline.py -- /opt/swift/usr/bin/clangd
"""
import argparse, json, os, shutil, subprocess, tempfile, threading, time


def frame(message):
    body = json.dumps(message, separators=(",", ":")).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def pipelined(command, count, workspace):
    """Seconds from writing the first of `count` requests to reading the last answer."""
    env = dict(os.environ, DROVER_CONFIG_DIR=os.path.join(workspace, "config"))
    server = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, cwd=workspace, env=env)
    try:
        initialize = frame({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                            "params": {"rootUri": "file://" + workspace, "capabilities": {}}})
        requests = b"".join(frame({"jsonrpc": "2.0", "id": i + 1, "method": "bench/nonexistent"})
                            for i in range(count))
        server.stdin.write(initialize)
        server.stdin.flush()

        def write():
            server.stdin.write(requests)
            server.stdin.flush()

        start = time.perf_counter()
        threading.Thread(target=write, daemon=True).start()
        answers = 0
        marker = b"Content-Length"
        carry = b""  # the end of the previous read: a marker may be split across two reads
        while answers < count + 1:
            chunk = os.read(server.stdout.fileno(), 1 << 20)
            if not chunk:
                raise SystemExit("the server closed stdout after %d answers" % answers)
            window = carry + chunk
            answers += window.count(marker)
            carry = window[-(len(marker) - 1):]
        elapsed = time.perf_counter() - start
    finally:  # a server that stopped answering is not left running
        server.kill()
        server.wait()
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    if "/" in args.command[0]:
        args.command[0] = os.path.abspath(args.command[0])  # the server runs in a temporary workspace
    workspace = tempfile.mkdtemp(prefix="drover-bulk-")
    try:
        elapsed = pipelined(args.command, args.requests, workspace)
    finally:
        # drover serve started the workspace's engine, which would idle on in the removed folder.
        if os.path.basename(args.command[0]).startswith("drover"):
            subprocess.run([args.command[0], "engine", "stop", "--quiet", "--workspace", workspace], capture_output=True,
                           timeout=60)
        shutil.rmtree(workspace, ignore_errors=True)
    print("%s: %d requests in %.2f s = %.0f req/s" % (os.path.basename(args.command[0]), args.requests, elapsed,
                                                      args.requests / elapsed), flush=True)


if __name__ == "__main__":
    main()
