"""The game folder's state and its crash-safe commit and rollback, on real files.

One "old" game folder (files, subfolders, an empty folder) with player files that no build
names, and a staged "new" build that replaces, adds and deletes files, turns a file into a
folder, adds a folder and drops one that still holds a player file. Crashes are real
SIGKILLs at named crash points (harness H4) in a child process; after each one,
``recover()`` must leave exactly the old or exactly the new build, the player files
untouched, and nothing behind.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from core import crashpoint as crashpoint_module
from core.errors import (
    FileConflictError,
    GameLockedError,
    LocalIOError,
    NoRollbackError,
    StateError,
    UnsafePathError,
)
from core.gamedir.folder import GameDir, InstalledFile, InstallState
from core.gamedir.journal import Change, commit, recover, rollback
from tests.support.helpers import COMMIT_POINTS, ROLLBACK_POINTS

PROJECT = Path(__file__).resolve().parents[2]


def blob(tag: str, size: int = 3000) -> bytes:
    seed = hashlib.sha256(tag.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


OLD_FILES = {
    "bin/game.exe": blob("exe 1", 9000),
    "data/a.dat": blob("a 1"),
    "data/b.dat": blob("b"),  # the same in both builds: never touched
    "data/old.dat": blob("old"),  # deleted by the new build
    "legacy/x.cfg": blob("x.cfg"),  # deleted, and its folder dropped
    "manual": blob("manual as a file", 500),  # becomes a folder
    "readme.txt": blob("readme 1", 200),
}
OLD_FOLDERS = ("bin", "data", "legacy", "logs")  # logs: empty, dropped by the new build
NEW_FILES = {
    "bin/game.exe": blob("exe 2", 9500),
    "data/a.dat": blob("a 2"),
    "data/b.dat": blob("b"),
    "data/new.dat": blob("new"),
    "extras/guide.pdf": blob("guide from the build"),  # where the player has one (F3)
    "manual/index.html": blob("manual as a folder", 700),
    "music/theme.ogg": blob("theme", 5000),
    "readme.txt": blob("readme 2", 250),
}
NEW_FOLDERS = ("bin", "cache", "data", "extras", "manual", "music")  # cache: new and empty
PLAYER = {
    "saves/slot1.sav": blob("save"),
    "mods/x.txt": blob("mod"),
    "legacy/user-notes.txt": blob("notes"),  # in a folder the new build drops
}
PLAYER_GUIDE = {"extras/guide.pdf": blob("the player's own guide")}

CHANGED = sorted(p for p in NEW_FILES if OLD_FILES.get(p) != NEW_FILES[p])
DELETED = sorted(set(OLD_FILES) - set(NEW_FILES))
REPLACED = sorted(set(DELETED) | {p for p in CHANGED if p in OLD_FILES} | set(PLAYER_GUIDE))
ADDED = sorted(set(CHANGED) - set(REPLACED))


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def tree_of(files: Mapping[str, bytes], folders: tuple[str, ...]) -> dict[str, str]:
    """The expected snapshot of a folder holding ``files`` and ``folders``."""
    out = {p: md5(d) for p, d in files.items()}
    for path in [*files, *folders]:
        parts = path.split("/")
        for i in range(1, len(parts) + (path in folders)):
            out["/".join(parts[:i])] = "dir"
    return out


OLD_TREE = tree_of({**OLD_FILES, **PLAYER, **PLAYER_GUIDE}, OLD_FOLDERS)
NEW_TREE = tree_of({**NEW_FILES, **PLAYER}, NEW_FOLDERS)


def snapshot(root: Path) -> dict[str, str]:
    """Every entry below ``root`` except .slipstream: md5 of files, "dir", or the link."""
    out: dict[str, str] = {}
    for where, dirs, files in os.walk(root):
        base = Path(where)
        if base == root:
            dirs[:] = [d for d in dirs if d != ".slipstream"]
        for name in dirs + files:
            path = base / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                out[rel] = f"link -> {os.readlink(path)}"
            elif path.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = md5(path.read_bytes())
    return out


def state_of(
    build: str, root: Path, files: Mapping[str, bytes], folders: tuple[str, ...]
) -> InstallState:
    records = {}
    for path, data in files.items():
        on_disk = root / path
        mtime = on_disk.stat().st_mtime_ns if on_disk.exists() else 0
        records[path] = InstalledFile(
            path, md5(data), len(data), executable=path.endswith(".exe"), mtime_ns=mtime
        )
    return InstallState(
        product="1207658924",
        os="windows",
        build_id=build,
        version_name=f"1.{build}",
        branch=None,
        lang="en-US",
        source="http://127.0.0.1:1/repo",
        files=records,
        folders=folders,
        failed_patches=frozenset({("0" * 32, "f" * 32)}),
    )


@dataclass
class Game:
    root: Path
    old_state: InstallState
    new_state: InstallState
    changes: list[Change]

    @property
    def dir(self) -> GameDir:
        return GameDir(self.root)

    def commit(self, **kwargs: object) -> None:
        commit(
            self.dir,
            self.changes,
            self.new_state,
            label="update",
            folders_to_create=NEW_FOLDERS,
            folders_to_remove=sorted(set(OLD_FOLDERS) - set(NEW_FOLDERS)),
            **kwargs,  # type: ignore[arg-type]
        )

    def plan_file(self) -> Path:
        plan = self.root.parent / "plan.json"
        plan.write_text(
            json.dumps(
                {
                    "changes": [[c.path, c.staged] for c in self.changes],
                    "new_state": self.new_state.to_json(),
                    "create": list(NEW_FOLDERS),
                    "remove": sorted(set(OLD_FOLDERS) - set(NEW_FOLDERS)),
                }
            )
        )
        return plan


def make_game(where: Path) -> Game:
    """The old build installed in ``where/game`` with player files, the new one staged."""
    root = where / "game"
    for path, data in {**OLD_FILES, **PLAYER, **PLAYER_GUIDE}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    for folder in OLD_FOLDERS:
        (root / folder).mkdir(parents=True, exist_ok=True)
    game = GameDir(root)
    old_state = state_of("1", root, OLD_FILES, OLD_FOLDERS)
    game.save_state(old_state)
    for path in CHANGED:
        game.staged_path(path).write_bytes(NEW_FILES[path])
    new_state = state_of("2", root / ".slipstream" / "staging", NEW_FILES, NEW_FOLDERS)
    new_state = replace(
        new_state,
        files={**new_state.files, "data/b.dat": old_state.files["data/b.dat"]},
    )
    changes = [Change(p, p) for p in CHANGED] + [Change(p, None) for p in DELETED]
    return Game(root, old_state, new_state, changes)


def meta_leftovers(root: Path) -> list[str]:
    """Anything an operation should not leave behind in .slipstream."""
    meta = root / ".slipstream"
    found = []
    if (meta / "journal.json").exists():
        found.append("journal.json")
    staging = meta / "staging"
    if staging.exists():
        found += [f"staging/{p.name}" for p in staging.iterdir()]
    trash = meta / "trash"
    if trash.exists():
        found += [f"trash/{p.name}" for p in trash.iterdir()] or ["trash"]
    for folder in [meta, *(meta / "rollback").glob("*")]:
        found += [f"{folder.name}/{p.name}" for p in folder.glob(".tmp-*")]
    for point in (meta / "rollback").glob("*"):
        if not (point / "point.json").exists():
            found.append(f"rollback/{point.name} without point.json")
    return found


def assert_build(game: Game, build: str) -> None:
    """The folder is exactly ``build`` ("1" old, "2" new), the player files are intact,
    the state says so, and nothing is left behind."""
    assert snapshot(game.root) == (OLD_TREE if build == "1" else NEW_TREE)
    for path, data in PLAYER.items():
        assert (game.root / path).read_bytes() == data
    assert meta_leftovers(game.root) == []
    state = game.dir.load_state()
    assert state is not None
    expected = game.old_state if build == "1" else game.new_state
    assert state.build_id == expected.build_id
    assert {p: (f.md5, f.size) for p, f in state.files.items()} == {
        p: (f.md5, f.size) for p, f in expected.files.items()
    }
    # Renames keep mtimes, so the recorded ones allow a quick verify.
    for path, record in state.files.items():
        assert (game.root / path).stat().st_mtime_ns == record.mtime_ns, path
    if build == "1":
        assert state == game.old_state


# --------------------------------------------------------------------------------------
# Crash points in a child process


CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from core.gamedir.folder import GameDir, InstallState
    from core.gamedir.journal import Change, commit, recover, rollback
    op, root = sys.argv[1], Path(sys.argv[2])
    game = GameDir(root)
    if op == "commit":
        plan = json.loads(Path(sys.argv[3]).read_text())
        commit(
            game,
            [Change(p, s) for p, s in plan["changes"]],
            InstallState.from_json(plan["new_state"]),
            label="update",
            folders_to_create=plan["create"],
            folders_to_remove=plan["remove"],
        )
    elif op == "rollback":
        rollback(game)
    else:
        recover(game)
    """
)


