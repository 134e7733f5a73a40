"""The bodies of the window's jobs: plain functions over the core, no Qt.

Each ``make`` function returns a :data:`gui.jobs.Work` callable that the job runs on its
thread with a progress sink and a cancel token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from core.errors import SlipstreamError
from core.format.builds import BuildItem, BuildsListing
from core.gamedir.folder import GameDir
from core.gog.source import open_source
from core.library.db import InstallRecord
from core.progress import CancelToken, ProgressSink
from core.update import engine, records
from core.update.estimate import Cost, estimate_costs
from core.update.keep import keep_copies
from core.update.options import EngineOptions
from core.update.report import OperationReport

Work = Callable[[ProgressSink, CancelToken], Any]
MAX_ESTIMATES = 8
"""Builds whose cost the builds list shows (newest first): each costs a manifest fetch."""


def as_listing(items: Sequence[BuildItem]) -> BuildsListing:
    return BuildsListing(tuple(items), len(items))


def preview(game: Path, to_build: str | None, options: EngineOptions) -> Work:
    def run(sink: ProgressSink, cancel: CancelToken) -> tuple[Any, OperationReport]:
        return engine.plan_preview(game, to_build, options)

    return run


def update(game: Path, to_build: str | None, options: EngineOptions, keep: list[str]) -> Work:
    """Update; first copy ``keep`` (the player's changed files) out of the way."""

    def run(sink: ProgressSink, cancel: CancelToken) -> tuple[OperationReport, Path | None]:
        kept = keep_copies(game, keep, progress=sink) if keep else None
        report = engine.update(game, to_build, options, progress=sink, cancel=cancel)
        return report, kept

    return run


def rollback(game: Path, to_build: str | None, options: EngineOptions) -> Work:
    def run(sink: ProgressSink, cancel: CancelToken) -> OperationReport:
        return engine.rollback_game(game, to_build, options, progress=sink, cancel=cancel)

    return run


def verify(game: Path, options: EngineOptions) -> Work:
    """Hash every file and repair the broken ones."""

    def run(sink: ProgressSink, cancel: CancelToken) -> tuple[OperationReport, Any]:
        return engine.verify_game(
            game, full=True, repair=True, options=options, progress=sink, cancel=cancel
        )

    return run


def install(
    source: str,
    product: str,
    dest: Path,
    os_name: str,
    lang: str,
    adopt: bool,
    options: EngineOptions,
) -> Work:
    def run(sink: ProgressSink, cancel: CancelToken) -> OperationReport:
        return engine.install(
            source,
            product,
            dest,
            os_name=os_name,
            lang=lang,
            adopt=adopt,
            options=options,
            progress=sink,
            cancel=cancel,
        )

    return run


def adopt(folder: Path, options: EngineOptions) -> Work:
    """Add a game already on disk: a Slipstream install the library lost, or a GOG game."""

    def run(sink: ProgressSink, cancel: CancelToken) -> str:
        state = GameDir(folder).read_state() if (folder / ".slipstream").is_dir() else None
        if state is not None:
            records.register(folder, state, records.name_of(folder, state))
            return f"Added {folder} (build {state.build_id}) to the library."
        from core.update.adopt import adopt as adopt_gog

        report = adopt_gog(folder, options=options, progress=sink, cancel=cancel)
        return f"Added {folder} (build {report.to_build}) to the library."

    return run


def check(record: InstallRecord, options: EngineOptions) -> Work:
    """The builds the game's source offers now."""

    def run(sink: ProgressSink, cancel: CancelToken) -> list[BuildItem]:
        with options.fetcher() as fetcher:
            source = open_source(record.source, fetcher, options.password)
            return list(source.listing(record.product, record.os).items)

    return run


def estimate(game: Path, items: Sequence[BuildItem], options: EngineOptions) -> Work:
    def run(sink: ProgressSink, cancel: CancelToken) -> dict[str, Cost | SlipstreamError]:
        return estimate_costs(game, list(items)[:MAX_ESTIMATES], options, cancel)

    return run
