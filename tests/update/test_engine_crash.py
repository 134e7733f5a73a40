"""The update engine killed for real (fault catalogue A3-A6, A8 with the H4 crash points
and the H5 invariant checker).

Every scenario runs ``python -m core.cli`` in a child process against a repository served
on 127.0.0.1 and kills it with SIGKILL: at each named crash point of the engine and of the
journal (``SLIPSTREAM_CRASHPOINT=name:N``, N = 1, 2, … until a run gets through), at
pseudo-random times, or politely with Ctrl-C. After every kill, *any* command run on the
folder must leave it exactly build 1 or exactly build 3 (every managed file, nothing more,
nothing less), the player's files byte-identical and no ghosts (journal, staged files,
trash, temporary files); and the next update must then succeed.

The builds are small (six files of 0.2-3 MB, each one chunk), so that the ~50 kills and
~150 commands of this file take about a minute and a half on two cores.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from core import crashpoint
from core.demo.sample import FileSpec, scattered_edits, write_build
from core.gamedir.folder import GameDir
from core.publish.publisher import PublishOptions, publish
from core.update.engine import update, verify_game
from tests.support.helpers import COMMIT_POINTS, ROLLBACK_POINTS, serving, tree

PROJECT = Path(__file__).resolve().parents[2]
PRODUCT = "1207664643"
MB = 1 << 20

ENGINE_POINTS = [
    "update-object-downloaded",
    "update-patch-applied",
    "update-assembled",
    "update-verified",
]
MAX_N = 6
"""The most calls of one crash point in one run of these builds (5 objects, 5 files
moved aside); a sweep that meets more fails and asks for a higher bound."""

PLAYER = {
    "saves/slot1.sav": b"player save data \x00\x01",
    "mods/x.txt": b"my mod",
    # Inside a managed folder that build 3 drops: the folder must stay for it.
    "data/audio/notes.txt": b"the player's notes",
}
RECOVERERS = (("verify",), ("plan", "--to", "3"), ("update", "--to", "3"))
"""The "any command" run after a kill, taken in turn."""


def _builds() -> list[list[FileSpec]]:
    """Three builds: build 3 patches two files, renames (and edits) a third into a new
    folder, drops two files and a folder, adds files (one in a new folder)."""
    b1 = [
        FileSpec("Game.exe", 1, MB + 12_345, executable=True),
        FileSpec("data/levels.pak", 2, 3 * MB + 777),
        FileSpec("data/textures.pak", 3, MB),
        FileSpec("data/audio/music.ogg", 4, 500_000),
        FileSpec("data/old.bin", 5, 300_000),
        FileSpec("readme.txt", 6, 200_000),
    ]
    b2 = [
        scattered_edits(b1[0], 3, 7),
        scattered_edits(b1[1], 3, 8),
        *b1[2:],
        FileSpec("data/added-2.bin", 9, 250_000),
    ]
    b3 = [
        scattered_edits(b2[0], 2, 17),
        scattered_edits(b2[1], 2, 18),
        scattered_edits(replace(b1[2], path="data/packs/textures.pak"), 2, 11),
        b1[5],
        b2[-1],
        FileSpec("data/new/extra.bin", 10, 400_000),
    ]
    return [b1, b2, b3]


# --------------------------------------------------------------------------------------
# The world: a published repository, served, and game folders to copy


def managed(root: Path) -> dict[str, str]:
    return {k: v for k, v in tree(root).items() if k not in PLAYER}


@dataclass(frozen=True)
class World:
    url: str
    trees: dict[str, dict[str, str]]
    """Build id → the build's files and md5s."""
    at1: Path
    """A game folder at build 1 (with the player's files), to copy."""
    at3: Path
    """The same folder updated to build 3 (it has a rollback point to build 1)."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("crash")
    trees = {}
    for n, specs in enumerate(_builds(), 1):
        folder = write_build(root / f"b{n}", specs)
        publish(folder, root / "repo", PublishOptions(PRODUCT, version_name=f"1.{n}", name="Demo"))
        trees[str(n)] = tree(folder)
    with serving(root / "repo") as url:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("SLIPSTREAM_HOME", str(root / "home"))
            patch.delenv(crashpoint.ENV, raising=False)
            at1 = root / "at1"
            done = cli(
                "install", "--source", url, "--product", PRODUCT, "--dir", at1, "--build", "1"
            )
            assert done.returncode == 0, done.stderr
            for rel, data in PLAYER.items():
                (at1 / rel).parent.mkdir(parents=True, exist_ok=True)
                (at1 / rel).write_bytes(data)
            at3 = clone(at1, root / "at3")
            update(at3, "3")
        yield World(url, trees, at1, at3)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("SLIPSTREAM_HOME", str(path))
    monkeypatch.delenv(crashpoint.ENV, raising=False)
    return path


def clone(template: Path, dest: Path) -> Path:
    """A copy of a game folder; mtimes are kept, so a quick verify still trusts it."""
    shutil.copytree(template, dest, symlinks=True)
    return dest


# --------------------------------------------------------------------------------------
# Running the command line


def _env(crash: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != crashpoint.ENV}
    if crash:
        env[crashpoint.ENV] = crash
    return env


def _argv(args: tuple[object, ...]) -> list[str]:
    return [sys.executable, "-m", "core.cli", *map(str, args)]


def start(*args: object, crash: str | None = None) -> subprocess.Popen[str]:
    """``slipstream ARGS…`` in a child process that leads its own process group, killed
    at crash point ``crash`` if given."""
    return subprocess.Popen(
        _argv(args),
        cwd=PROJECT,
        env=_env(crash),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def reap(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    """Wait for the child, then kill what it left in its process group: a SIGKILLed
    updater orphans its patch workers (and their forkserver), which never exit by
    themselves and hold the output pipes open (test_a_killed_update_leaves_no_patch_workers
    _behind)."""
    try:
        proc.wait(timeout=180)
    finally:
        stop_group(proc)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def stop_group(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def cli(*args: object, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    """``slipstream ARGS…`` run to its end (or to its kill at ``crash``)."""
    return reap(start(*args, crash=crash))


def json_of(done: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert isinstance(doc, dict)
    return doc


# --------------------------------------------------------------------------------------
# The invariant checker (H5)


def leftovers(game: Path) -> list[str]:
    """What no operation may leave behind once it (or the next command) is through.

    ``.slipstream/downloads`` is resume data and may stay; the lock file is permanent."""
    meta = game / ".slipstream"
    found = []
    if os.path.lexists(meta / "journal.json"):
        found.append("journal.json")
    staging = meta / "staging"
    if staging.exists():
        found += [f"staging/{p.relative_to(staging)}" for p in staging.rglob("*")]
    if (meta / "trash").exists():
        found.append("trash")
    for point in sorted((meta / "rollback").glob("*")):
        if not (point / "point.json").is_file():
            found.append(f"rollback/{point.name} without point.json")
    for p in meta.rglob(".tmp-*"):
        found.append(p.relative_to(meta).as_posix())
    for p in game.rglob("*"):
        rel = p.relative_to(game)
        if rel.parts[0] != ".slipstream" and (
            p.name.endswith(".part") or p.name.startswith(".tmp-") or ".hop" in p.name
        ):
            found.append(rel.as_posix())
    return found


def check_exactly(world: World, game: Path, allowed: tuple[str, ...] = ("1", "3")) -> str:
    """The folder is exactly one of the ``allowed`` builds, and says so; the player's files
    are intact and nothing is left behind. Returns the build."""
    files = managed(game)
    found = [b for b in allowed if files == world.trees[b]]
    assert found, (
        f"a mix of builds: {sorted(files.items())} "
        f"vs {[sorted(world.trees[b].items()) for b in allowed]}"
    )
    build = found[0]
    for rel, data in PLAYER.items():
        assert (game / rel).read_bytes() == data, rel
    assert leftovers(game) == []
    state = GameDir(game).load_state()
    assert state is not None and state.build_id == build
    assert {p: f.md5 for p, f in state.files.items()} == world.trees[build]
    return build


def finish(world: World, game: Path) -> None:
    """The next update to build 3 succeeds, the folder is build 3 and verify --full is
    clean. In this process: no kill is involved, and the "any command" before it ran
    through the command line already (a child process each time cost about a second of
    this file's ~50 kills)."""
    report = update(game, "3")
    assert report.to_build == "3"
    assert check_exactly(world, game) == "3"
    _report, result = verify_game(game, full=True)
    assert result.ok, result.wounds
    assert leftovers(game) == []


def recover_with(n: int, game: Path) -> str:
    """Run the ``n``-th "any command" (in turn) on the folder; returns its name."""
    args = RECOVERERS[n % len(RECOVERERS)]
    doc = json_of(cli(args[0], game, *args[1:], "--json", "--no-progress"))
    if args[0] == "verify":
        assert doc["ok"] is True, doc["wounds"]
    return args[0]


# --------------------------------------------------------------------------------------
# 1 and 2: crash-point sweeps


def sweep(world: World, tmp_path: Path, name: str, template: Path, op: tuple[str, ...]) -> int:
    """Kill ``op`` at the 1st, 2nd, … call of crash point ``name`` until a run gets
    through; after each kill, run another command, check the folder, then check that the
    next update succeeds. Returns the number of kills (every call of the point was one)."""
    offset = [*ENGINE_POINTS, *COMMIT_POINTS, *ROLLBACK_POINTS].index(name)
    for n in range(1, MAX_N + 2):
        game = clone(template, tmp_path / f"n{n}")
        run = cli(op[0], game, *op[1:], "--no-progress", crash=f"{name}:{n}")
        if run.returncode == 0:
            break
        assert run.returncode == -signal.SIGKILL, run.stderr
        assert n <= MAX_N, f"{name} fires more than {MAX_N} times; raise MAX_N"
        command = recover_with(offset + n, game)
        # Before the journal is written the old build stays; once it is, the operation
        # is always carried forward. An update run as the "any command" ends at 3.
        if command == "update":
            expected = "3"
        elif op[0] == "rollback":
            expected = "1"
        else:
            expected = "1" if name in ENGINE_POINTS else "3"
        assert check_exactly(world, game) == expected, (name, n, command)
        finish(world, game)
    check_exactly(world, game, ("1",) if op[0] == "rollback" else ("3",))
    return n - 1


PER_FILE = {
    "update-object-downloaded",
    "update-patch-applied",
    "commit-backup",
    "commit-replace",
    "rollback-trash",
    "rollback-restore",
}


@pytest.mark.parametrize("name", ENGINE_POINTS + COMMIT_POINTS)
def test_an_update_killed_at_any_crash_point_leaves_exactly_one_build(
    world: World, tmp_path: Path, name: str
) -> None:
    kills = sweep(world, tmp_path, name, world.at1, ("update", "--to", "3"))
    assert kills >= 2 if name in PER_FILE else kills == 1, kills


@pytest.mark.parametrize("name", ROLLBACK_POINTS)
def test_a_rollback_killed_at_any_crash_point_leaves_exactly_one_build(
    world: World, tmp_path: Path, name: str
) -> None:
    kills = sweep(world, tmp_path, name, world.at3, ("rollback",))
    assert kills >= 2 if name in PER_FILE else kills == 1, kills


def test_a_recovery_killed_part_way_is_finished_by_the_next_command(
    world: World, tmp_path: Path
) -> None:
    """The "any command" is killed too, twice, while it carries the commit forward."""
    game = clone(world.at1, tmp_path / "game")
    run = cli("update", game, "--to", "3", "--no-progress", crash="commit-replace:2")
    assert run.returncode == -signal.SIGKILL, run.stderr
    for crash in ("commit-replace:1", "commit-state-saved"):
        run = cli("verify", game, "--no-progress", crash=crash)
        assert run.returncode == -signal.SIGKILL, (crash, run.stderr)
        assert (game / ".slipstream" / "journal.json").exists()
    doc = json_of(cli("plan", game, "--to", "3", "--json"))
    assert str(doc["recovered"]).startswith("completed the interrupted update"), doc
    assert check_exactly(world, game) == "3"
    finish(world, game)


# --------------------------------------------------------------------------------------
# 3: random-time kills (A8, OSTree style)

RATE = 400_000
"""A bandwidth cap that widens the download window of the random-time kills."""


def test_kills_at_random_times_leave_exactly_one_build(world: World, tmp_path: Path) -> None:
    args = ("update", "--to", "3", "--limit-rate", RATE, "--no-progress")
    game = clone(world.at1, tmp_path / "baseline")
    began = time.monotonic()
    assert cli(args[0], game, *args[1:]).returncode == 0
    baseline = time.monotonic() - began
    check_exactly(world, game, ("3",))
    rng = random.Random(20240601)
    outcomes = []
    for run in range(8):
        game = clone(world.at1, tmp_path / f"r{run}")
        delay = rng.uniform(0, 1.1 * baseline)
        proc = start(args[0], game, *args[1:])
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
        done = reap(proc)
        assert done.returncode in (0, -signal.SIGKILL), done.stderr
        recover_with(0, game)  # verify
        build = check_exactly(world, game)
        if done.returncode == 0:
            assert build == "3"
        outcomes.append((round(delay, 2), done.returncode, build))
        finish(world, game)
    assert any(rc == -signal.SIGKILL for _d, rc, _b in outcomes), outcomes


# --------------------------------------------------------------------------------------
# 4: polite cancel (A8)


def _kept_for_resume(game: Path, *, staging: bool = False) -> list[Path]:
    """What an update has fetched so far and keeps for a rerun: objects in downloads/
    (partial ones too), and the files written from chunks that streamed through memory,
    in staging while it runs (``staging``) and in downloads/staged once it has stopped."""
    folders = [game / ".slipstream" / "downloads"]
    if staging:
        folders.append(game / ".slipstream" / "staging")
    return [
        p for f in folders if f.is_dir() for p in f.rglob("*") if p.is_file() and p.stat().st_size
    ]


def test_ctrl_c_while_downloading_stops_cleanly_and_the_rerun_resumes(
    world: World, tmp_path: Path
) -> None:
    game = clone(world.at1, tmp_path / "game")
    proc = start("update", game, "--to", "3", "--limit-rate", 100_000, "--no-progress")
    try:
        while not _kept_for_resume(game, staging=True):
            assert proc.poll() is None, reap(proc)
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C in a terminal does
        done = reap(proc)
    finally:
        stop_group(proc)
    assert done.returncode == 130, done.stderr
    assert "stopped" in done.stderr or "cancelled" in done.stderr, done.stderr
    assert check_exactly(world, game) == "1"
    kept = _kept_for_resume(game)
    assert kept
    assert not (game / ".slipstream" / "staging").exists() or not any(
        (game / ".slipstream" / "staging").iterdir()
    )
    doc = json_of(cli("update", game, "--to", "3", "--json", "--no-progress"))
    assert doc["to_build"] == "3"
    assert isinstance(doc["bytes_downloaded"], int) and isinstance(doc["bytes_planned"], int)
    assert doc["bytes_downloaded"] < doc["bytes_planned"], doc
    assert check_exactly(world, game) == "3"


# --------------------------------------------------------------------------------------
# 5: double start (A8)


def test_two_updates_started_at_once_one_runs_the_other_is_refused(
    world: World, tmp_path: Path
) -> None:
    game = clone(world.at1, tmp_path / "game")
    args = ("update", game, "--to", "3", "--limit-rate", 100_000, "--no-progress")
    procs = [start(*args), start(*args)]
    lock = game / ".slipstream" / "lock"
    try:
        # Whoever holds the lock is frozen, so the other one meets it for certain.
        holder = None
        while holder is None:
            assert any(p.poll() is None for p in procs), [reap(p) for p in procs]
            text = lock.read_text().strip() if lock.exists() else ""
            holder = next((p for p in procs if text == str(p.pid)), None)
            time.sleep(0.01)
        holder.send_signal(signal.SIGSTOP)
        other = next(p for p in procs if p is not holder)
        refused = reap(other)
        holder.send_signal(signal.SIGCONT)
        held = reap(holder)
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGCONT)
            stop_group(p)
    assert refused.returncode == 1, refused.stderr
    assert "lock" in refused.stderr and str(holder.pid) in refused.stderr, refused.stderr
    assert held.returncode == 0, held.stderr
    assert check_exactly(world, game) == "3"