def run_child(op: str, game: Game, crash: str | None) -> int:
    env = {k: v for k, v in os.environ.items() if k != crashpoint_module.ENV}
    if crash:
        env[crashpoint_module.ENV] = crash
    args = [sys.executable, "-c", CHILD, op, str(game.root)]
    if op == "commit":
        args.append(str(game.plan_file()))
    done = subprocess.run(args, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode in (0, -signal.SIGKILL), done.stderr
    return done.returncode


def sweep(tmp_path: Path, name: str, op: str, prepare: Callable[[Path], Game]) -> int:
    """Kill ``op`` at the 1st, 2nd, … call of crash point ``name`` until a run passes the
    last one; after every kill, recover and check the folder. Returns the kills."""
    n = 1
    while True:
        game = prepare(tmp_path / f"{name}-{n}")
        if run_child(op, game, f"{name}:{n}") == 0:
            break
        message = recover(game.dir)
        # A commit whose journal exists always finishes; a rollback too.
        assert_build(game, "2" if op == "commit" else "1")
        assert (message is None) == name.endswith("journal-removed"), message
        n += 1
    assert_build(game, "2" if op == "commit" else "1")
    return n - 1


@pytest.mark.parametrize("name", COMMIT_POINTS)
def test_a_commit_killed_at_any_point_recovers_to_exactly_one_build(
    tmp_path: Path, name: str
) -> None:
    kills = sweep(tmp_path, name, "commit", make_game)
    per_file = {"commit-backup": len(REPLACED), "commit-replace": len(CHANGED)}
    assert kills == per_file.get(name, 1)


def committed_game(where: Path) -> Game:
    game = make_game(where)
    game.commit()
    return game


@pytest.mark.parametrize("name", ROLLBACK_POINTS)
def test_a_rollback_killed_at_any_point_recovers_to_the_old_build(
    tmp_path: Path, name: str
) -> None:
    kills = sweep(tmp_path, name, "rollback", committed_game)
    present = len(set(REPLACED) - set(DELETED)) + len(ADDED)
    per_file = {"rollback-trash": present, "rollback-restore": len(REPLACED)}
    assert kills == per_file.get(name, 1)
    assert GameDir(tmp_path / f"{name}-1" / "game").rollback_points() == []


def test_a_recovery_killed_part_way_is_recovered_again(tmp_path: Path) -> None:
    game = make_game(tmp_path)
    assert run_child("commit", game, "commit-replace:3") == -signal.SIGKILL
    assert run_child("recover", game, "commit-replace:2") == -signal.SIGKILL
    assert run_child("recover", game, "commit-state-saved") == -signal.SIGKILL
    assert recover(game.dir) == "completed the interrupted update from build 1 to build 2"
    assert_build(game, "2")


def test_recovery_undoes_a_commit_whose_staged_file_was_lost(tmp_path: Path) -> None:
    game = make_game(tmp_path)
    assert run_child("commit", game, "commit-replace:2") == -signal.SIGKILL
    staged = sorted((game.root / ".slipstream" / "staging").rglob("*.ogg"))
    assert staged, "the crash should come before the last file is moved in"
    staged[0].unlink()
    message = recover(game.dir)
    assert message is not None and message.startswith("undid")
    # The other staged files are back in staging, as before the commit.
    staging = game.root / ".slipstream/staging"
    assert sorted(
        p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file()
    ) == sorted(set(CHANGED) - {"music/theme.ogg"})
    game.dir.clear_staging()
    assert_build(game, "1")


def test_a_torn_journal_is_discarded_and_leaves_the_old_build(tmp_path: Path) -> None:
    for cut in (0, 40, None):
        game = make_game(tmp_path / f"cut-{cut}")
        assert run_child("commit", game, "journal-written") == -signal.SIGKILL
        journal = game.root / ".slipstream" / "journal.json"
        size = journal.stat().st_size
        with open(journal, "r+b") as f:
            f.truncate(size // 2 if cut is None else cut)
        message = recover(game.dir)
        assert message is not None and message.startswith("discarded")
        assert_build(game, "1")
        assert game.dir.rollback_points() == []
        assert recover(game.dir) is None


def test_a_kill_while_writing_the_journal_leaves_the_old_build_and_staging(
    tmp_path: Path,
) -> None:
    """Killed before the journal's rename: no journal at all, staging intact."""
    game = make_game(tmp_path)
    before = sorted(p.name for p in (game.root / ".slipstream" / "staging").rglob("*"))
    stray = game.root / ".slipstream" / ".tmp-abc123"
    stray.write_bytes(b'{"format": 1, "op": "com')
    assert recover(game.dir) is None
    assert not stray.exists()
    assert snapshot(game.root) == OLD_TREE
    assert sorted(p.name for p in (game.root / ".slipstream" / "staging").rglob("*")) == before


def test_crashpoint_counts_calls_per_name(tmp_path: Path) -> None:
    script = (
        "from core.crashpoint import crashpoint\n"
        "for i in range(5):\n"
        "    crashpoint('other'); print(i, flush=True); crashpoint('here')\n"
    )
    env = {**os.environ, crashpoint_module.ENV: "here:3"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.split() == ["0", "1", "2"]
    env[crashpoint_module.ENV] = "here"
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout.split()) == (-signal.SIGKILL, ["0"])


# --------------------------------------------------------------------------------------
# Commit and rollback without faults


def test_commit_installs_exactly_the_new_build_and_keeps_the_old_files(tmp_path: Path) -> None:
    game = make_game(tmp_path)
    point = commit(
        game.dir, game.changes, game.new_state, label="update",
        folders_to_create=NEW_FOLDERS, folders_to_remove=["logs", "legacy"],
    )  # fmt: skip
    assert_build(game, "2")
    assert (game.root / "legacy").is_dir()  # it still holds the player's notes
    assert not (game.root / "logs").exists()
    assert (point.seq, point.from_build, point.to_build) == (1, "1", "2")
    assert point.state_before == game.old_state
    assert sorted(point.replaced) == REPLACED
    assert sorted(point.added) == ADDED
    for path in REPLACED:
        kept = (point.path / "files" / path).read_bytes()
        assert kept == {**OLD_FILES, **PLAYER_GUIDE}[path]
    assert game.dir.rollback_points() == [point]


def test_rollback_restores_exactly_the_old_build_without_a_server(tmp_path: Path) -> None:
    game = committed_game(tmp_path)
    (game.root / ".slipstream/staging").rmdir()
    state = rollback(game.dir)
    assert state == game.old_state
    assert_build(game, "1")
    assert (game.root / "extras/guide.pdf").read_bytes() == PLAYER_GUIDE["extras/guide.pdf"]
    assert game.dir.rollback_points() == []
    with pytest.raises(NoRollbackError):
        rollback(game.dir)


def test_files_no_change_names_are_never_touched(tmp_path: Path) -> None:
    game = make_game(tmp_path)
    watched = [*PLAYER, "data/b.dat"]
    inodes = {p: os.stat(game.root / p) for p in watched}
    game.commit()
    rollback(game.dir)
    for path in watched:
        after = os.stat(game.root / path)
        assert (after.st_ino, after.st_mtime_ns) == (inodes[path].st_ino, inodes[path].st_mtime_ns)


def builds(n: int) -> dict[str, bytes]:
    return {"data/v.txt": blob(f"v{n}"), f"data/only-{n}.txt": blob(f"only {n}")}


def test_keep_points_drops_the_oldest_and_rollback_walks_back_through_the_rest(
    tmp_path: Path,
) -> None:
    root = tmp_path / "game"
    game = GameDir(root)
    for path, data in builds(1).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    states = {1: state_of("1", root, builds(1), ("data",))}
    game.save_state(states[1])
    for n in (2, 3, 4):
        for path, data in builds(n).items():
            game.staged_path(path).write_bytes(data)
        states[n] = state_of(str(n), game.staging, builds(n), ("data",))
        changes = [Change(p, p) for p in builds(n)] + [Change(f"data/only-{n - 1}.txt", None)]
        commit(game, changes, states[n], label=f"update to {n}")
    points = game.rollback_points()
    assert [(p.seq, p.from_build, p.to_build) for p in points] == [(3, "3", "4"), (2, "2", "3")]
    assert not (root / ".slipstream/rollback/1").exists()
    assert rollback(game, points[-1]) == states[2]
    assert snapshot(root) == tree_of(builds(2), ("data",))
    assert game.rollback_points() == []


def test_a_repair_keeps_no_point_and_rollback_never_brings_damage_back(tmp_path: Path) -> None:
    game = make_game(tmp_path)
    game.commit()
    damaged = game.root / CHANGED[0]
    damaged.write_bytes(b"damage")
    # The repair: the same build again, the damaged file staged afresh.
    game.dir.staged_path(CHANGED[0]).write_bytes(NEW_FILES[CHANGED[0]])
    repaired = state_of("2", game.dir.staging, NEW_FILES, NEW_FOLDERS)
    repaired = replace(
        repaired, files={**game.new_state.files, CHANGED[0]: repaired.files[CHANGED[0]]}
    )
    commit(game.dir, [Change(CHANGED[0], CHANGED[0])], repaired, label="repair", keep_points=1)
    points = game.dir.rollback_points()
    assert [(p.from_build, p.to_build) for p in points] == [("1", "2")]
    rollback(game.dir)
    assert_build(game, "1")


def test_rollback_drops_a_repair_point_an_older_version_left(tmp_path: Path) -> None:
    game = make_game(tmp_path)
    game.commit()
    first = game.dir.rollback_points()[0]
    # A repair point as older versions kept it: the damaged copy of a file, aside.
    repair = replace(first, seq=first.seq + 1, from_build="2", state_before=game.new_state,
                     replaced=(CHANGED[0],), added=(), path=first.path.parent / "2")  # fmt: skip
    (repair.path / "files" / CHANGED[0]).parent.mkdir(parents=True)
    (repair.path / "files" / CHANGED[0]).write_bytes(b"damage")
    (repair.path / "point.json").write_text(json.dumps(repair.to_json()))
    assert [p.is_repair for p in game.dir.rollback_points()] == [True, False]
    rollback(game.dir)
    assert_build(game, "1")
    assert game.dir.rollback_points() == []


def test_keep_points_zero_keeps_no_point(tmp_path: Path) -> None:
    game = make_game(tmp_path)
    game.commit(keep_points=0)
    assert_build(game, "2")
    assert game.dir.rollback_points() == []
    assert not (game.root / ".slipstream/rollback/1").exists()


# --------------------------------------------------------------------------------------
# Errors part way (E2): every one leaves the old build and a staging ready to retry


def failing_nth_replace(monkeypatch: pytest.MonkeyPatch, nth: int) -> list[int]:
    """Make the ``nth`` os.replace fail with EIO; returns the call counter."""
    real = os.replace
    calls = [0]

    def replace_(src: object, dst: object, **kw: object) -> None:
        calls[0] += 1
        if calls[0] == nth:
            raise OSError(errno.EIO, "Input/output error (injected)", str(dst))
        real(src, dst, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", replace_)
    return calls


def test_an_error_at_any_rename_of_a_commit_leaves_the_old_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the new state is saved, an error undoes the commit and raises; after it, the
    commit has happened and the next recover() finishes the clean-up."""
    for nth in range(1, 100):
        game = make_game(tmp_path / str(nth))
        staged = snapshot(game.root / ".slipstream/staging")
        with monkeypatch.context() as patch:
            calls = failing_nth_replace(patch, nth)
            try:
                game.commit()
            except LocalIOError as exc:
                assert "injected" in str(exc)
            else:
                if calls[0] < nth:
                    break  # the fault never fired: every rename has been tried
                recover(game.dir)
                assert_build(game, "2")
                continue
        assert snapshot(game.root) == OLD_TREE
        assert game.dir.load_state() == game.old_state
        assert snapshot(game.root / ".slipstream/staging") == staged
        assert not (game.root / ".slipstream/journal.json").exists()
        assert game.dir.rollback_points() == []
        game.commit()  # the retry succeeds
        assert_build(game, "2")
    assert nth > len(CHANGED) + len(REPLACED)
    assert_build(game, "2")


def test_an_error_at_any_rename_of_a_rollback_leaves_the_new_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for nth in range(1, 100):
        game = committed_game(tmp_path / str(nth))
        [point] = game.dir.rollback_points()
        with monkeypatch.context() as patch:
            calls = failing_nth_replace(patch, nth)
            try:
                rollback(game.dir)
            except LocalIOError as exc:
                assert "injected" in str(exc)
            else:
                if calls[0] < nth:
                    break
                recover(game.dir)
                assert_build(game, "1")
                continue
        assert snapshot(game.root) == NEW_TREE
        state = game.dir.load_state()
        assert state is not None and state.build_id == "2"
        assert game.dir.rollback_points() == [point]
        assert meta_leftovers(game.root) == []
        rollback(game.dir)
        assert_build(game, "1")
    assert nth > len(REPLACED)
    assert_build(game, "1")


# --------------------------------------------------------------------------------------
# Refusals before the first rename


def test_a_symlink_where_a_managed_folder_is_refuses_the_commit(tmp_path: Path) -> None:
    game = make_game(tmp_path)
    outside = tmp_path / "outside"
    os.rename(game.root / "data", outside)
    os.symlink(outside, game.root / "data")
    game_before, outside_before = snapshot(game.root), snapshot(outside)
    staged = snapshot(game.root / ".slipstream/staging")
    with pytest.raises(UnsafePathError, match="symbolic link"):
        game.commit()
    assert snapshot(game.root) == game_before
    assert snapshot(outside) == outside_before
    assert snapshot(game.root / ".slipstream/staging") == staged
    assert not (game.root / ".slipstream/journal.json").exists()
    assert not (game.root / ".slipstream/rollback").exists()
    with pytest.raises(UnsafePathError):
        game.dir.game_path("data/a.dat")


def test_a_symlink_in_place_of_a_managed_file_refuses_the_commit(tmp_path: Path) -> None:
    game = make_game(tmp_path)
    target = tmp_path / "elsewhere.txt"
    target.write_bytes(b"not the game's")
    (game.root / "readme.txt").unlink()
    os.symlink(target, game.root / "readme.txt")
    before = snapshot(game.root)
    with pytest.raises(UnsafePathError):
        game.commit()
    assert snapshot(game.root) == before
    assert target.read_bytes() == b"not the game's"


def test_staging_and_state_are_never_reached_through_a_link(tmp_path: Path) -> None:
    game = GameDir(tmp_path / "game")
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "game").mkdir()
    os.symlink(outside, tmp_path / "game" / ".slipstream")
    with pytest.raises(UnsafePathError):
        game.staged_path("a/b.dat")
    with pytest.raises(UnsafePathError):
        game.save_state(state_of("1", tmp_path, {}, ()))
    assert list(outside.iterdir()) == []


def test_a_player_folder_where_the_new_build_puts_a_file_refuses_the_commit(
    tmp_path: Path,
) -> None:
    game = make_game(tmp_path)
    (game.root / "data/new.dat").mkdir()
    (game.root / "data/new.dat/mine.txt").write_bytes(b"mine")
    before = snapshot(game.root)
    with pytest.raises(FileConflictError, match="other files"):
        game.commit()
    assert snapshot(game.root) == before
    assert not (game.root / ".slipstream/journal.json").exists()


def test_a_commit_refuses_while_a_journal_is_pending(tmp_path: Path) -> None:
    game = make_game(tmp_path)
    assert run_child("commit", game, "commit-replace:1") == -signal.SIGKILL
    with pytest.raises(StateError, match="interrupted"):
        game.commit()
    recover(game.dir)
    assert_build(game, "2")


def test_a_missing_staged_file_refuses_the_commit(tmp_path: Path) -> None:
    game = make_game(tmp_path)
    (game.root / ".slipstream/staging/data/new.dat").unlink()
    with pytest.raises(StateError, match="missing"):
        game.commit()
    assert snapshot(game.root) == OLD_TREE


# --------------------------------------------------------------------------------------
# The lock


def test_the_lock_refuses_a_second_holder_and_names_it(tmp_path: Path) -> None:
    game = make_game(tmp_path)
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from core.gamedir.folder import GameDir
        with GameDir(Path(sys.argv[1])).lock():
            print("locked", flush=True)
            sys.stdin.read()
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(game.root)],
        cwd=PROJECT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(GameLockedError, match=rf"Process {holder.pid} holds"):
            game.commit()
        with (
            pytest.raises(GameLockedError, match="Another Slipstream operation"),
            game.dir.lock(),
        ):
            pass
        assert game.dir.load_state() == game.old_state
    finally:
        holder.communicate("")
    assert holder.returncode == 0
    game.commit()
    assert_build(game, "2")


def test_the_lock_is_reentrant_for_its_holder_only(tmp_path: Path) -> None:
    game = make_game(tmp_path)
    mine = game.dir
    with mine.lock():
        with mine.lock():
            commit(
                mine,
                game.changes,
                game.new_state,
                label="update",
                folders_to_create=NEW_FOLDERS,
                folders_to_remove=["logs", "legacy"],
            )
        with pytest.raises(GameLockedError):
            rollback(GameDir(game.root))
        assert recover(mine) is None
    assert_build(game, "2")


# --------------------------------------------------------------------------------------
# The state file


def test_the_state_round_trips(tmp_path: Path) -> None:
    game = make_game(tmp_path)
    state = replace(
        game.new_state,
        branch="beta",
        files={
            **game.new_state.files,
            "x.bin": InstalledFile("x.bin", "a" * 32, 5, "b" * 64, True, 123),
        },
    )
    game.dir.save_state(state)
    assert game.dir.load_state() == state
    assert InstallState.from_json(json.loads(json.dumps(state.to_json()))) == state


def damaged(doc: dict[str, object]) -> Iterator[tuple[str, bytes]]:
    yield "garbage", b"\x00\xffnot json"
    yield "truncated", json.dumps(doc).encode()[:-10]
    yield "a list", b"[]"
    for key, value in [
        ("format", 2),
        ("build_id", 7),
        ("os", "amiga"),
        ("files", [{"path": "../x", "md5": "0" * 32, "size": 1}]),
        ("files", [{"path": "x", "md5": "nope", "size": 1}]),
        ("files", [{"path": "x", "md5": "0" * 32, "size": "1"}]),
        ("failed_patches", [["0" * 32]]),
        ("surprise", True),
    ]:
        yield f"{key}={value!r}", json.dumps({**doc, key: value}).encode()
    without = dict(doc)
    del without["files"]
    yield "no files", json.dumps(without).encode()


def test_a_damaged_state_is_an_error_never_a_fresh_install(tmp_path: Path) -> None:
    game = make_game(tmp_path)
    state_file = game.root / ".slipstream/state.json"
    good = json.loads(state_file.read_bytes())
    for what, data in damaged(good):
        state_file.write_bytes(data)
        with pytest.raises(StateError):
            game.dir.load_state()
            pytest.fail(f"{what} was accepted")
    with pytest.raises(StateError):
        game.commit()
    assert snapshot(game.root) == OLD_TREE


def test_a_lost_state_file_beside_rollback_points_is_damage(tmp_path: Path) -> None:
    game = committed_game(tmp_path)
    (game.root / ".slipstream/state.json").unlink()
    with pytest.raises(StateError, match="missing"):
        game.dir.load_state()
    assert GameDir(tmp_path / "never").load_state() is None


def test_documents_are_cached_by_name(tmp_path: Path) -> None:
    game = GameDir(tmp_path)
    assert game.load_document("build-1") is None
    game.save_document("build-1", b"\x78\x9cbytes")
    assert game.load_document("build-1") == b"\x78\x9cbytes"
    for bad in ("../x", "a/b", "", ".hidden"):
        with pytest.raises(UnsafePathError):
            game.save_document(bad, b"")
