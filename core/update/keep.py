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
from collections.abc import Iterable
from pathlib import Path

from core.errors import LocalIOError
from core.gamedir.folder import GameDir
from core.library import db as library
from core.progress import Phase, Progress, ProgressSink, null_sink


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
