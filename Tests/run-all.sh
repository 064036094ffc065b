#!/usr/bin/env bash
# The whole test suite: Swift unit and end-to-end tests, the protocol conformance checks against
# the live server, then the CLI as a person drives it (pseudo-terminal gates, Ctrl-C, read-only commands).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
export DROVER_BIN="$PWD/.build/debug/drover"
swift test --skip-build
python3 Tests/Conformance/conformance.py --drover "$DROVER_BIN"
python3 Tests/CLI/test_cli.py
