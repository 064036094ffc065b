#!/usr/bin/env bash
# Runs the drover.nvim tests: each test_*.lua file in its own headless Neovim (`nvim --headless
# -u NONE`), against the real `drover serve` of $DROVER_BIN (default: `drover` on PATH).
# Ends with one line `neovim: N passed, M failed`; exits non-zero if anything failed or broke.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
plugin="$(dirname "$here")"

DROVER_BIN="${DROVER_BIN:-$(command -v drover || true)}"
if [ -z "$DROVER_BIN" ] || [ ! -x "$DROVER_BIN" ]; then
  echo "no drover binary: set DROVER_BIN or put drover on PATH" >&2
  echo "neovim: 0 passed, 1 failed"
  exit 2
fi
DROVER_BIN="$(cd "$(dirname "$DROVER_BIN")" && pwd)/$(basename "$DROVER_BIN")"
export DROVER_BIN
command -v nvim >/dev/null || { echo "nvim not found" >&2; echo "neovim: 0 passed, 1 failed"; exit 2; }

results="$(mktemp)"
scratch="$(mktemp -d)"
trap 'rm -rf "$results" "$scratch"' EXIT
broken=0
files=("$here"/test_*.lua)
if [ $# -gt 0 ]; then files=("$@"); fi
for file in "${files[@]}"; do
  name="$(basename "$file")"
  # TMPDIR keeps every workspace and config dir of the run under one folder, removed at the end.
  TMPDIR="$scratch" timeout 150 nvim --headless -u NONE -i NONE -n \
    -c "lua dofile('$here/harness.lua').main('$plugin', '$file', '$results')" \
    >"$scratch/$name.out" 2>&1
  status=$?
  if ! grep -q "^DONE $name\$" "$results"; then
    echo "FAIL $name: Neovim exited ($status) before the tests finished" >>"$results"
    sed 's/^/    /' "$scratch/$name.out" | tail -20 >>"$results"
    broken=1
  fi
done
grep -v '^DONE ' "$results"
passed=$(grep -c '^PASS ' "$results")
failed=$(grep -c '^FAIL ' "$results")
echo "neovim: $passed passed, $failed failed"
if [ "$failed" -gt 0 ] || [ "$broken" -ne 0 ]; then exit 1; fi
