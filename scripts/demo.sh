#!/usr/bin/env bash
# Sets up Slipstream and starts its built-in demo: a sample game with three builds,
# published into demo-data/repo and served on 127.0.0.1. Extra arguments go to
# `slipstream demo` (for example --port 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/slipstream demo --dir demo-data "$@"
