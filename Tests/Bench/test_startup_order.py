#!/usr/bin/env python3
"""Checks the start-up layout of release builds (Package.swift, Tests/Bench/startup_order.py):
the generator reads callgrind's output right, the list in Sources/drover/startup.order is one the linker
can use, and a list gone stale still links, quietly. Stdlib only; needs the Swift toolchain (swiftc, lld).

    python3 Tests/Bench/test_startup_order.py
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import startup_order  # noqa: E402

CALLGRIND_SAMPLE = """\
fl=(1) ???
fn=(1) (below main)
cfn=(2) _start
calls=1 0x401000 0
fn=(3) drover_main
cfn=(4) $s12DroverServer10ServeProxyO3run
cfn=(5) swift_release'2
fn=(4)
cfn=(3)
fn=(6) 0x0000000000abcdef
cfn=(7) swift_release
fn=(8) _ZN5swift9RefCountsINS_13RefCountBitsTILNS_19RefCountInlinednessE1EEEE15doDecrementSlow'3
"""


def test_callgrind_names():
    """Every function callgrind names, once, without its recursion depth; nothing without a symbol."""
    with tempfile.NamedTemporaryFile("w", suffix=".callgrind", delete=False) as sample:
        sample.write(CALLGRIND_SAMPLE)
    try:
        names = startup_order.functions_run(sample.name)
    finally:
        os.unlink(sample.name)
    assert names == ["_start", "drover_main", "$s12DroverServer10ServeProxyO3run", "swift_release",
                     "_ZN5swift9RefCountsINS_13RefCountBitsTILNS_19RefCountInlinednessE1EEEE15doDecrementSlow"], names


def test_committed_list():
    """The committed list is the generator's format and covers serve's path, code and data (a generator
    that wrote nothing, or the wrong binary's names, would show here)."""
    with open(os.path.join(ROOT, "Sources/drover/startup.order")) as f:
        lines = f.read().splitlines()
    assert lines[0] == startup_order.HEADER.rstrip("\n"), lines[0]
    names = lines[1:]
    assert len(names) == len(set(names)), "a name twice: regenerate with Tests/Bench/startup_order.py"
    assert all(name and not re.search(r"\s", name) for name in names), "a blank line or a name with spaces"
    # The entry, main, and main.swift's `arguments` (a variable).
    for needed in ["_start", "drover_main", "$s6drover9argumentsSaySSGvp"]:
        assert needed in names, needed
    assert any(name.startswith("$s12DroverServer10ServeProxyO3run") for name in names), "serve's path is missing"


def test_stale_list_links_quietly():
    """Package.swift's linker flags with a list naming a function that no longer exists: the link
    succeeds and says nothing about it (a stale list costs speed, never a build)."""
    with open(os.path.join(ROOT, "Package.swift")) as f:
        manifest = f.read()
    block = re.search(r"let startupOrder = .*?\]", manifest, re.S).group(0)
    flags = re.findall(r'"([^"]+)"', block)
    assert flags[0] == "-use-ld=lld" and "--no-warn-symbol-ordering" in flags, flags
    swiftc = shutil.which("swiftc") or "/opt/swift/usr/bin/swiftc"
    work = tempfile.mkdtemp(prefix="drover-startup-order-test-")
    try:
        order = os.path.join(work, "startup.order")
        with open(order, "w") as f:
            f.write(startup_order.HEADER + "$s4main13goneFunctionyyF\nmain\n")
        source = os.path.join(work, "main.swift")
        with open(source, "w") as f:
            f.write('print("ordered")\n')
        linker = [f if not f.startswith("--symbol-ordering-file=") else "--symbol-ordering-file=" + order for f in flags]
        binary = os.path.join(work, "main")
        result = subprocess.run([swiftc, source, "-o", binary] + linker, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        assert "goneFunction" not in result.stdout + result.stderr, result.stderr
        assert subprocess.run([binary], capture_output=True, text=True).stdout == "ordered\n"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    tests = [test_callgrind_names, test_committed_list, test_stale_list_links_quietly]
    failed = 0
    for test in tests:
        try:
            test()
            print("ok   " + test.__name__)
        except AssertionError as error:
            failed += 1
            print("FAIL %s: %s" % (test.__name__, error))
    print("startup: %d passed, %d failed" % (len(tests) - failed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
