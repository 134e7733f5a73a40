"""Library bookkeeping for the engine's operations: each install is registered, each
operation recorded with its bytes, fallbacks and phase times, each verify's verdict kept.

A library that cannot be written never undoes a change already made to the game folder.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import SlipstreamError
from core.gamedir.folder import InstallState
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
