"""Uninstalling a game: the files its installed build lists and ``.slipstream/`` go, the
player's own files (saves, mods, screenshots: anything no build mentions) stay.

The order makes it safe to kill at any point and run again: a marker file is written
first, then the game's files are removed, then the library forgets the game, then
``.slipstream/`` goes with ``state.json`` last but for the marker and the lock. A second
run that finds the marker finishes the job even when the state is already gone.
"""

from __future__ import annotations

import os
import shutil
import stat
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import LocalIOError, SlipstreamError
from core.fs import atomic_write
from core.gamedir import journal
from core.gamedir.folder import GameDir, check_components
from core.gamedir.verify import link_text
from core.library.db import Library
from core.update.engine import not_installed

MARKER = "uninstalling"
"""In ``.slipstream/``: an uninstall began here and must be finished, state or not."""


@dataclass
class UninstallReport:
    """What an uninstall removed and what it left for the player."""

    game_dir: str
    product: str = ""
    files_removed: int = 0
    bytes_freed: int = 0
    kept: list[str] = field(default_factory=list)
    """Top-level entries of the game folder left behind (the player's own files)."""
    folder_removed: bool = False
    """Whether the game folder itself went (nothing of the player's was in it)."""
    finished_earlier_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def uninstall(game_dir: Path) -> UninstallReport:
    """Remove the game in ``game_dir``: every file its installed build lists, the folders
    it made (when empty), ``.slipstream/`` and its library entry. Files no build lists
    are kept, and the folder stays when anything is left in it."""
    game = GameDir(game_dir)
    if not game.meta.is_dir():
        raise not_installed(game_dir)
    report = UninstallReport(str(game_dir))
    with game.lock():
        marker = game.meta / MARKER
        # A run killed after it removed the marker leaves an empty ``.slipstream/``.
        leftovers = {e.name for e in os.scandir(game.meta)} - {"lock"}
        report.finished_earlier_run = marker.exists() or not leftovers
        journal.recover(game)  # the folder must be one build, whole, before it goes
        state = game.read_state()
        if state is None and not report.finished_earlier_run:
            raise not_installed(game_dir)
        try:
            atomic_write(marker, b"")
        except OSError as exc:
            raise LocalIOError.wrap(exc, "start the uninstall in") from None
        if state is not None:
            report.product = state.product
            folders = set(state.folders)
            for rel in sorted(state.files):
                report.bytes_freed += _remove_file(game, rel, report)
                parts = rel.split("/")
                folders.update("/".join(parts[:n]) for n in range(1, len(parts)))
            for rel, target in sorted(state.links.items()):
                _remove_link(game, rel, target, report)
                parts = rel.split("/")
                folders.update("/".join(parts[:n]) for n in range(1, len(parts)))
            for rel in sorted(folders, key=lambda p: p.count("/"), reverse=True):
                _remove_empty_folder(game, rel)
        _forget(game_dir)
        _clear_meta(game)
    _remove_meta(game)
    try:
        remaining = sorted(p.name for p in game.root.iterdir())
    except FileNotFoundError:
        remaining = []
    report.kept = remaining
    if not remaining:
        try:
            game.root.rmdir()
            report.folder_removed = True
        except OSError:
            pass  # someone put a file there meanwhile, or the folder is not ours to remove
    return report


def _remove_file(game: GameDir, rel: str, report: UninstallReport) -> int:
    """Remove one listed file (never through a link in a folder above it); its size."""
    try:
        path = game.game_path(rel)
    except SlipstreamError:
        return 0  # a link where a folder of the game was: what is behind it is not ours
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return 0  # already gone (an earlier run, or the player)
    except OSError as exc:
        raise LocalIOError.wrap(exc, "examine") from None
    if stat.S_ISDIR(st.st_mode):
        return 0  # a folder where the build had a file: the player's, kept
    try:
        os.unlink(path)
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise LocalIOError.wrap(exc, "remove") from None
    report.files_removed += 1
    return st.st_size if stat.S_ISREG(st.st_mode) else 0


def _remove_link(game: GameDir, rel: str, target: str, report: UninstallReport) -> None:
    """Remove a link the build made; anything else at its path is the player's."""
    parts = rel.split("/")
    try:
        check_components(game.root, parts[:-1])  # the link itself is checked below
    except SlipstreamError:
        return
    path = game.root.joinpath(*parts)
    if os.path.islink(path) and os.readlink(path) == link_text(rel, target):
        with suppress(FileNotFoundError):
            os.unlink(path)
            report.files_removed += 1


def _remove_empty_folder(game: GameDir, rel: str) -> None:
    parts = rel.split("/")
    try:
        check_components(game.root, parts[:-1])
    except SlipstreamError:
        return
    # Only when empty (else it holds the player's files); rmdir never follows a link.
    with suppress(OSError):
        os.rmdir(game.root.joinpath(*parts))


def _forget(game_dir: Path) -> None:
    with Library.open(set_aside_damage=True) as library:
        library.remove_install(game_dir)


def _gone_is_fine(
    func: object, path: str, exc_info: tuple[type[BaseException], BaseException, object]
) -> None:
    """``shutil.rmtree``'s error handler: an entry deleted meanwhile is no error."""
    if not isinstance(exc_info[1], FileNotFoundError):
        raise exc_info[1]


def _clear_meta(game: GameDir) -> None:
    """Everything in ``.slipstream/`` but the lock and the marker, ``state.json`` last."""
    check_components(game.root, [game.meta.name])
    keep = {"lock", MARKER, "state.json"}
    try:
        for entry in list(os.scandir(game.meta)):
            if entry.name in keep:
                continue
            if entry.is_dir(follow_symlinks=False):
                # A job process may still be deleting ``discard/`` (core/gamedir/folder.py
                # delete_later) as the player uninstalls: what it deleted first is no error.
                shutil.rmtree(entry.path, onerror=_gone_is_fine)
            else:
                os.unlink(entry.path)
        (game.meta / "state.json").unlink(missing_ok=True)
    except OSError as exc:
        raise LocalIOError.wrap(exc, "remove the game's Slipstream state in") from None


def _remove_meta(game: GameDir) -> None:
    """``.slipstream/`` itself, once its lock is released (Windows cannot delete a file
    that is open, and the lock file is)."""
    try:
        for name in ("lock", MARKER):
            (game.meta / name).unlink(missing_ok=True)
        game.meta.rmdir()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise LocalIOError.wrap(exc, "remove") from None
