#!/usr/bin/env python3
"""What a test run left behind: the last check of Tests/run-all.sh.

    python3 Tests/leftovers.py --tmpdir DIR [--wait SECONDS] [--kill] [--after PART]

run-all.sh runs every suite with TMPDIR set to a fresh private folder DIR, so everything the suites
start carries TMPDIR=DIR (or a folder under it) in its environment and everything they create lands
under DIR. This lists
  - processes still alive that the run started: engines, agents, servers, editors (their environment's
    TMPDIR, or their working directory, is under DIR), after giving them --wait seconds to exit on their
    own (an engine exits once it has been idle for DROVER_ENGINE_IDLE_TIMEOUT);
  - what is left in DIR, except what the Swift toolchain leaves in any TMPDIR it runs in (swift-driver's
    `TemporaryDirectory.*` holding only `.keep-directory`, SwiftPM's `*.lock` files) and the engines'
    socket folder `drover-<uid>` while it is empty.
Exit status 1 when anything is left (each named), else 0. --kill SIGKILLs the processes found (the
suite leaves nothing running, even when it fails). It never removes files: run-all.sh removes DIR.
Stdlib only; Linux only (reads /proc).
"""
import argparse
import os
import signal
import sys
import time


def is_under(path, root):
    return path == root or path.startswith(root + "/")


def ancestors():
    """This process and every process above it (run-all.sh, which carries the same TMPDIR)."""
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            with open("/proc/%d/stat" % pid) as stat:
                pid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            break
    return pids


def started_by_run(root):
    """{pid: command line} of live processes (not zombies) whose TMPDIR or working directory is under root."""
    found, skip = {}, ancestors()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in skip:
            continue
        pid = int(name)
        try:
            with open("/proc/%d/stat" % pid) as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
            with open("/proc/%d/environ" % pid, "rb") as environ:
                entries = environ.read().split(b"\0")
            tmpdir = next((e[7:].decode(errors="replace") for e in entries if e.startswith(b"TMPDIR=")), "")
            try:
                cwd = os.readlink("/proc/%d/cwd" % pid)
            except OSError:
                cwd = ""
            if not (is_under(tmpdir.rstrip("/"), root) or is_under(cwd, root)):
                continue
            with open("/proc/%d/cmdline" % pid, "rb") as cmdline:
                found[pid] = cmdline.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def kind(command):
    words = command.split()
    if " engine " in " %s " % command and words and words[0].endswith("drover"):
        return "engine"
    if "agent-fake" in words or any(w.endswith(("fake_anthropic.py", "fake_openai_responses.py", "scripted_server.py")) for w in words):
        return "agent"
    return "process"


def toolchain_leftover(root, name):
    """What the Swift toolchain leaves in every TMPDIR it runs in (`swift test` runs swiftc): not the suites'."""
    path = os.path.join(root, name)
    if name.startswith("TemporaryDirectory.") and os.path.isdir(path):
        return os.listdir(path) in ([], [".keep-directory"])
    return name.endswith(".lock") and os.path.isfile(path) and os.path.getsize(path) == 0


def describe(path, limit=5):
    """A folder's first few entries, so a leftover says where it came from."""
    if not os.path.isdir(path) or os.path.islink(path):
        return ""
    entries = []
    for folder, subfolders, files in os.walk(path):
        subfolders.sort()
        for entry in sorted(files) + [d + "/" for d in subfolders]:
            entries.append(os.path.relpath(os.path.join(folder, entry), path))
        if len(entries) >= limit:
            break
    return " (holds %s%s)" % (", ".join(entries[:limit]), ", ..." if len(entries) > limit else "") if entries else " (empty)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tmpdir", required=True, help="the TMPDIR the run was given")
    parser.add_argument("--wait", type=float, default=10.0, help="seconds processes get to exit on their own")
    parser.add_argument("--kill", action="store_true", help="SIGKILL the processes left")
    parser.add_argument("--after", default=None, help="the part of the run that just ended, named in the report")
    args = parser.parse_args()
    root = os.path.realpath(args.tmpdir)
    started = time.monotonic()
    deadline = started + args.wait
    left = started_by_run(root)
    waited_for = len(left)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)  # polling interval: engines exit on their idle timeout
        left = started_by_run(root)
    problems = 0
    for pid, command in sorted(left.items()):
        problems += 1
        print("LEFT %s pid %d: %s" % (kind(command), pid, command), flush=True)
        if args.kill:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    toolchain = 0
    uid_folder = "drover-%d" % os.geteuid()
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if toolchain_leftover(root, name):
            toolchain += 1
        elif name == uid_folder and os.path.isdir(path) and not os.listdir(path):
            pass  # the engines' socket folder, empty: every engine removed its socket
        else:
            problems += 1
            print("LEFT file %s%s" % (path, describe(path)), flush=True)
    note = "; %d process(es) exited within %.1f s" % (waited_for, time.monotonic() - started) if waited_for and not left else ""
    toolchain_note = "; ignored %d entries the Swift toolchain leaves" % toolchain if toolchain else ""
    label = "leftovers after %s" % args.after if args.after else "leftovers"
    if problems:
        print("%s: %d (above) in %s%s" % (label, problems, root, toolchain_note), flush=True)
        sys.exit(1)
    print("%s: none (no process, no file left in %s%s%s)" % (label, root, note, toolchain_note), flush=True)


if __name__ == "__main__":
    main()
