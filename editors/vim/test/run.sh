#!/usr/bin/env bash
# Runs the Vim plugin's tests: real Vim (headless, -es) driving the plugin
# against the real `drover serve` ($DROVER_BIN, default: drover on PATH).
# Each test gets its own Vim, a fresh git workspace and DROVER_CONFIG_DIR.
# Usage: bash editors/vim/test/run.sh [pattern]
set -u
here=$(cd "$(dirname "$0")" && pwd)
plugin=$(dirname "$here")
bin=${DROVER_BIN:-$(command -v drover || true)}
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "no drover binary: set DROVER_BIN or put drover on PATH" >&2
  echo "vim: 0 passed, 1 failed"
  exit 2
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
vimbin=${VIM_BIN:-vim}
pattern=${1:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
results=$tmp/results
: > "$results"
passed=0; failed=0

for file in "$here"/test_*.vim; do
  for name in $(sed -n 's/^def \(g:Test_[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
    if [ -n "$pattern" ] && [[ "$name" != *$pattern* ]]; then continue; fi
    ws=$tmp/ws-${name#g:}; cfg=$tmp/cfg-${name#g:}
    mkdir -p "$ws" "$cfg"
    git -C "$ws" init -q
    pidfile=$tmp/pid-${name#g:}
    before=$(wc -l < "$results")
    start=$(date +%s%N)
    (cd "$ws" && DROVER_BIN="$bin" DROVER_CONFIG_DIR="$cfg" DROVER_TEST_RESULTS="$results" \
      DROVER_TEST_PIDFILE="$pidfile" timeout 90 "$vimbin" -Nu NONE -i NONE -n -es \
      --cmd "set rtp^=$plugin" --cmd "runtime plugin/drover.vim" \
      -S "$here/helpers.vim" -S "$file" -c "call RunOne('$name')" </dev/null >"$tmp/out" 2>&1)
    rc=$?
    # The server stops when Vim exits; make sure no process outlives its test.
    if [ -s "$pidfile" ]; then
      pid=$(cat "$pidfile")
      # (an exited server may stay a zombie until init reaps it: that counts as gone)
      for _ in $(seq 50); do
        st=$(ps -o stat= -p "$pid" 2>/dev/null)
        if [ -z "$st" ] || [[ $st == Z* ]]; then st=gone; break; fi
        sleep 0.1
      done
      if [ "$st" != gone ]; then echo "  (server $pid outlived its test; killed)"; kill "$pid" 2>/dev/null; fi
    fi
    # The workspace's engine outlives the server (until its idle timeout) and still writes in .drover:
    # stop it (this returns once it has exited), then remove the test's folders.
    DROVER_CONFIG_DIR="$cfg" "$bin" engine stop --quiet --workspace "$ws" >/dev/null 2>&1
    rm -rf "$ws" "$cfg" "$pidfile"
    after=$(wc -l < "$results")
    tenths=$(( ($(date +%s%N) - start) / 100000000 )); secs=$((tenths / 10)).$((tenths % 10))
    if [ "$after" -eq "$before" ]; then
      echo "FAIL ${name#g:} (vim exited $rc without a result)"; sed 's/^/    /' "$tmp/out" | tail -20
      failed=$((failed + 1))
    else
      line=$(sed -n "$((before + 1)),\$p" "$results")
      case "$line" in
        PASS*) passed=$((passed + 1)); echo "ok   ${name#g:} (${secs}s)";;
        *) failed=$((failed + 1)); echo "$line" | sed "1s/^FAIL g:/FAIL /";;
      esac
    fi
  done
done
echo "vim: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
