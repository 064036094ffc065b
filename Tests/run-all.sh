#!/usr/bin/env bash
# The whole test suite: Swift unit and end-to-end tests, then the protocol conformance checks.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
export DROVER_BIN="$PWD/.build/debug/drover"
swift test --skip-build
python3 Tests/Conformance/conformance.py --drover "$DROVER_BIN"
