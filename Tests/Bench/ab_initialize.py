#!/usr/bin/env python3
"""Interleaved A/B of cold `initialize`: spawn → one LSP-framed initialize (rootUri of a temp dir)
→ the complete response, for each command in turn, --runs times; medians in ms.

Interleaving (A, B, C, A, B, C, …) spreads machine noise evenly over the commands.

Usage (from the package root):
  python3 Tests/Bench/ab_initialize.py --runs 60 \
      main=/work/main/.build/release/drover,serve branch=.build/release/drover,serve clangd=/opt/swift/usr/bin/clangd
A command is NAME=argv with commas between the arguments. Stdlib only.
"""
import argparse, json, os, shutil, statistics, subprocess, tempfile, time


def read_response(fd):
    buf = bytearray()
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            length = next(int(v) for k, _, v in (line.partition(b":") for line in bytes(buf[:end]).split(b"\r\n"))
                          if k.strip().lower() == b"content-length")
            while len(buf) < end + 4 + length:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    raise EOFError("server closed stdout")
                buf += chunk
            message = json.loads(bytes(buf[end + 4:end + 4 + length]))
            del buf[:end + 4 + length]
            if message.get("id") == 0 and "method" not in message:
                return message
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            raise EOFError("server closed stdout")
        buf += chunk


def cold_initialize(argv, root):
    body = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "processId": os.getpid(), "rootUri": "file://" + root, "capabilities": {},
        "clientInfo": {"name": "ab_initialize"}, "trace": "off"}}, separators=(",", ":")).encode()
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               bufsize=0, cwd=root)
    os.write(process.stdin.fileno(), b"Content-Length: %d\r\n\r\n" % len(body) + body)
    response = read_response(process.stdout.fileno())
    elapsed = (time.perf_counter() - started) * 1000.0
    assert "result" in response, response
    process.stdin.close()  # EOF: both servers exit
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("commands", nargs="+", help="NAME=argv,with,commas")
    args = parser.parse_args()
    commands = [(name, argv.split(",")) for name, _, argv in (c.partition("=") for c in args.commands)]
    roots = {name: tempfile.mkdtemp(prefix=f"ab-{name}-") for name, _ in commands}
    times = {name: [] for name, _ in commands}
    try:
        for name, argv in commands:  # untimed warm-up: page cache, workspace store
            cold_initialize(argv, roots[name])
        for _ in range(args.runs):
            for name, argv in commands:
                times[name].append(cold_initialize(argv, roots[name]))
    finally:
        for name, argv in commands:
            # A drover server started the workspace's engine, which would idle on in the removed folder.
            if os.path.basename(argv[0]).startswith("drover"):
                subprocess.run([argv[0], "engine", "stop", "--quiet", "--workspace", roots[name]], capture_output=True,
                               timeout=60)
            shutil.rmtree(roots[name], ignore_errors=True)
    print(f"cold initialize, {args.runs} interleaved spawns each (ms)")
    print(f"{'':10} {'median':>8} {'p25':>8} {'p75':>8} {'min':>8}")
    for name, _ in commands:
        values = sorted(times[name])
        q = statistics.quantiles(values, n=4)
        print(f"{name:10} {statistics.median(values):8.2f} {q[0]:8.2f} {q[2]:8.2f} {values[0]:8.2f}")


if __name__ == "__main__":
    main()
