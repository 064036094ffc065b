#!/usr/bin/env bash
# The whole test suite: Swift unit and end-to-end tests, then the protocol conformance checks.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
export DROVER_BIN="$PWD/.build/debug/drover"
swift test --skip-build
# The CLI as a person drives it (pseudo-terminal gates, Ctrl-C, read-only commands); its last line is `N passed, N failed`.
python3 Tests/CLI/test_cli.py
