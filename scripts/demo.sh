#!/usr/bin/env bash
# Sets up Slipstream and opens its window on the built-in demo: a sample game with three
# builds, published into demo-data/repo, served on 127.0.0.1, with the oldest build
# installed in demo-data/game, so Update can be pressed at once.
# With no screen (no DISPLAY or WAYLAND_DISPLAY) it runs the same demo in the terminal
# (`slipstream demo`) and prints the commands to try. Extra arguments go to the window.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
  echo "demo: no screen found (DISPLAY is not set); serving the demo for the terminal instead." >&2
  exec .venv/bin/slipstream demo --dir demo-data
fi
exec .venv/bin/slipstream-gui --demo demo-data "$@"