# --------------------------------------------------------------------------------------
# 6: killed with everything staged and verified, before the commit (A5)


def test_a_kill_after_staging_is_finished_by_the_next_update_without_trusting_staging(
    world: World, tmp_path: Path
) -> None:
    game = clone(world.at1, tmp_path / "game")
    run = cli("update", game, "--to", "3", "--no-progress", crash="update-verified")
    assert run.returncode == -signal.SIGKILL, run.stderr
    staged = game / ".slipstream" / "staging" / "data" / "levels.pak"
    assert staged.is_file()
    assert managed(game) == world.trees["1"]
    # A staged file damaged after its verification (same size) must not be committed.
    data = bytearray(staged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    staged.write_bytes(bytes(data))
    doc = json_of(cli("update", game, "--to", "3", "--json", "--no-progress"))
    assert doc["to_build"] == "3"
    assert check_exactly(world, game) == "3"
    _report, result = verify_game(game, full=True)
    assert result.ok, result.wounds


# --------------------------------------------------------------------------------------
# Known bug: the patch workers of a killed updater never exit


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_killed_update_leaves_no_patch_workers_behind(world: World, tmp_path: Path) -> None:
    game = clone(world.at1, tmp_path / "game")
    proc = subprocess.Popen(
        _argv(("update", game, "--to", "3", "--no-progress")),
        cwd=PROJECT,
        env=_env("update-patch-applied"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert proc.wait(timeout=180) == -signal.SIGKILL
        # Orphans should notice their parent is gone; give them a generous while.
        deadline = time.monotonic() + 5
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = subprocess.run(
            ["ps", "-o", "pid,ppid,stat,args", "-s", str(proc.pid)],
            capture_output=True,
            text=True,
        ).stdout
        assert not _group_alive(proc.pid), left
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
