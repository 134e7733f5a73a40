#!/usr/bin/env bash
# The whole test suite: set-up, lint (ruff, with the Qt/gui import ban on core/),
# types (mypy) and pytest on every core (pytest-xdist; SLIPSTREAM_TEST_JOBS=1 runs it in
# one process). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
export QT_QPA_PLATFORM=offscreen
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
.venv/bin/pytest -n "${SLIPSTREAM_TEST_JOBS:-auto}" "$@"
