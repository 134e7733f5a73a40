"""Work out a .deb's Depends and Recommends from the libraries a PyInstaller folder lacks.

Usage: python packaging/deb_depends.py BUNDLE_DIR

PyInstaller copies most libraries into the folder, but leaves out glibc and a few
others every system provides, and the spec (packaging/pyinstaller/slipstream.spec) leaves
out the desktop's own libraries on purpose: X11 and xcb, xkbcommon, fontconfig, D-Bus,
GLib, GL/EGL and the C++ runtime. This reads every ELF file's DT_NEEDED entries (with
objdump, which PyInstaller needs anyway), keeps the sonames that no file in the folder
provides, and names the Debian package of each: through ``dpkg -S`` when the build
machine has the library, else through the table below. Libraries reached from the
programs and from the plugins an X11 or offscreen session loads become ``Depends``; those
only the optional plugins need (Wayland, desktop portals, input methods, evdev) become
``Recommends``: Qt skips a plugin whose libraries are missing and falls back to X11.

Prints two lines, ``Depends: ...`` and ``Recommends: ...``; exits 1 naming any library it
cannot place, so a new dependency breaks the build instead of the player's install.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

# Debian 12 packages of libraries the build machine may lack (no X or Wayland installed).
KNOWN = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0",
    "libOpenGL.so.0": "libopengl0",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libgobject-2.0.so.0": "libglib2.0-0",
    "libgio-2.0.so.0": "libglib2.0-0",
    "libgtk-3.so.0": "libgtk-3-0",
    "libgdk-3.so.0": "libgtk-3-0",
    "libz.so.1": "zlib1g",
    "libstdc++.so.6": "libstdc++6",
    "libgcc_s.so.1": "libgcc-s1",
}
GLIBC = re.compile(r"^(libc|libm|libdl|libpthread|librt|libutil|libresolv|ld-linux.*)\.so")

# Plugins (under PySide6/Qt/plugins) that an X11 or offscreen session needs; every other
# plugin is optional.
REQUIRED_PLUGINS = re.compile(
    r"^(platforms/libq(xcb|offscreen|minimal)\.so|xcbglintegrations/|imageformats/|iconengines/)"
)


def needed(path: Path) -> set[str]:
    out = subprocess.run(
        ["objdump", "-p", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return set(re.findall(r"^\s*NEEDED\s+(\S+)", out, re.MULTILINE))


def is_elf(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def is_root(path: Path, plugins: Path) -> bool:
    """Files loaded by name: the programs, Python's extension modules, libpython (the
    programs open it at run time), and the plugins an X11 or offscreen session needs."""
    if path.is_relative_to(plugins):
        return REQUIRED_PLUGINS.match(path.relative_to(plugins).as_posix()) is not None
    name = path.name
    return (
        not name.startswith("lib")
        or ".cpython-" in name
        or name.endswith(".abi3.so")
        or name.startswith("libpython")
    )


def scan(bundle: Path) -> tuple[set[str], set[str]]:
    """(sonames the required files lack, sonames only the optional files lack)."""
    bundle = bundle.resolve()
    by_name: dict[str, Path] = {}
    deps: dict[Path, set[str]] = {}
    for path in sorted(bundle.rglob("*")):
        by_name.setdefault(path.name, path.resolve())
        if path.is_file() and not path.is_symlink() and is_elf(path):
            deps[path] = needed(path)

    plugins = bundle / "_internal" / "PySide6" / "Qt" / "plugins"
    stack = [path for path in deps if is_root(path, plugins)]
    required: set[Path] = set()
    while stack:
        path = stack.pop()
        if path not in required:
            required.add(path)
            stack += [by_name[s] for s in deps.get(path, ()) if s in by_name]

    missing_required: set[str] = set()
    missing_optional: set[str] = set()
    for path, sonames in deps.items():
        lacking = {s for s in sonames if s not in by_name}
        (missing_required if path in required else missing_optional).update(lacking)
    return missing_required, missing_optional - missing_required


@cache
def host_libraries() -> dict[str, str]:
    """soname -> path, from the dynamic linker's cache (first entry wins, as for ld.so)."""
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    found: dict[str, str] = {}
    for line in out.splitlines():
        name, sep, path = line.strip().partition(" => ")
        if sep:
            found.setdefault(name.split(" ")[0], path)
    return found


def package_of(soname: str) -> str | None:
    path = host_libraries().get(soname)
    if path:
        for candidate in {path, os.path.realpath(path)}:
            found = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if found.returncode == 0:
                return found.stdout.split(":", 1)[0].split(",")[0].strip()
    return KNOWN.get(soname)


def glibc_version() -> str:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "libc6"], capture_output=True, text=True
    ).stdout
    match = re.match(r"(\d+\.\d+)", out)
    return match.group(1) if match else "2.36"


def packages(sonames: set[str], unknown: list[str]) -> set[str]:
    result = set()
    for soname in sorted(sonames):
        if GLIBC.match(soname):
            result.add(f"libc6 (>= {glibc_version()})")
            continue
        package = package_of(soname)
        if package is None:
            unknown.append(soname)
        else:
            result.add(package)
    return result


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: deb_depends.py BUNDLE_DIR", file=sys.stderr)
        return 2
    required, optional = scan(Path(argv[0]))
    unknown: list[str] = []
    depends = packages(required, unknown)
    recommends = packages(optional, unknown) - depends
    if unknown:
        print(
            "deb_depends: no Debian package known for "
            + ", ".join(unknown)
            + " (install it on the build machine, or add it to KNOWN in this file)",
            file=sys.stderr,
        )
        return 1
    print("Depends: " + ", ".join(sorted(depends)))
    print("Recommends: " + ", ".join(sorted(recommends)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
