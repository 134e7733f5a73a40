#!/usr/bin/env bash
# Sets up everything Slipstream needs on a fresh Debian/Ubuntu machine:
# the system tools (xdelta3 for the publisher's large-file encoder and the tests,
# nginx for the example-config test, desktop-file-utils and appstream for the packaging
# test) and a virtual environment in .venv.
# Usage: scripts/setup.sh [--dev]
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "setup: Slipstream needs Python 3.11 or newer as '$PY' (set PYTHON=... to choose one)." >&2
  exit 1
fi

need=()
command -v xdelta3 >/dev/null 2>&1 || need+=(xdelta3)
# Debian and Ubuntu ship venv's pip bootstrap separately.
[ -x .venv/bin/python ] || "$PY" -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
if [ "${1:-}" = "--dev" ]; then
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
  # The packaging test validates the desktop entry and the AppStream metainfo.
  command -v desktop-file-validate >/dev/null 2>&1 || need+=(desktop-file-utils)
  command -v appstreamcli >/dev/null 2>&1 || need+=(appstream)
  # The packs benchmark's smoke test compiles C with gcc.
  command -v gcc >/dev/null 2>&1 || need+=(gcc)
  # The notification tests run a private D-Bus session bus.
  command -v dbus-daemon >/dev/null 2>&1 || need+=(dbus-daemon)
fi
# The libraries Qt's xcb platform plugin loads, so the window opens on an X11 or
# XWayland desktop (the tests run offscreen and need none of them).
if command -v dpkg-query >/dev/null 2>&1; then
  for lib in libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 \
             libxkbcommon-x11-0 libxcb-randr0 libxcb-shape0 libxcb-xkb1 libegl1 \
             libfontconfig1 libdbus-1-3; do
    dpkg-query -W -f='${Status}' "$lib" 2>/dev/null | grep -q "ok installed" || need+=("$lib")
  done
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "setup: please install these Debian packages first: ${need[*]}" >&2
    exit 1
  fi
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
target=.
[ "${1:-}" = "--dev" ] && target='.[dev,package]'
log=$(mktemp)
# pip's build chatter goes to a log that is shown only when the install fails.
if ! { .venv/bin/python -m pip install -q --upgrade pip &&
       .venv/bin/python -m pip install -q -e "$target"; } >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  echo "setup: installing Python packages failed (see above)" >&2
  exit 1
fi
rm -f "$log"
