"""Copies of files the player changed, kept before an update replaces them.

An update that replaces a file the player changed (a mod, an edited config) already puts
the old content into a rollback point, but rollback points are pruned and live inside the
game folder's bookkeeping. When the player chooses "take the new version and keep a
copy", the changed files are copied first into a folder of their own under
``$SLIPSTREAM_HOME/kept``, where they stay until the player removes them.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Collection, Iterable
from pathlib import Path

from core.errors import LocalIOError, SlipstreamError
from core.gamedir.folder import GameDir
from core.library import db as library
from core.progress import Phase, Progress, ProgressSink, null_sink


def keep_untracked(
    game: GameDir,
    tracked: Collection[str],
    incoming: Iterable[str],
    progress: ProgressSink = null_sink,
) -> tuple[list[str], Path | None]:
    """Copy the player's own files that a commit is about to replace into a new folder
    under :func:`kept_root`: those at ``incoming`` paths that no installed build has
    (``tracked``), such as a save a new build starts shipping. The commit's rollback point
    holds them too, but points are dropped after a few updates. Returns the paths and
    the folder (None when there were none)."""
    found = [p for p in incoming if p not in tracked and _is_player_file(game, p)]
    if not found:
        return [], None
    return found, keep_copies(game.root, found, progress=progress)


def _is_player_file(game: GameDir, rel: str) -> bool:
    try:
        return game.game_path(rel).is_file()
    except SlipstreamError:
        return False  # a link in the way: the commit refuses it with its own message


def kept_root() -> Path:
    return library.home() / "kept"


def keep_copies(
    game_dir: Path,
    paths: Iterable[str],
    dest_root: Path | None = None,
    progress: ProgressSink = null_sink,
) -> Path:
    """Copy each of ``paths`` (game-relative, as the install state names them) that
    still exists into a new dated folder; return that folder. Mods can be large, so
    each copied file is reported."""
    paths = list(paths)
    game = GameDir(game_dir)
    stamp = time.strftime("%Y-%m-%d_%H%M%S")
    dest = (dest_root or kept_root()) / f"{game_dir.name}-{stamp}"
    n = 1
    while dest.exists():
        n += 1
        dest = dest.with_name(f"{game_dir.name}-{stamp}-{n}")
    try:
        dest.mkdir(parents=True)
        for n, rel in enumerate(paths, 1):
            progress(Progress(Phase.KEEPING_COPIES, n - 1, len(paths), rel, "files"))
            src = game.game_path(rel)
            if not src.is_file():
                continue  # a deleted file has nothing to keep
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    except OSError as exc:
        raise LocalIOError.wrap(exc, "keep a copy of the changed files in") from None
    return dest
