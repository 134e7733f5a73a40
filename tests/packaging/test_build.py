"""The installer packages, as a player gets them: ``packaging/build.sh`` builds the folder
and the .deb once for this module, and every bundled program then runs with an
environment that has no virtual environment and no checkout on it."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from core import __version__
from core.demo.sample import FileSpec, sample_game, scattered_edits, write_build
from tests.support.helpers import tree

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "io.github.slipstream.Slipstream"


@dataclass(frozen=True)
class Packages:
    bundle: Path
    deb: Path
    log: str


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Packages:
    out = tmp_path_factory.mktemp("packages")
    done = subprocess.run(
        [ROOT / "packaging" / "build.sh", "--dist", out / "dist", "--work", out / "work"],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    deb = out / "dist" / f"slipstream_{__version__}_{_arch()}.deb"
    return Packages(out / "dist" / "slipstream", deb, done.stdout)


def _arch() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()


def _player_env(home: Path) -> dict[str, str]:
    """What a player's session offers: system folders only on PATH, no PYTHONPATH."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "SLIPSTREAM_HOME": str(home / "slipstream"),
        "QT_QPA_PLATFORM": "offscreen",
    }


@pytest.fixture
def player(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    home = tmp_path / "home"
    home.mkdir()
    yield tmp_path, _player_env(home)


def _run(
    program: Path, *args: str | Path, cwd: Path, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [program, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@contextmanager
def _serving(cli: Path, work: Path, env: dict[str, str]) -> Iterator[str]:
    """The bundled ``slipstream serve`` for ``work/repo`` on a free port; yields its URL."""
    server = subprocess.Popen(
        [cli, "serve", "--repo", "repo", "--port", "0"],
        cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert first.startswith("serving repo at http://127.0.0.1:"), first
        yield first.split()[-1]
    finally:
        server.terminate()
        server.communicate(timeout=30)


def test_bundle_holds_both_programs_and_no_unused_qt(packages: Packages) -> None:
    internal = packages.bundle / "_internal"
    assert (packages.bundle / "slipstream").is_file()
    assert (packages.bundle / "slipstream-gui").is_file()
    assert list(internal.glob("pyxdelta*.so")), "the pyxdelta extension is not bundled"
    platforms = {p.name for p in (internal / "PySide6/Qt/plugins/platforms").iterdir()}
    assert {"libqxcb.so", "libqoffscreen.so"} <= platforms
    assert "libqvnc.so" not in platforms and "libqeglfs.so" not in platforms
    assert (internal / "resources/icons/slipstream.svg").is_file()
    # The desktop's own libraries are left to the system (the .deb depends on them).
    system = re.compile(r"lib(X11|xcb|xkbcommon|fontconfig|freetype|dbus-1|glib|GL|EGL|stdc\+\+)")
    assert sorted(p.name for p in internal.glob("**/lib*.so*") if system.match(p.name)) == []
    links = [p for p in packages.bundle.rglob("*") if p.is_symlink()]
    # Every link stays inside the folder: nothing leads back to the checkout or .venv.
    assert [p for p in links if packages.bundle.resolve() not in p.resolve().parents] == []


def test_bundled_cli_publishes_serves_installs_updates_through_patches_and_rolls_back(
    packages: Packages, player: tuple[Path, dict[str, str]]
) -> None:
    work, env = player
    cli = packages.bundle / "slipstream"
    builds = []
    for number, specs in enumerate(sample_game(), start=1):
        builds.append(write_build(work / "builds" / str(number), specs))
    for number, build in enumerate(builds, start=1):
        done = _run(
            cli, "publish", build, "--repo", "repo", "--product", "77",
            "--version-name", f"1.{number}", "--no-progress", cwd=work, env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    with _serving(cli, work, env) as url:
        done = _run(
            cli, "install", "--source", url, "--product", "77", "--dir", "game",
            "--build", "1", "--json", "--no-progress", cwd=work, env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert tree(work / "game") == tree(builds[0])

        done = _run(cli, "update", "game", "--json", "--no-progress", cwd=work, env=env)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        # Patches run in forkserver worker processes: in a frozen program that needs
        # freeze_support, and without it every patch would fall back to chunks.
        assert report["to_build"] == "3"
        assert report["patches_applied"] > 0
        assert report["fallbacks"] == []
        assert tree(work / "game") == tree(builds[2])

    # The rollback point holds the replaced files: no server needed.
    done = _run(cli, "rollback", "game", "--json", "--no-progress", cwd=work, env=env)
    assert done.returncode == 0, done.stderr
    assert tree(work / "game") == tree(builds[0])
    done = _run(cli, "verify", "game", "--no-progress", cwd=work, env=env)
    assert done.returncode == 0, done.stderr


def test_bundled_publisher_runs_the_system_xdelta3_with_the_players_library_path(
    packages: Packages, player: tuple[Path, dict[str, str]]
) -> None:
    """Files over pyxdelta's 64 MiB window are encoded by the xdelta3 command (the .deb
    depends on it). It must run with the player's LD_LIBRARY_PATH, not the bundle's,
    and its patch must then apply in the bundled updater's worker processes."""
    work, env = player
    cli = packages.bundle / "slipstream"
    real = shutil.which("xdelta3")
    assert real, "xdelta3 is not installed (scripts/setup.sh installs it)"
    # A stand-in that records what it was given, then runs the real command.
    shim = work / "shim"
    shim.mkdir()
    (shim / "xdelta3").write_text(
        "#!/bin/sh\n"
        f'echo "LD_LIBRARY_PATH=${{LD_LIBRARY_PATH-unset}}" >> {work / "calls.log"}\n'
        f'exec {real} "$@"\n'
    )
    (shim / "xdelta3").chmod(0o755)
    env = {**env, "PATH": f"{shim}:{env['PATH']}", "LD_LIBRARY_PATH": "/opt/player-libs"}

    big = FileSpec("data/big.pak", 11, 65 * 2**20 + 4321)
    small = FileSpec("Game.exe", 12, 100_000, executable=True)
    old = write_build(work / "old", [big, small])
    new = write_build(work / "new", [scattered_edits(big, 5, 3), small])
    for build in (old, new):
        done = _run(
            cli, "publish", build, "--repo", "repo", "--product", "88", "--no-progress",
            cwd=work, env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    assert (work / "calls.log").read_text() == "LD_LIBRARY_PATH=/opt/player-libs\n"

    with _serving(cli, work, env) as url:
        done = _run(
            cli, "install", "--source", url, "--product", "88", "--dir", "game",
            "--build", "1", "--no-progress", cwd=work, env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        done = _run(cli, "update", "game", "--json", "--no-progress", cwd=work, env=env)
        assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["patches_applied"], report["fallbacks"]) == (1, [])
    assert tree(work / "game") == tree(new)


def test_bundled_gui_self_test_passes_offscreen(
    packages: Packages, player: tuple[Path, dict[str, str]]
) -> None:
    """The window's own check (publish, serve, install, update through patches, roll back,
    each verified file by file) in the bundled program, with Qt's offscreen platform."""
    work, env = player
    done = _run(packages.bundle / "slipstream-gui", "--self-test", cwd=work, env=env, timeout=280)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "self-test passed" in done.stdout
    assert "patches" in done.stdout and "Roll back: the folder is build 1 again" in done.stdout


def _python_everywhere() -> list[Path]:
    """Every place a Python could come from on this machine: the one running the tests
    (and the virtual environment and checkout it runs from), and the system's."""
    found = {Path(sys.base_prefix), Path(sys.prefix), ROOT}
    for pattern in ("usr/lib/python3*", "usr/local/lib/python3*", "usr/bin/python3*"):
        found.update(Path("/").glob(pattern))
    found.update(Path("/").glob("usr/lib/*-linux-gnu/libpython3*"))
    found.update(Path("/").glob("usr/local/bin/python3*"))
    # Cover what links point at (a mount cannot sit on a symlink), each folder once.
    paths = {p.resolve() for p in found if p.exists()} - {Path("/")}
    return sorted(p for p in paths if not any(q in p.parents for q in paths))


def _can_hide_paths() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    return probe.returncode == 0


def test_bundle_runs_where_no_python_is_installed(
    packages: Packages, player: tuple[Path, dict[str, str]]
) -> None:
    """In a private mount namespace every Python, libpython, the checkout and .venv are
    covered up; the bundled window's self-test must still pass."""
    if not _can_hide_paths():
        pytest.skip("needs root and unshare -m to hide the system's Python")
    work, env = player
    empty = work / "empty"
    empty.mkdir()
    hide = [
        f"mount --bind {'/dev/null' if path.is_file() else empty} {path}"
        for path in _python_everywhere()
    ]
    script = work / "no-python.sh"
    script.write_text(
        "set -e\nmount --make-rprivate /\n"
        + "\n".join(hide)
        + '\nif python3 -c pass 2>/dev/null; then echo "python3 still runs" >&2; exit 3; fi\n'
        + f'test ! -e "{ROOT / ".venv" / "bin" / "python"}"\n'
        + f'exec "{packages.bundle / "slipstream-gui"}" --self-test\n'
    )
    done = subprocess.run(
        ["unshare", "-m", "sh", script],
        cwd=work, env=env, capture_output=True, text=True, timeout=280,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "self-test passed" in done.stdout


def test_deb_installs_the_bundle_launchers_desktop_entry_and_icons(
    packages: Packages, player: tuple[Path, dict[str, str]]
) -> None:
    work, env = player
    control = subprocess.run(
        ["dpkg-deb", "--field", packages.deb], capture_output=True, text=True, check=True
    ).stdout
    fields = dict(line.split(": ", 1) for line in control.splitlines() if ": " in line)
    assert fields["Package"] == "slipstream"
    # One version: core/__init__.py, which pyproject.toml reads for the wheel's metadata.
    assert fields["Version"] == __version__ == importlib.metadata.version("slipstream")
    depends = {dep.split(" ")[0] for dep in fields["Depends"].split(", ")}
    # The publisher's encoder, and the system libraries the bundle leaves out on purpose,
    # which Qt's xcb platform plugin (the one an X11 or XWayland desktop uses) loads.
    assert {
        "xdelta3",
        "libc6",
        "libgl1",
        "libegl1",
        "libfontconfig1",
        "libdbus-1-3",
        "libxcb1",
        "libxcb-cursor0",
        "libxcb-icccm4",
        "libxkbcommon-x11-0",
    } <= depends

    scratch = work / "root"
    subprocess.run(["dpkg", "-x", packages.deb, scratch], check=True)
    for program in ("slipstream", "slipstream-gui"):
        launcher = scratch / "usr" / "bin" / program
        assert launcher.resolve() == (scratch / "opt" / "slipstream" / program).resolve()
        done = _run(launcher, "--version", cwd=work, env=env)
        assert (done.returncode, done.stdout.strip()) == (0, f"{program} {__version__}")

    share = scratch / "usr" / "share"
    desktop = share / "applications" / f"{APP_ID}.desktop"
    metainfo = share / "metainfo" / f"{APP_ID}.metainfo.xml"
    assert f'<release version="{__version__}"' in metainfo.read_text()
    for size in ("16x16", "48x48", "256x256", "512x512"):
        assert (share / "icons" / "hicolor" / size / "apps" / f"{APP_ID}.png").is_file()
    assert (share / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").is_file()

    # scripts/setup.sh --dev installs both validators; missing ones fail here, never skip.
    for tool in ("desktop-file-validate", "appstreamcli"):
        assert shutil.which(tool), f"{tool} is not installed (run scripts/setup.sh --dev)"
    check = subprocess.run(["desktop-file-validate", desktop], capture_output=True, text=True)
    assert (check.returncode, check.stdout) == (0, ""), check.stdout + check.stderr
    check = subprocess.run(
        ["appstreamcli", "validate", "--no-net", metainfo], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "desktop entry: valid" in packages.log and "metainfo: valid" in packages.log


def test_deb_installs_with_dpkg_into_a_throwaway_system(
    packages: Packages, player: tuple[Path, dict[str, str]]
) -> None:
    """``dpkg -i`` for real, with /usr, /opt, /var and /etc under throwaway overlays in a
    private mount namespace: dpkg accepts the package, runs the desktop-database and
    icon-cache triggers where present, and the launchers on the PATH start the programs."""
    if not _can_hide_paths():
        pytest.skip("needs root and unshare -m for a throwaway system")
    work, env = player
    lines = ["set -e", "mount --make-rprivate /"]
    for top in ("usr", "opt", "var", "etc"):
        upper, scratch = work / "overlay" / top, work / "overlay" / f"{top}.work"
        upper.mkdir(parents=True)
        scratch.mkdir()
        lines.append(
            f"mount -t overlay overlay -o lowerdir=/{top},upperdir={upper},workdir={scratch} /{top}"
        )
    lines += [
        f'dpkg -i "{packages.deb}"',
        "dpkg-query -W -f='${Status} ${Version}\\n' slipstream",
        "slipstream --version",
        "slipstream-gui --version",
        "slipstream list",
    ]
    script = work / "dpkg-install.sh"
    script.write_text("\n".join(lines) + "\n")
    done = subprocess.run(
        ["unshare", "-m", "sh", script],
        cwd=work, env={**env, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if "overlay" in done.stderr and "unknown filesystem type" in done.stderr:
        pytest.skip("this kernel has no overlay filesystem")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout.splitlines()
    assert f"install ok installed {__version__}" in out
    assert f"slipstream {__version__}" in out and f"slipstream-gui {__version__}" in out
    assert "No games installed yet." in out
    assert "Processing triggers for desktop-file-utils" in done.stdout
    assert not (Path("/opt") / "slipstream").exists(), "the real /opt was written to"
