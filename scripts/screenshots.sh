#!/usr/bin/env bash
# Retakes docs/screenshots/*.png (English) and docs/screenshots/de/*.png (German) under a
# virtual X server (installs xvfb if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v xvfb-run >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq xvfb xauth >/dev/null
  else sudo apt-get install -y -qq xvfb xauth >/dev/null; fi
fi
[ -x .venv/bin/python ] || scripts/setup.sh
for lang in en de; do
  SLIPSTREAM_LANG=$lang QT_QPA_PLATFORM=xcb \
    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python scripts/screenshots.py
done
