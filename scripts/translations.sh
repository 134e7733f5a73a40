#!/usr/bin/env bash
# Updates the window's translations: every string the window shows (self.tr, translate,
# QT_TRANSLATE_NOOP in gui/*.py) goes into resources/translations/slipstream_<lang>.ts
# (pyside6-lupdate; strings no longer in the code are dropped), and each .ts is compiled
# into the .qm the window loads (pyside6-lrelease). Commit both.
#
#   scripts/translations.sh              update and compile every language
#   scripts/translations.sh --into DIR   the same on copies in DIR, the committed files
#                                        untouched (tests/gui/test_translations.py)
#
# New or changed strings come out "unfinished": translate them (in Qt Linguist,
# .venv/bin/pyside6-linguist resources/translations/slipstream_de.ts, or in the XML),
# then run this again to compile. A new language starts as an empty slipstream_<lang>.ts
# made by: .venv/bin/pyside6-lupdate gui/*.py -ts resources/translations/slipstream_<lang>.ts
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SLIPSTREAM_VENV:-.venv}/bin
SOURCE=resources/translations
OUT=$SOURCE
if [ "${1:-}" = "--into" ]; then
  OUT=${2:?--into needs a folder}
  mkdir -p "$OUT"
  cp "$SOURCE"/slipstream_*.ts "$OUT"/
fi
for ts in "$OUT"/slipstream_*.ts; do
  lang=${ts##*/slipstream_}
  lang=${lang%.ts}
  # No source locations: the .ts changes only when a string does, not when a line moves.
  "$BIN/pyside6-lupdate" -silent -no-obsolete -locations none -source-language en \
    -target-language "$lang" gui/*.py -ts "$ts"
  "$BIN/pyside6-lrelease" -silent "$ts" -qm "${ts%.ts}.qm"
done
