"""Crash-safe commit and rollback of a game folder (DESIGN.md, "Commit").

Both are a *swap*, a list of steps over game paths. A step moves the file now at its path
aside (into the rollback point, or into a rollback's trash) and moves a prepared file in
(from staging, or back out of the rollback point), or nothing when the path is removed.
Every move is a rename inside the game folder's filesystem, so a swap needs no free space.

Before the first rename the whole swap is written to ``.slipstream/journal.json`` and
fsynced. Each step's progress can then be read from the disk alone, so every step is
idempotent in both directions:

    incoming file present, nothing aside   not started
    incoming file present, old file aside  half done (old out, new not yet in)
    incoming file gone, game file present  done

Recovery after a crash replays the swap *forward* from wherever it stopped (staging was
complete and verified before the journal was written, so forward is always possible) and
then finishes the bookkeeping. An error (not a crash) before the new state is saved, or a
recovery that finds an incoming file lost, walks the same steps *backward* instead. Either
way the folder ends as exactly the old build or exactly the new one; files that no step
names (saves, mods) are never touched, and folders are removed only when empty.

journal.json (format 1)::

    {"format": 1, "op": "commit" | "rollback", "seq": 3, "label": "update",
     "created": 1712345678.5, "keep_points": 2, "done": false,
     "steps": [{"path": "data/a.pak",                      game-relative
                "aside": "rollback/3/files/data/a.pak",    meta-relative
                "incoming": "staging/data/a.pak" | null,   meta-relative; null removes
                "existed": true}, ...],                    a file was there when planned
     "remove_dirs": [...], "create_dirs": [...],           game-relative, in order
     "state_before": {InstallState} | null, "state_after": {InstallState},
     "point": {RollbackPoint} | null}                      rollback: the point undone

Steps without an incoming file run first, then the folders, then the rest. The symbolic
links a build makes (GOG's ``DepotLink``) are not steps: they are read from the two states
the journal records. The old build's links go right after the files that leave, the new
build's are made after the files that arrive, and both are idempotent in either direction.
A link is only ever removed when it is exactly the one the build made; anything else at its
path is the player's, and a commit that would have to overwrite it is refused up front.

Crash points (:mod:`core.crashpoint`), in order: commit ``journal-written``,
``commit-backup`` (after each move aside), ``commit-replace`` (after each move in),
``commit-folders``, ``commit-point-written``, ``commit-state-saved``, ``journal-done``,
``commit-cleaned``, ``journal-removed``; rollback ``rollback-journal-written``,
``rollback-trash``, ``rollback-restore``, ``rollback-folders``, ``rollback-point-dropped``,
``rollback-state-saved``, ``rollback-journal-done``, ``rollback-cleaned``,
``rollback-journal-removed``.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import os
import shutil
import stat
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn

from core.crashpoint import crashpoint
from core.errors import (
    FileConflictError,
    FormatError,
    LocalIOError,
    NoRollbackError,
    SlipstreamError,
    StateError,
)
from core.format import paths, zjson
from core.format.fields import Fields
from core.fs import fsync_dir, fsync_file
from core.gamedir.folder import (
    MAX_FILES,
    GameDir,
    InstallState,
    RollbackPoint,
    check_components,
    make_dirs,
    read_if_present,
    read_json,
    write_durable,
)
from core.gamedir.verify import link_text

JOURNAL_FORMAT = 1
FLUSH_THREADS = 8
LINKS_SUPPORTED = os.name != "nt"
"""Whether the build's links are made: Windows needs a privilege for symbolic links, so
there they are reported instead (as GOG's own clients do)."""


class _Unread(enum.Enum):
    UNREAD = "unread"


UNREAD = _Unread.UNREAD
"""``commit``'s default: the installed state is read from the folder."""


@dataclass(frozen=True)
class Change:
    """One game path a commit changes."""

    path: str
    """Game-relative."""
    staged: str | None
    """Staging-relative file to move in; None deletes the game file."""


@dataclass(frozen=True)
class _Step:
    path: str
    aside: str
    incoming: str | None
    existed: bool


@dataclass(frozen=True)
class _Swap:
    op: str
    seq: int
    label: str
    created: float
    keep_points: int
    steps: tuple[_Step, ...]
    remove_dirs: tuple[str, ...]
    create_dirs: tuple[str, ...]
    state_before: InstallState | None
    state_after: InstallState
    point: RollbackPoint | None = None
    done: bool = False

    @property
    def clearing(self) -> list[_Step]:
        return [s for s in self.steps if s.incoming is None]

    @property
    def filling(self) -> list[_Step]:
        return [s for s in self.steps if s.incoming is not None]


@dataclass(frozen=True)
class _Names:
    """The crash points of one kind of swap."""

    written: str
    aside: str
    incoming: str
    folders: str
    settled: str
    saved: str
    done: str
    cleaned: str
    removed: str


_CRASHPOINTS = {
    "commit": _Names(
        "journal-written", "commit-backup", "commit-replace", "commit-folders",
        "commit-point-written", "commit-state-saved", "journal-done", "commit-cleaned",
        "journal-removed",
    ),
    "rollback": _Names(
        "rollback-journal-written", "rollback-trash", "rollback-restore", "rollback-folders",
        "rollback-point-dropped", "rollback-state-saved", "rollback-journal-done",
        "rollback-cleaned", "rollback-journal-removed",
    ),
}  # fmt: skip


# --- the two operations ------------------------------------------------------------------


def commit(
    game: GameDir,
    changes: Sequence[Change],
    new_state: InstallState,
    *,
    label: str,
    keep_points: int = 2,
    folders_to_create: Sequence[str] = (),
    folders_to_remove: Sequence[str] = (),
    installed: InstallState | _Unread | None = UNREAD,
) -> RollbackPoint:
    """Move every staged file into the game folder and make ``new_state`` the installed one.

    ``installed``: the state installed now, when the caller read it under the same hold of
    the folder's lock (an update reads it as it starts); otherwise it is read here.

    Precondition: every staged file exists and was verified. What each change replaces or
    deletes goes into a new rollback point; the oldest points beyond ``keep_points`` are
    dropped afterwards (the returned point too, when ``keep_points`` is 0). Folders the
    new build dropped are removed only when empty. Nothing is renamed until every path was
    checked: a link where a managed file or folder should be is an UnsafePathError, and a
    file or folder in the way is a FileConflictError. An error part way leaves the folder
    as it was, with the staged files back in staging."""
    if keep_points < 0:
        raise ValueError("keep_points must not be negative")
    with game.lock():
        _refuse_pending(game)
        before = game.load_state() if isinstance(installed, _Unread) else installed
        swap = _plan_commit(
            game, before, changes, new_state, label, keep_points,
            folders_to_create, folders_to_remove,
        )  # fmt: skip
        _write_journal(game, swap)
        crashpoint("journal-written")
        point = _run(game, swap)
        assert point is not None
        return point


def rollback(game: GameDir, point: RollbackPoint | None = None) -> InstallState:
    """Go back to the build before ``point`` (default: the newest point), from the files
    the points hold, without a server. Newer points are undone first, newest first; each
    undone point is deleted. Returns the state now installed."""
    with game.lock():
        _refuse_pending(game)
        # A repair's point holds only the damage it mended: going back means going to the
        # build before, so such points are dropped, never undone.
        points = []
        for p in game.rollback_points():
            if p.is_repair and (point is None or p.seq >= point.seq):
                game.drop_point(p)
            else:
                points.append(p)
        if not points:
            raise NoRollbackError(f"{game.root} has no rollback point.")
        target = points[0] if point is None else point
        chain = [p for p in points if p.seq >= target.seq]
        if target.seq not in {p.seq for p in chain}:
            raise NoRollbackError(f"Rollback point {target.seq} is no longer in {game.root}.")
        if chain[-1].state_before is None:
            raise NoRollbackError(
                f"Point {target.seq} is the first install of {game.root}; "
                "there is no earlier build to go back to."
            )
        state = None
        for p in chain:
            state = _undo_point(game, p)
        assert state is not None
        return state


def recover(game: GameDir) -> str | None:
    """Finish (or, when it cannot be finished, undo) an interrupted commit or rollback."""
    with game.lock():
        game.sweep_temporaries()
        data = read_if_present(game.journal_file)
        if data is None:
            return None
        try:
            doc = read_json(data, game.journal_file)
        except StateError:
            return _discard_torn(game)
        swap = _swap_from_json(doc, game)
        names = _CRASHPOINTS[swap.op]
        what = _describe(swap)
        if swap.done:
            _close(game, swap, names)
            return f"finished cleaning up after the {what}"
        if _can_forward(game, swap):
            _run(game, swap)
            return f"completed the interrupted {what}"
        _backward(game, swap)
        _unsettle(game, swap)
        _remove_journal(game)
        return f"undid the interrupted {what}: some of its new files were lost"


# --- planning: every check happens before the journal is written --------------------------


def _plan_commit(
    game: GameDir,
    before: InstallState | None,
    changes: Sequence[Change],
    new_state: InstallState,
    label: str,
    keep_points: int,
    folders_to_create: Sequence[str],
    folders_to_remove: Sequence[str],
) -> _Swap:
    seq = _next_seq(game)
    files = dict(new_state.files)
    clearing: list[_Step] = []
    filling: list[_Step] = []
    seen: set[str] = set()
    staged_seen: set[str] = set()
    unflushed: list[Path] = []
    game.meta_dirs("staging", mode=0o700)
    root, staging = os.fspath(game.root), os.fspath(game.staging)
    checked: set[str] = set()  # staging folders checked (plain strings: thousands of files)
    for change in changes:
        path = paths.validate(change.path)
        if path in seen:
            raise ValueError(f"{path} is changed twice")
        seen.add(path)
        aside = f"rollback/{seq}/files/{path}"
        existed = _is_file(os.path.join(root, path))
        if change.staged is None:
            if path in files:
                raise ValueError(f"{path} is deleted, but the new state lists it")
            clearing.append(_Step(path, aside, None, existed))
            continue
        staged = paths.validate(change.staged, "staged path")
        if path not in files or staged in staged_seen:
            raise ValueError(f"{path}: not in the new state, or its staged file is shared")
        staged_seen.add(staged)
        check_components(game.staging, staged.split("/")[:-1], checked)
        try:
            st = os.lstat(os.path.join(staging, staged))
        except (FileNotFoundError, NotADirectoryError):
            raise StateError(f"The staged file {staged} for {path} is missing.") from None
        if stat.S_ISLNK(st.st_mode):
            check_components(game.staging, staged.split("/"))  # raises, naming the link
        if not stat.S_ISREG(st.st_mode) or st.st_size != files[path].size:
            raise StateError(
                f"The staged file {staged} is not the {files[path].size}-byte file the new "
                f"build has at {path}."
            )
        # A rename keeps the mtime, so the staged file's is the installed file's.
        files[path] = replace(files[path], mtime_ns=st.st_mtime_ns)
        filling.append(_Step(path, aside, f"staging/{staged}", existed))
        if not game.is_staged_flushed(staged):
            unflushed.append(game.staging / staged)
    _flush_files(unflushed)
    after = replace(new_state, files=files)
    removed = {s.path for s in clearing}
    drop = {paths.validate(d, "folder") for d in folders_to_remove}
    drop |= {p for s in clearing for p in _parents(s.path)}
    make = {paths.validate(d, "folder") for d in folders_to_create}
    make |= {p for s in filling for p in _parents(s.path)}
    make |= {p for path in (new_state.links if LINKS_SUPPORTED else ()) for p in _parents(path)}
    swap = _Swap(
        op="commit",
        seq=seq,
        label=label,
        created=time.time(),
        keep_points=keep_points,
        steps=(*clearing, *filling),
        remove_dirs=_existing_dirs(game, drop - _needed_dirs(after)),
        create_dirs=_missing_dirs(game, make),
        state_before=before,
        state_after=after,
    )
    _check_targets(game, swap, removed)
    return swap


def _flush_files(files: list[Path]) -> None:
    """fsync the staged files that staging did not flush itself, before the journal names
    them: the commit fsyncs folders, never file contents, so a power cut just after it could
    otherwise leave a new file empty under its name while the state names the new build.
    A few at a time (fsync waits for the disk without the GIL)."""
    if not files:
        return
    try:
        with ThreadPoolExecutor(min(FLUSH_THREADS, len(files)), "flush") as pool:
            list(pool.map(fsync_file, files))
    except OSError as exc:
        raise LocalIOError.wrap(exc, "write the staged file") from None


def _undo_point(game: GameDir, point: RollbackPoint) -> InstallState:
    if point.state_before is None:
        raise NoRollbackError(f"Point {point.seq} is the first install; nothing is before it.")
    current = game.load_state()
    if current is None or current.build_id != point.to_build:
        raise StateError(
            f"Rollback point {point.seq} undoes build {point.to_build}, but "
            f"{current.build_id if current else 'nothing'} is installed."
        )
    seq = point.seq
    trash = f"trash/{seq}"
    check_components(game.root, [".slipstream", "trash", str(seq)])
    _remove_empty_tree(game.meta / trash)  # left by a rollback that was undone
    if os.path.lexists(game.meta / trash):
        raise StateError(f"{game.meta / trash} holds files from an earlier rollback.")
    steps = [_Step(p, f"{trash}/{p}", None, _is_file(game.root / p)) for p in point.added]
    for path in point.replaced:
        kept = f"rollback/{seq}/files/{path}"
        check_components(game.meta, kept.split("/"))
        if not os.path.isfile(game.meta / kept):
            raise StateError(f"Rollback point {seq} has lost its copy of {path}.")
        steps.append(_Step(path, f"{trash}/{path}", kept, _is_file(game.root / path)))
    before = point.state_before
    drop = set(current.folders) | {p for path in point.added for p in _parents(path)}
    make = set(before.folders) | {p for path in point.replaced for p in _parents(path)}
    make |= {p for path in (before.links if LINKS_SUPPORTED else ()) for p in _parents(path)}
    swap = _Swap(
        op="rollback",
        seq=seq,
        label=point.label,
        created=time.time(),
        keep_points=0,
        steps=tuple(steps),
        remove_dirs=_existing_dirs(game, drop - _needed_dirs(before)),
        create_dirs=_missing_dirs(game, make),
        state_before=current,
        state_after=before,
        point=point,
    )
    _check_targets(game, swap, set(point.added))
    _write_journal(game, swap)
    crashpoint("rollback-journal-written")
    _run(game, swap)
    return before


def _check_targets(game: GameDir, swap: _Swap, removed: set[str]) -> None:
    """Refuse, before any rename, a link anywhere on a path the swap touches, a file where
    a folder is needed, a folder with other content where a file goes, and a game folder
    that is not on the staging folder's filesystem (a commit must be a rename, E3)."""
    device = os.lstat(game.meta).st_dev
    for folder in (game.root, game.staging):
        if os.path.isdir(folder) and os.lstat(folder).st_dev != device:
            raise LocalIOError(
                f"{folder} is on another filesystem than {game.meta}, so files cannot be "
                "moved into place by a rename; nothing was changed."
            )
    dropping = set(swap.remove_dirs)
    for rel in (*swap.remove_dirs, *swap.create_dirs):
        check_components(game.root, rel.split("/"))
    _check_links(game, swap, removed)
    for step in swap.steps:
        parts = step.path.split("/")
        check_components(game.root, parts)
        if step.incoming is None:
            continue
        here = game.root
        for depth, part in enumerate(parts):
            here = here / part
            try:
                st = os.lstat(here)
            except FileNotFoundError:
                break
            if st.st_dev != device:
                raise LocalIOError(
                    f"{here} is on another filesystem than {game.meta}, so files cannot be "
                    "moved into place by a rename; nothing was changed."
                )
            rel = "/".join(parts[: depth + 1])
            last = depth == len(parts) - 1
            if not last and not os.path.isdir(here):
                if rel in removed:
                    break  # a file the swap removes first
                raise FileConflictError(f"{here} is a file, but {step.path} goes inside it.")
            if last and os.path.isdir(here) and not _clears_out(game, rel, removed, dropping):
                raise FileConflictError(f"{here} is a folder with other files in it.")


def _check_links(game: GameDir, swap: _Swap, removed: set[str]) -> None:
    """Refuse, before any rename, a link the build makes where something of the player's
    is (it would have to be overwritten) or whose folder is itself a link."""
    if not LINKS_SUPPORTED:
        return
    drop, make = _link_changes(swap)
    for path, target in make.items():
        check_components(game.root, path.split("/")[:-1])
        full = game.root / path
        if path in removed or _is_our_link(game, path, target):
            continue
        if path in drop and _is_our_link(game, path, drop[path]):
            continue
        if os.path.lexists(full):
            raise FileConflictError(
                f"{full} is in the way of a link the build makes there; move it elsewhere, "
                "then run the command again."
            )


def _clears_out(game: GameDir, folder: str, removed: set[str], dropping: set[str]) -> bool:
    """Whether the swap empties and removes ``folder`` before a file takes its place."""
    if folder not in dropping:
        return False
    for where, dirs, names in os.walk(game.root / folder):
        rel = Path(where).relative_to(game.root).as_posix()
        if any(f"{rel}/{d}" not in dropping for d in dirs):
            return False
        if any(f"{rel}/{n}" not in removed for n in names):
            return False
    return True


def _next_seq(game: GameDir) -> int:
    check_components(game.root, [".slipstream", "rollback"])
    try:
        taken = [int(p.name) for p in game.rollback_dir.iterdir() if p.name.isdigit()]
    except FileNotFoundError:
        taken = []
    return max(taken, default=0) + 1


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _needed_dirs(state: InstallState) -> set[str]:
    held = [*state.files, *(state.links if LINKS_SUPPORTED else ())]
    return set(state.folders) | {p for path in held for p in _parents(path)}


def _existing_dirs(game: GameDir, rels: Iterable[str]) -> tuple[str, ...]:
    """The folders among ``rels`` that exist, deepest first (the order to remove them)."""
    found = [r for r in rels if os.path.isdir(game.root / r)]
    return tuple(sorted(found, key=lambda r: (-r.count("/"), r)))


def _missing_dirs(game: GameDir, rels: Iterable[str]) -> tuple[str, ...]:
    """The folders among ``rels`` that are not folders yet, shallowest first."""
    wanted = [r for r in rels if not os.path.isdir(game.root / r)]
    return tuple(sorted(wanted, key=lambda r: (r.count("/"), r)))


def _is_file(path: Path | str) -> bool:
    """Whether something other than a folder is at ``path`` (a link counts, unfollowed)."""
    try:
        return not stat.S_ISDIR(os.lstat(path).st_mode)
    except (OSError, ValueError):
        return False


def _refuse_pending(game: GameDir) -> None:
    if os.path.lexists(game.journal_file):
        raise StateError(
            f"{game.journal_file} records an interrupted operation; it must be finished first."
        )


# --- running a swap ------------------------------------------------------------------------


def _run(game: GameDir, swap: _Swap) -> RollbackPoint | None:
    """Forward through saving the new state, then clean up; an error before the state is
    saved undoes everything. Returns a commit's rollback point."""
    names = _CRASHPOINTS[swap.op]
    try:
        _forward(game, swap, names)
        point = _settle(game, swap, names)
    except (OSError, SlipstreamError) as exc:
        _abandon(game, swap, exc)
    # The swap has happened once the state is saved. The journal stays until the clean-up
    # is through, so a failure here is finished by the next recover() and is not raised.
    with contextlib.suppress(OSError, SlipstreamError):
        _close(game, swap, names)
    return point


def _forward(game: GameDir, swap: _Swap, names: _Names) -> None:
    touched: set[Path] = set()
    # Folders this run found or made as real folders: each step's moves check every
    # component on both sides, and 2,000 steps looked at the same few folders thousands of
    # times. A folder the run removes leaves the set.
    known: set[str] = set()
    drop_links, make_links = _link_changes(swap)
    for step in swap.clearing:
        _step_forward(game, step, names, touched, known)
    _remove_links(game, drop_links, touched)
    _fsync_all(touched)
    for rel in swap.remove_dirs:
        check_components(game.root, rel.split("/"))
        folder = os.path.join(game.root, *rel.split("/"))
        try:
            os.rmdir(folder)
            touched.add((game.root / rel).parent)
        except OSError:
            continue  # not empty (saves, mods) or already gone: it stays or it is done
        known.difference_update([k for k in known if k == folder or k.startswith(folder + os.sep)])
    for rel in swap.create_dirs:
        touched.update(p.parent for p in make_dirs(game.root, rel.split("/"), known=known))
    _fsync_all(touched)
    crashpoint(names.folders)
    for step in swap.filling:
        _step_forward(game, step, names, touched, known)
    _make_links(game, make_links, touched)
    _fsync_all(touched)


def _step_forward(
    game: GameDir, step: _Step, names: _Names, touched: set[Path], known: set[str]
) -> None:
    meta = os.fspath(game.meta)
    if step.incoming is not None and not os.path.lexists(os.path.join(meta, step.incoming)):
        return  # already moved in
    aside_there = os.path.lexists(os.path.join(meta, step.aside))
    if not aside_there and _is_file(os.path.join(game.root, step.path)):
        _move(game.root, step.path, game.meta, step.aside, touched, known)
        crashpoint(names.aside)
    if step.incoming is not None:
        _move(game.meta, step.incoming, game.root, step.path, touched, known)
        crashpoint(names.incoming)


def _backward(game: GameDir, swap: _Swap) -> None:
    """Undo whatever part of the swap is done, newest step first."""
    touched: set[Path] = set()
    drop_links, make_links = _link_changes(swap)
    _remove_links(game, make_links, touched)
    for step in reversed(swap.filling):
        _step_back(game, step, touched)
    _fsync_all(touched)
    for rel in reversed(swap.create_dirs):
        try:
            os.rmdir(game.root / rel)
            touched.add((game.root / rel).parent)
        except OSError:
            pass
    for rel in reversed(swap.remove_dirs):
        touched.update(p.parent for p in make_dirs(game.root, rel.split("/")))
    for step in reversed(swap.clearing):
        _step_back(game, step, touched)
    _make_links(game, drop_links, touched, undoing=True)
    _fsync_all(touched)


def _step_back(game: GameDir, step: _Step, touched: set[Path]) -> None:
    target = game.root / step.path
    aside_exists = os.path.lexists(game.meta / step.aside)
    # The game file is the incoming one if the old one went aside or there was none.
    if (
        step.incoming is not None
        and not os.path.lexists(game.meta / step.incoming)
        and _is_file(target)
        and (aside_exists or not step.existed)
    ):
        _move(game.root, step.path, game.meta, step.incoming, touched)
    if aside_exists and not os.path.lexists(target):
        _move(game.meta, step.aside, game.root, step.path, touched)


def _link_changes(swap: _Swap) -> tuple[dict[str, str], dict[str, str]]:
    """The links the swap removes and the links it makes (game path -> target), read from
    the states on either side, so the journal needs no list of its own."""
    before = swap.state_before.links if swap.state_before else {}
    after = swap.state_after.links
    drop = {p: t for p, t in before.items() if after.get(p) != t}
    make = {p: t for p, t in after.items() if before.get(p) != t}
    return drop, make


def _is_our_link(game: GameDir, path: str, target: str) -> bool:
    full = game.root / path
    return os.path.islink(full) and os.readlink(full) == link_text(path, target)


def _remove_links(game: GameDir, links: dict[str, str], touched: set[Path]) -> None:
    """Remove the links the build made; anything else at their paths is the player's."""
    if not LINKS_SUPPORTED:
        return
    for path, target in sorted(links.items()):
        check_components(game.root, path.split("/")[:-1])
        if _is_our_link(game, path, target):
            os.unlink(game.root / path)
            touched.add((game.root / path).parent)


def _make_links(
    game: GameDir, links: dict[str, str], touched: set[Path], undoing: bool = False
) -> None:
    """Create the build's links (idempotent: one already made is left as it is). Undoing,
    a path that something else took meanwhile is left alone rather than failing the undo."""
    if not LINKS_SUPPORTED:
        return
    for path, target in sorted(links.items()):
        parts = path.split("/")
        check_components(game.root, parts[:-1])
        if _is_our_link(game, path, target):
            continue
        if undoing and os.path.lexists(game.root / path):
            continue
        touched.update(p.parent for p in make_dirs(game.root, parts[:-1]))
        os.symlink(link_text(path, target), game.root / path)
        touched.add((game.root / path).parent)


def repair_links(game: GameDir, links: dict[str, str]) -> list[str]:
    """Make the build's ``links`` again where verify found them missing or pointing
    elsewhere (a wrong symbolic link is replaced). A file or folder standing where a link
    belongs may be the player's, so it is left alone: those paths are returned."""
    if not LINKS_SUPPORTED:
        return []
    left: list[str] = []
    touched: set[Path] = set()
    for path, target in sorted(links.items()):
        parts = path.split("/")
        check_components(game.root, parts[:-1])
        full = game.root / path
        if os.path.islink(full):
            if os.readlink(full) == link_text(path, target):
                continue
            os.unlink(full)
        elif os.path.lexists(full):
            left.append(path)
            continue
        touched.update(p.parent for p in make_dirs(game.root, parts[:-1]))
        os.symlink(link_text(path, target), full)
        touched.add(full.parent)
    for folder in touched:
        fsync_dir(folder)
    return left


def _move(
    src_base: Path,
    src: str,
    dst_base: Path,
    dst: str,
    touched: set[Path],
    known: set[str] | None = None,
) -> None:
    """Rename ``src_base/src`` to ``dst_base/dst``; no component on either side may be a
    link, and the destination's folders are created as needed. ``known``: folders already
    found to be real folders in this run (core/gamedir/folder.py ``check_components``)."""
    src_parts, dst_parts = src.split("/"), dst.split("/")
    check_components(src_base, src_parts[:-1], known)
    check_components(dst_base, dst_parts, known)
    touched.update(p.parent for p in make_dirs(dst_base, dst_parts[:-1], known=known))
    source = os.path.join(src_base, *src_parts)
    target = os.path.join(dst_base, *dst_parts)
    os.replace(source, target)
    touched.update((Path(os.path.dirname(source)), Path(os.path.dirname(target))))


def _fsync_all(folders: set[Path]) -> None:
    for folder in folders:
        # A folder removed since (emptied) is skipped; its parent is in the set too.
        with contextlib.suppress(FileNotFoundError):
            fsync_dir(folder)
    folders.clear()


def _can_forward(game: GameDir, swap: _Swap) -> bool:
    return all(
        os.path.lexists(game.meta / s.incoming) or _is_file(game.root / s.path)
        for s in swap.filling
        if s.incoming is not None
    )


def _settle(game: GameDir, swap: _Swap, names: _Names) -> RollbackPoint | None:
    """Record the outcome: the point (commit) or its removal (rollback), then the state."""
    point = None
    if swap.op == "commit":
        point = _point_of(game, swap)
        write_durable(point.path / "point.json", zjson.dumps_plain(point.to_json()))
    else:
        (game.rollback_dir / str(swap.seq) / "point.json").unlink(missing_ok=True)
        fsync_dir(game.rollback_dir / str(swap.seq))
    crashpoint(names.settled)
    game.save_state(swap.state_after)
    crashpoint(names.saved)
    return point


def _unsettle(game: GameDir, swap: _Swap) -> None:
    """Put the point and the state back as they were before the swap."""
    folder = game.rollback_dir / str(swap.seq)
    if swap.op == "commit":
        (folder / "point.json").unlink(missing_ok=True)
        _remove_empty_tree(folder)
    else:
        assert swap.point is not None
        write_durable(folder / "point.json", zjson.dumps_plain(swap.point.to_json()))
        _remove_empty_tree(game.trash_dir / str(swap.seq))
        _remove_empty_tree(game.trash_dir)
    if swap.state_before is None:
        game.state_file.unlink(missing_ok=True)
        fsync_dir(game.meta)
    else:
        game.save_state(swap.state_before)


def _abandon(game: GameDir, swap: _Swap, exc: OSError | SlipstreamError) -> NoReturn:
    """Undo a swap that failed part way and raise the reason."""
    try:
        _backward(game, swap)
        _unsettle(game, swap)
        _remove_journal(game)
    except (OSError, SlipstreamError) as again:
        raise LocalIOError(
            f"The {_describe(swap)} failed ({_reason(exc)}) and could not be undone "
            f"({_reason(again)}); the next Slipstream run on this folder finishes it."
        ) from exc
    if isinstance(exc, SlipstreamError):
        raise exc
    raise LocalIOError(
        f"The {_describe(swap)} failed: {_reason(exc)}. The folder was left as it was."
    ) from exc


def _close(game: GameDir, swap: _Swap, names: _Names) -> None:
    """After the state is saved: mark the journal done, clean up, remove the journal."""
    if not swap.done:
        _write_journal(game, replace(swap, done=True))
        crashpoint(names.done)
    if swap.op == "commit":
        points = game.rollback_points()
        # A repair (same build before and after) is not an update: its point, holding the
        # damaged files, is dropped and does not count against the points kept.
        for point in points:
            if point.is_repair:
                game.drop_point(point)
        for old in [p for p in points if not p.is_repair][swap.keep_points :]:
            shutil.rmtree(old.path)
        game.clear_staging()
    else:
        check_components(game.root, [".slipstream", "trash"])
        for folder in (game.rollback_dir / str(swap.seq), game.trash_dir / str(swap.seq)):
            shutil.rmtree(folder, ignore_errors=True)
        _remove_empty_tree(game.trash_dir)
    crashpoint(names.cleaned)
    _remove_journal(game)
    crashpoint(names.removed)


def _discard_torn(game: GameDir) -> str:
    """A journal that does not parse was never completely written: the crash came before
    its fsync, so no game file was moved yet. The folder is the old build."""
    _remove_journal(game)
    game.clear_staging()
    check_components(game.root, [".slipstream", "trash"])
    shutil.rmtree(game.trash_dir, ignore_errors=True)
    if game.rollback_dir.is_dir():
        for folder in game.rollback_dir.iterdir():
            if not (folder / "point.json").exists():
                _remove_empty_tree(folder)
    return (
        "discarded an operation whose journal was never completely written; "
        "no game file had been changed"
    )


def _remove_empty_tree(folder: Path) -> None:
    """Remove ``folder`` and the empty folders in it; anything holding a file stays."""
    if not folder.is_dir() or folder.is_symlink():
        return
    for where, _dirs, _files in os.walk(folder, topdown=False):
        try:
            os.rmdir(where)
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise


def _remove_journal(game: GameDir) -> None:
    game.journal_file.unlink(missing_ok=True)
    fsync_dir(game.meta)


def _point_of(game: GameDir, swap: _Swap) -> RollbackPoint:
    """The rollback point of a commit whose moves are complete: a path whose old file is
    aside was replaced (or deleted); one that got a file and had none was added."""
    aside = {s.path for s in swap.steps if os.path.lexists(game.meta / s.aside)}
    return RollbackPoint(
        seq=swap.seq,
        created=swap.created,
        from_build=swap.state_before.build_id if swap.state_before else "",
        to_build=swap.state_after.build_id,
        label=swap.label,
        state_before=swap.state_before,
        replaced=tuple(s.path for s in swap.steps if s.path in aside),
        added=tuple(s.path for s in swap.filling if s.path not in aside),
        path=game.rollback_dir / str(swap.seq),
    )


def _describe(swap: _Swap) -> str:
    new = swap.state_after.build_id
    if swap.op == "rollback":
        old = swap.state_before.build_id if swap.state_before else "?"
        return f"rollback from build {old} to build {new}"
    if swap.state_before is None:
        return f"{swap.label} of build {new}"
    return f"{swap.label} from build {swap.state_before.build_id} to build {new}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return f"{exc.filename}: {exc.strerror or exc}" if exc.filename else str(exc)
    return str(exc)


# --- the journal file ----------------------------------------------------------------------


def _write_journal(game: GameDir, swap: _Swap) -> None:
    doc: dict[str, Any] = {
        "format": JOURNAL_FORMAT,
        "op": swap.op,
        "seq": swap.seq,
        "label": swap.label,
        "created": swap.created,
        "keep_points": swap.keep_points,
        "done": swap.done,
        "steps": [
            {"path": s.path, "aside": s.aside, "incoming": s.incoming, "existed": s.existed}
            for s in swap.steps
        ],
        "remove_dirs": list(swap.remove_dirs),
        "create_dirs": list(swap.create_dirs),
        "state_before": swap.state_before.to_json() if swap.state_before else None,
        "state_after": swap.state_after.to_json(),
        "point": swap.point.to_json() if swap.point else None,
    }
    write_durable(game.journal_file, zjson.dumps_plain(doc))


def _swap_from_json(doc: object, game: GameDir) -> _Swap:
    where = str(game.journal_file)
    try:
        f = Fields(doc, where)
        if f.integer("format") != JOURNAL_FORMAT:
            raise FormatError(f"{where} has an unknown format.")
        op = f.text("op")
        if op not in _CRASHPOINTS:
            raise FormatError(f"{where}.op {op!r} is not commit or rollback.")
        seq = f.integer("seq", 1)
        steps = tuple(_step_from(s, op, seq) for s in f.objects("steps", MAX_FILES))
        created = f.raw("created")
        if not isinstance(created, int | float) or isinstance(created, bool):
            raise FormatError(f"{where}.created should be a number.")
        before, point = f.raw("state_before"), f.raw("point")
        return _Swap(
            op=op,
            seq=seq,
            label=f.text("label"),
            created=float(created),
            keep_points=f.integer("keep_points"),
            steps=steps,
            remove_dirs=_folders(f, "remove_dirs"),
            create_dirs=_folders(f, "create_dirs"),
            state_before=None if before is None else InstallState.from_json(before, where),
            state_after=InstallState.from_json(f.raw("state_after"), where),
            point=None
            if point is None
            else RollbackPoint.from_json(point, game.rollback_dir / str(seq)),
            done=f.flag("done"),
        )
    except FormatError as exc:
        raise StateError(exc.detail) from None


def _step_from(f: Fields, op: str, seq: int) -> _Step:
    path = paths.validate(f.text("path"), f"{f.where}.path")
    aside, incoming = f.text("aside"), f.opt_text("incoming")
    kept = f"rollback/{seq}/files/{path}"
    if op == "commit":
        if incoming is not None:
            folder, _, staged = incoming.partition("/")
            paths.validate(staged, f"{f.where}.incoming")
        ok = aside == kept and (incoming is None or folder == "staging")
    else:
        ok = aside == f"trash/{seq}/{path}" and incoming in (None, kept)
    if not ok:
        raise FormatError(f"{f.where} moves {path!r} through unexpected places.")
    return _Step(path, aside, incoming, f.flag("existed"))


def _folders(f: Fields, key: str) -> tuple[str, ...]:
    return tuple(paths.validate(p, f"{f.where}.{key} entry") for p in f.texts(key, MAX_FILES))
