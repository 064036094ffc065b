#!/usr/bin/env python3
"""The reliability suite: every part against the real `drover serve` over pipes, with figures.

    python3 Tests/Reliability/run.py [--short | --long] [--seed N] [--only soak,fuzz,...] [--drover PATH]

Parts (see each module's docstring):
  soak      kill -9 of the store's owner at seeded random moments while runs with a gate go on
  fuzz      mutated JSON-RPC over both framings: no crash, every request answered exactly once, flat RSS
  agents    a flooding agent, hanging, forking, closing stdout, invalid UTF-8, one huge line, exit mid-output
  bigstore  10,000 runs: run/list and inbox/list p50, initialize against an empty store
  disk      the store's volume full, also mid-step (a 4 MiB tmpfs; root only, skipped otherwise)

Profiles: --short (CI, a few minutes on 2 cores), the default, --long (the figures of issue 17:
1,000,000 fuzz messages, a 1 GB flood, 1,000,000 events). The same --seed replays the same kills and
messages. Binary: --drover, else $DROVER_BIN, else .build/release/drover, else .build/debug/drover.
After the parts, a last check fails the suite if an engine of any of its workspaces is still running.
Last line: `reliability: N passed, M failed`. Stdlib only; Linux only (reads /proc).
"""
import argparse
import os
import signal
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import agents  # noqa: E402
import bigstore  # noqa: E402
import disk  # noqa: E402
import fuzz  # noqa: E402
import soak  # noqa: E402
from client import CREATED_WORKSPACES, default_drover, engine_pids  # noqa: E402

PARTS = {"soak": soak, "fuzz": fuzz, "agents": agents, "bigstore": bigstore, "disk": disk}
# `disk` mounts a tmpfs: as root only (it says "skipped" otherwise).
SHORT_PARTS = ["soak", "fuzz", "agents", "bigstore", "disk"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    profile = parser.add_mutually_exclusive_group()
    profile.add_argument("--short", action="store_const", dest="profile", const="short")
    profile.add_argument("--long", action="store_const", dest="profile", const="long")
    parser.add_argument("--seed", type=int, default=None, help="replays a run (default: the time)")
    parser.add_argument("--only", default=None, help="comma-separated parts (default: all)")
    parser.add_argument("--drover", default=None)
    args = parser.parse_args()
    profile = args.profile or "default"
    seed = args.seed if args.seed is not None else int(time.time()) % 100000
    drover = os.path.abspath(args.drover) if args.drover else default_drover()
    args.only = args.only or ",".join(SHORT_PARTS if profile == "short" else PARTS)
    unknown = [name for name in args.only.split(",") if name not in PARTS]
    if unknown:
        parser.error("--only: no part named %s; the parts are %s" % (", ".join(map(repr, unknown)), ", ".join(PARTS)))
    print("reliability suite: profile %s, seed %d, %s" % (profile, seed, drover), flush=True)
    passed = failed = 0
    for name in args.only.split(","):
        started = time.monotonic()
        try:
            figures = PARTS[name].run(drover, profile, seed)
        except Exception as error:  # a failed expectation or a broken part: reported, the others still run
            failed += 1
            print("FAIL %s (%.1f s): %s" % (name, time.monotonic() - started, error), flush=True)
            if not isinstance(error, AssertionError) and type(error).__name__ != "Failed":
                traceback.print_exc()
            continue
        passed += 1
        print("ok   %s (%.1f s)" % (name, time.monotonic() - started))
        for key, value in figures.items():
            print("       %-44s %s" % (key, value), flush=True)
    # Last check: every part stopped every engine it started (one left idles on for minutes).
    left = {path: engine_pids(path) for path in CREATED_WORKSPACES}
    left = {path: pids for path, pids in left.items() if pids}
    if left:
        failed += 1
        for path, pids in sorted(left.items()):
            print("FAIL engines left: workspace %s still has engine pid %s" % (path, ", ".join(map(str, pids))), flush=True)
            for pid in pids:  # the suite leaves nothing running, even when it fails
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
    else:
        print("ok   engines left: none of %d workspaces" % len(CREATED_WORKSPACES))
    print("replay with: python3 Tests/Reliability/run.py%s --seed %d --only %s" % (
        {"short": " --short", "long": " --long"}.get(profile, ""), seed, args.only))
    print("reliability: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
