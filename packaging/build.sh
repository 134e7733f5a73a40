#!/usr/bin/env bash
# Builds Slipstream's installer packages from a checkout:
#   dist/slipstream/                        one folder with both programs (slipstream,
#                                           slipstream-gui); it needs no Python on the machine
#   dist/slipstream_<version>_<arch>.deb    that folder under /opt/slipstream, launchers in
#                                           /usr/bin, desktop entry, metainfo and icons
# Usage: packaging/build.sh [--dist DIR] [--work DIR]   (defaults: dist, build/packaging)
# Runs scripts/setup.sh --dev first when .venv or PyInstaller is missing. Validates the
# desktop entry and the metainfo with desktop-file-validate and appstreamcli, installing
# them from Debian (desktop-file-utils, appstream) when it can.
set -euo pipefail
cd "$(dirname "$0")/.."
umask 022 # the package's files get these modes on the player's machine

APP_ID=io.github.slipstream.Slipstream
dist=dist
work=build/packaging
while [ $# -gt 0 ]; do
  case "$1" in
    --dist) dist=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$dist" "$work"
dist=$(cd "$dist" && pwd)
work=$(cd "$work" && pwd)

step() { printf '== %s\n' "$*"; }
seconds() { echo $(( $(date +%s) - $1 )); }

apt_install() {
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    return 1
  fi
}

if ! [ -x .venv/bin/python ] || ! .venv/bin/python -c 'import PyInstaller' 2>/dev/null; then
  step "setting up .venv (scripts/setup.sh --dev)"
  scripts/setup.sh --dev
fi
for tool in dpkg-deb objdump; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "build.sh: '$tool' is missing (Debian packages dpkg and binutils)" >&2
    exit 1
  }
done
validators=()
command -v desktop-file-validate >/dev/null 2>&1 || validators+=(desktop-file-utils)
command -v appstreamcli >/dev/null 2>&1 || validators+=(appstream)
if [ ${#validators[@]} -gt 0 ]; then
  apt_install "${validators[@]}" ||
    echo "build.sh: could not install ${validators[*]} (not root, no sudo): validation skipped below"
fi

version=$(.venv/bin/python -c 'import core; print(core.__version__)')
arch=$(dpkg --print-architecture)
bundle=$dist/slipstream
deb=$dist/slipstream_${version}_${arch}.deb

step "bundle: PyInstaller -> $bundle"
start=$(date +%s)
rm -rf "$bundle"
.venv/bin/pyinstaller --noconfirm --log-level WARN \
  --distpath "$dist" --workpath "$work/pyinstaller" packaging/pyinstaller/slipstream.spec \
  2> >(grep -v -e 'Library not found' -e 'required via ctypes not found' >&2)
for program in slipstream slipstream-gui; do
  said=$(env -i PATH=/usr/bin:/bin QT_QPA_PLATFORM=offscreen "$bundle/$program" --version)
  if [ "$said" != "$program $version" ]; then
    echo "build.sh: $bundle/$program --version said '$said', expected '$program $version'" >&2
    exit 1
  fi
done
echo "   $(du -sh "$bundle" | cut -f1) in $(seconds "$start") s; both programs report $version"

step "desktop files"
root=$work/deb-root
rm -rf "$root"
share=$root/usr/share
mkdir -p "$share/applications" "$share/metainfo" "$share/doc/slipstream" "$root/usr/bin" \
  "$root/opt" "$root/DEBIAN"
cp "resources/$APP_ID.desktop" "$share/applications/"
# The metainfo's <releases> comes from core.__version__, the one place the version lives.
released=$(git log -1 --format=%cs 2>/dev/null || date -u +%Y-%m-%d)
sed "s|^</component>|  <releases>\n    <release version=\"$version\" date=\"$released\"/>\n  </releases>\n</component>|" \
  "resources/$APP_ID.metainfo.xml" >"$share/metainfo/$APP_ID.metainfo.xml"
QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/render_icons.py \
  resources/icons/slipstream.svg "$share/icons" "$APP_ID" >/dev/null
for shot in $(grep -o 'docs/screenshots/[^< ]*\.png' "resources/$APP_ID.metainfo.xml"); do
  [ -f "$shot" ] || echo "   note: $shot (named in the metainfo) is not in this checkout"
done
if command -v desktop-file-validate >/dev/null 2>&1; then
  desktop-file-validate "$share/applications/$APP_ID.desktop"
  echo "   desktop entry: valid (desktop-file-validate)"
else
  echo "   desktop entry: NOT validated (desktop-file-validate is not installed)"
fi
if command -v appstreamcli >/dev/null 2>&1; then
  appstreamcli validate --no-net --explain "$share/metainfo/$APP_ID.metainfo.xml" >"$work/appstream.log" ||
    { cat "$work/appstream.log" >&2; exit 1; }
  echo "   metainfo: valid (appstreamcli validate --no-net)"
else
  echo "   metainfo: NOT validated (appstreamcli is not installed)"
fi

step "package: dpkg-deb -> $deb"
start=$(date +%s)
cp -a "$bundle" "$root/opt/slipstream"
# Relative links, so the launchers also work from a tree unpacked anywhere (dpkg -x).
ln -s ../../opt/slipstream/slipstream "$root/usr/bin/slipstream"
ln -s ../../opt/slipstream/slipstream-gui "$root/usr/bin/slipstream-gui"
cat >"$share/doc/slipstream/copyright" <<EOF
Slipstream $version: GPL-3.0-or-later (see /usr/share/common-licenses/GPL-3).
/opt/slipstream bundles Python $(.venv/bin/python -c 'import platform; print(platform.python_version())') (PSF License),
Qt for Python and Qt (LGPL-3.0), pyxdelta (MIT) with xdelta3 (Apache-2.0), requests,
keyring and their dependencies, each under its own licence.
EOF
deps=$(.venv/bin/python packaging/deb_depends.py "$bundle")
depends=$(sed -n 's/^Depends: //p' <<<"$deps")
recommends=$(sed -n 's/^Recommends: //p' <<<"$deps")
cat >"$root/DEBIAN/control" <<EOF
Package: slipstream
Version: $version
Architecture: $arch
Maintainer: ${DEB_MAINTAINER:-The Slipstream developers <noreply@slipstream.invalid>}
Section: games
Priority: optional
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: xdelta3, $depends
${recommends:+Recommends: $recommends
}Homepage: https://github.com/slipstream/slipstream
Description: game updater with differential downloads
 Slipstream installs and updates games while downloading only what changed:
 binary patches, changed chunks or whole files, whichever is cheapest. Updates
 are verified and applied atomically and can be rolled back. Includes the
 desktop window (slipstream-gui) and the command line (slipstream), which also
 publishes and serves repositories in GOG Galaxy's content-system format.
EOF
# zstd -9 (dpkg reads zstd since 1.21.18, Debian 12 has 1.21.22). Measured on this
# package (2 shared cores): zstd -9 47 MB in 1.4 s; zstd -3 56 MB in 0.5 s; gzip -6
# 57 MB in 4.7 s; zstd -19 41 MB in 30 s; xz -6 38 MB in 28 s. For a release,
# DEB_COMPRESSION="-Zxz -z6" trades the build time for size.
# shellcheck disable=SC2086 # the options are meant to split into words
dpkg-deb --root-owner-group ${DEB_COMPRESSION:--Zzstd -z9} --build "$root" "$deb" >/dev/null
echo "   $(du -h "$deb" | cut -f1) in $(seconds "$start") s"
echo "   Depends: xdelta3, $depends"
echo "   Recommends: $recommends"
echo "built $bundle and $deb"
