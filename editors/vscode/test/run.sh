#!/usr/bin/env bash
# Runs the VS Code extension's whole test suite (node's built-in test runner, a fake `vscode`
# module, the real drover binary from $DROVER_BIN or PATH). Last line: "vscode: N passed, M failed".
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/.." || exit 2
export DROVER_BIN="${DROVER_BIN:-$(command -v drover || echo drover)}"
if ! command -v node >/dev/null; then
  echo "node is not installed" >&2
  echo "vscode: 0 passed, 1 failed"
  exit 2
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
echo "drover binary: $DROVER_BIN"
if ! command -v "$DROVER_BIN" >/dev/null 2>&1; then
  echo "warning: '$DROVER_BIN' is not an executable; set DROVER_BIN=/path/to/drover (most tests will fail)" >&2
fi
node --test --test-reporter=spec test/*.test.js 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# node's spec reporter ends with "ℹ pass N" / "ℹ fail M" lines.
passed=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$log" | tail -1)
failed=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$log" | tail -1)
if [ -z "$passed" ] || [ -z "$failed" ]; then
  echo "vscode: ${passed:-0} passed, $(( ${failed:-0} + 1 )) failed (the test runner printed no summary)"
  exit 2
fi
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # the runner failed outside any test (a file that does not load, say)
fi
skipped=$(sed -n 's/^ℹ skipped \([0-9]*\)$/\1/p' "$log" | tail -1)
[ "${skipped:-0}" -gt 0 ] && echo "($skipped skipped: see the ﹣ lines above for why)"
echo "vscode: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
