"""Managing an installed game beyond updating it: where it comes from (change source),
which branch it follows (switch branch), and how much disk it takes (size on disk)."""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path

from core.gamedir import journal
from core.gamedir.folder import InstallState
from core.gog.source import open_source
from core.library.db import Library
from core.library.settings import normalize_source
from core.progress import NEVER_CANCELLED, CancelToken, ProgressSink, null_sink
from core.update import engine, records
from core.update.engine import existing_game, not_installed, pins_of
from core.update.options import EngineOptions
from core.update.report import OperationReport


def set_source(
    game_dir: Path,
    source: str,
    options: EngineOptions = EngineOptions(),
    cancel: CancelToken = NEVER_CANCELLED,
) -> InstallState:
    """Point the game in ``game_dir`` (its state and its library entry) at ``source``, a
    repository URL or ``gog``, once that source's builds list of the game's product has
    been read: a mistyped address or a repository without the game changes nothing."""
    location = normalize_source(source)
    game = existing_game(game_dir)
    with game.lock():
        journal.recover(game)
        state = game.read_state()
        if state is None:
            raise not_installed(game_dir)
        with options.fetcher(cancel) as fetcher:
            # A signed game stays signed: the new address must serve its pinned root's.
            repo = open_source(location, fetcher, options.password, pins_of(game))
            repo.listing(state.product, state.os)
            location = repo.location
        moved = replace(state, source=location)
        game.save_state(moved)
    records.check_library(game_dir)  # registers the game from its state if unknown
    with Library.open() as library:
        library.set_source(game_dir, location)
    return moved


def size_on_disk(game_dir: Path) -> int:
    """Bytes the installed build's files take now: the files its manifest lists that are
    present (the player's own files and ``.slipstream/`` are not counted)."""
    state = existing_game(game_dir).read_state()
    if state is None:
        raise not_installed(game_dir)
    total = 0
    for rel in state.files:
        try:
            st = os.lstat(game_dir.joinpath(*rel.split("/")))
        except OSError:
            continue  # missing: verify --repair brings it back
        if stat.S_ISREG(st.st_mode):
            total += st.st_size
    return total


def switch_branch(
    game_dir: Path,
    branch: str | None,
    to_build: str | None = None,
    options: EngineOptions = EngineOptions(),
    *,
    progress: ProgressSink = null_sink,
    cancel: CancelToken = NEVER_CANCELLED,
) -> OperationReport:
    """Move the game to ``branch`` (``None``: the default branch), to its newest build or
    to ``to_build``; later updates follow that branch. ``options.password`` opens a GOG
    private branch. Recorded as an update."""
    return engine.update(
        game_dir, to_build, options, switch_to=(branch,), progress=progress, cancel=cancel
    )
