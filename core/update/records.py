"""Library bookkeeping for the engine's operations: each install is registered, each
operation recorded with its bytes, fallbacks and phase times, each verify's verdict kept.

A library that cannot be written never undoes a change already made to the game folder.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import SlipstreamError
from core.format import zjson
from core.format.bounds import BOUNDS
from core.format.build import parse_build_manifest
from core.gamedir.folder import GameDir, InstallState
from core.library.db import Library, OperationRecord

if TYPE_CHECKING:  # the engine imports this module
    from core.update.report import OperationReport


def record(
    report: OperationReport, game_dir: Path, started: float, outcome: str, error: str | None
) -> None:
    if not report.product:
        return  # failed before anything was known about the game
    try:
        with Library.open() as library:
            library.record_operation(
                game_dir,
                OperationRecord(
                    kind=report.kind,
                    from_build=report.from_build,
                    to_build=report.to_build,
                    started_at=started,
                    finished_at=time.time(),
                    outcome=outcome,
                    error=error,
                    bytes_downloaded=report.bytes_downloaded,
                    bytes_full=report.bytes_full,
                    patches_applied=report.patches_applied,
                    fallbacks=tuple(report.fallbacks),
                    files=report.counts,
                    phases=report.phases,
                ),
            )
    except SlipstreamError:
        # The game folder is right; a library that cannot be written (or that does not know
        # the folder: UnknownInstallError) must not undo that.
        pass


def check_library(game_dir: Path) -> list[str]:
    """Make sure the library can record an operation on ``game_dir`` before the folder
    changes, so that the two never disagree. A damaged database is moved aside and a new
    one started; a game the library does not know (a new library, say) is registered
    from its own state. Returns what the player should be told; a library that cannot be
    used at all is a LibraryError, raised before anything changed."""
    notes = []
    with Library.open(set_aside_damage=True) as library:
        if library.set_aside is not None:
            notes.append(
                f"The library database was damaged; it was moved to {library.set_aside} "
                "and a new one was started from the game folders' own records."
            )
        if library.install(game_dir) is not None:
            return notes
        game = GameDir(game_dir)
        try:
            state = game.read_state() if game.meta.is_dir() else None
            name = _cached_name(game, state) if state else ""
        except SlipstreamError:
            return notes  # the operation itself reports a damaged state
        if state is not None:
            library.upsert_install(
                game_dir, state.product, state.os, name, state.build_id, state.version_name,
                state.branch, state.lang, state.source, "ok",
            )  # fmt: skip
    return notes


def _cached_name(game: GameDir, state: InstallState) -> str:
    """The product's name as the installed build's cached manifest gives it."""
    data = game.load_document(f"build-{state.build_id}")
    if data is None:
        return state.product
    manifest = parse_build_manifest(
        zjson.loads(data, "cached build manifest", BOUNDS.cached_build_bytes), "cached"
    )
    return manifest.product_name(state.product)


def register(game_dir: Path, state: InstallState, name: str, status: str = "ok") -> None:
    with Library.open() as library:
        library.upsert_install(
            game_dir,
            state.product,
            state.os,
            name,
            state.build_id,
            state.version_name,
            state.branch,
            state.lang,
            state.source,
            status,
        )


def name_of(game_dir: Path, state: InstallState) -> str:
    with Library.open() as library:
        record = library.install(game_dir)
    return record.name if record else state.product


def set_status(game_dir: Path, status: str) -> None:
    try:
        with Library.open() as library:
            library.set_status(game_dir, status)
    except SlipstreamError:
        pass  # as in record: a folder the library does not know raises UnknownInstallError
