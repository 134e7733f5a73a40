"""The bodies of the window's jobs: plain functions over the core, no Qt.

Each ``make`` function returns a :data:`gui.jobs.Work` callable that the job runs on its
thread with a progress sink and a cancel token.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from core.errors import SlipstreamError
from core.format.builds import BuildItem, BuildsListing
from core.gamedir.folder import GameDir, RollbackPoint
from core.gog.source import open_source
from core.library.db import InstallRecord, Library, OperationRecord
from core.progress import CancelToken, ProgressSink
from core.update import engine, launch, manage, product, records
from core.update.apply import FETCHING, objects_of
from core.update.estimate import Cost, estimate_costs
from core.update.keep import keep_copies
from core.update.options import EngineOptions
from core.update.packs import spans_for
from core.update.plan import Plan
from core.update.report import OperationReport
from core.update.stage import (
    Download,
    ObjectRef,
    download_size,
    kept_chunks,
    object_path,
    partial_path,
)
from core.update.uninstall import UninstallReport, uninstall
from gui.child import in_child
from gui.progress_state import PlanRows

Work = Callable[[ProgressSink, CancelToken], Any]
JOBS_ENV = "SLIPSTREAM_GUI_JOBS"
"""``thread`` runs every job on a thread of the window's process (for debugging); by
default the long ones run in a child process each (:func:`offload`)."""
MAX_ESTIMATES = 8
"""Builds whose cost the builds list shows (newest first): each costs a manifest fetch."""


def as_listing(items: Sequence[BuildItem]) -> BuildsListing:
    return BuildsListing(tuple(items), len(items))


def offload(body: Work, options: EngineOptions) -> Work:
    """``body`` run in a child process (:mod:`gui.child`), so its Python never holds the
    window's GIL; on the job's own thread where ``options`` carry a transport object (which
    cannot cross to another process) or ``SLIPSTREAM_GUI_JOBS=thread`` says so."""
    if options.transport is not None or os.environ.get(JOBS_ENV) == "thread":
        return body
    return in_child(body)


def preview(game: Path, to_build: str | None, options: EngineOptions) -> Work:
    """The plan's rows for the window (:class:`~gui.progress_state.PlanRows`) and its
    report, and the bytes of it a cancelled run already downloaded."""
    return offload(partial(_preview, game, to_build, options), options)


def _preview(
    game: Path,
    to_build: str | None,
    options: EngineOptions,
    sink: ProgressSink,
    cancel: CancelToken,
) -> tuple[PlanRows, OperationReport, tuple[int, int]]:
    plan, report = engine.plan_preview(game, to_build, options, cancel)
    return PlanRows.of(plan), report, downloaded_bytes(GameDir(game), plan)


def downloaded_bytes(game: GameDir, plan: Plan) -> tuple[int, int]:
    """Compressed bytes of the plan's objects already in the downloads folder: (whole
    objects, which the update skips, and the chunks already in the files a cancelled run
    staged; parts of objects, which it resumes). Neither is reported by the update, so
    the window counts them as done and a resume counts on."""
    whole = partial = 0
    seen: set[Path] = set()
    # Chunks already written into the files the cancelled run staged (downloads/staged).
    for action in plan.actions:
        if action.kind in FETCHING and (kept := kept_chunks(game, action)):
            assert action.target is not None
            for chunk in (action.target.chunks[i] for i in action.fetch if i < kept):
                path = object_path(game, ObjectRef(chunk, False))
                if path not in seen:
                    seen.add(path)
                    whole += chunk.compressed_size
    refs: list[Download] = [
        *objects_of(plan.actions),
        *(ObjectRef(c, False) for c in plan.sfc_chunks),
        *spans_for(step for action in plan.actions for step in action.packs),
    ]
    for ref in refs:
        path = object_path(game, ref)
        if path in seen:
            continue
        seen.add(path)
        if path.is_file():
            whole += download_size(ref)
        else:
            partial += min(download_size(ref), _size(partial_path(path)))
    return whole, partial


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def history(game: Path, with_points: bool) -> Work:
    """The game's operations, newest first, and (``with_points``: no job is changing the
    folder) its rollback points: reading the points of thousands of files (every path
    checked) stalled the window for tens of milliseconds, so that read runs in a child
    process (:func:`offload`)."""
    body = partial(_history, game, with_points)
    return offload(body, EngineOptions()) if with_points else body


def _history(
    game: Path, with_points: bool, sink: ProgressSink, cancel: CancelToken
) -> tuple[list[OperationRecord], list[RollbackPoint]]:
    with Library.open() as lib:
        found = lib.history(game)
    return found, GameDir(game).rollback_points() if with_points else []


def disk_size(game: Path) -> Work:
    """What the installed build's files take on disk now. Listing them parses the
    installed manifest (thousands of paths, each checked), which on a thread of the
    window held its GIL just as an update ended, so it runs in a child process."""
    return offload(partial(_disk_size, game), EngineOptions())


def _disk_size(game: Path, sink: ProgressSink, cancel: CancelToken) -> int:
    return manage.size_on_disk(game)


def art(record: InstallRecord, options: EngineOptions) -> Work:
    """The game's icon and cover (None: it has none) and its product name as its
    repository's product document gives it ("" when there is none): cached where
    possible."""

    def run(sink: ProgressSink, cancel: CancelToken) -> tuple[Path | None, Path | None, str]:
        info = product.installed_product_info(GameDir(record.path))
        cached = product.cached_product_art(record.source, record.product)
        if cached.icon is not None and info is not None:
            return cached.icon, cached.cover, info.name
        # Art is cosmetic: one try, so a game whose server is gone does not hold the
        # window's close (which waits for its jobs) through a whole retry schedule.
        once = replace(options, fetch_limits=replace(options.fetch_limits, retries=0))
        fetched = product.fetch_product_art(record.source, record.product, once, cancel)
        return fetched.icon or cached.icon, fetched.cover or cached.cover, fetched.name

    return run


def switch_branch(game: Path, branch: str | None, options: EngineOptions) -> Work:
    """Move the game to ``branch``'s newest build; later updates follow that branch."""
    return offload(partial(_switch_branch, game, branch, options), options)


def _switch_branch(
    game: Path, branch: str | None, options: EngineOptions, sink: ProgressSink, cancel: CancelToken
) -> tuple[OperationReport, None]:
    report = manage.switch_branch(game, branch, options=options, progress=sink, cancel=cancel)
    return report, None


def remove(game: Path) -> Work:
    """Uninstall: the build's files and ``.slipstream`` go, the player's own files stay."""

    def run(sink: ProgressSink, cancel: CancelToken) -> UninstallReport:
        return uninstall(game)

    return run


def play(game: Path, options: EngineOptions) -> Work:
    """Start the game's launch task (finding it may ask its repository)."""

    def run(sink: ProgressSink, cancel: CancelToken) -> str:
        launch.play(game, options)
        return str(game)

    return run


def change_source(game: Path, source: str, options: EngineOptions) -> Work:
    def run(sink: ProgressSink, cancel: CancelToken) -> str:
        return manage.set_source(game, source, options, cancel).source

    return run


def update(game: Path, to_build: str | None, options: EngineOptions, keep: list[str]) -> Work:
    """Update; first copy ``keep`` (the player's changed files) out of the way."""
    return offload(partial(_update, game, to_build, options, keep), options)


def _update(
    game: Path,
    to_build: str | None,
    options: EngineOptions,
    keep: list[str],
    sink: ProgressSink,
    cancel: CancelToken,
) -> tuple[OperationReport, Path | None]:
    kept = keep_copies(game, keep, progress=sink) if keep else None
    report = engine.update(game, to_build, options, progress=sink, cancel=cancel)
    return report, kept


def rollback(game: Path, to_build: str | None, options: EngineOptions) -> Work:
    return offload(partial(_rollback, game, to_build, options), options)


def _rollback(
    game: Path,
    to_build: str | None,
    options: EngineOptions,
    sink: ProgressSink,
    cancel: CancelToken,
) -> OperationReport:
    return engine.rollback_game(game, to_build, options, progress=sink, cancel=cancel)


def verify(game: Path, options: EngineOptions) -> Work:
    """Hash every file and repair the broken ones."""
    return offload(partial(_verify, game, options), options)


def _verify(
    game: Path, options: EngineOptions, sink: ProgressSink, cancel: CancelToken
) -> tuple[OperationReport, Any]:
    return engine.verify_game(
        game, full=True, repair=True, options=options, progress=sink, cancel=cancel
    )


def install(
    source: str,
    product: str,
    dest: Path,
    os_name: str,
    lang: str,
    adopt: bool,
    options: EngineOptions,
    build: str | None = None,
) -> Work:
    """Install ``build`` (default: the newest of the default branch)."""
    return offload(
        partial(_install, source, product, dest, os_name, lang, adopt, options, build), options
    )


def _install(
    source: str,
    product: str,
    dest: Path,
    os_name: str,
    lang: str,
    adopt: bool,
    options: EngineOptions,
    build: str | None,
    sink: ProgressSink,
    cancel: CancelToken,
) -> OperationReport:
    return engine.install(
        source,
        product,
        dest,
        build=build,
        os_name=os_name,
        lang=lang,
        adopt=adopt,
        options=options,
        progress=sink,
        cancel=cancel,
    )


def products(source: str, options: EngineOptions) -> Work:
    """The games ``source`` offers: (product id, name), for the Add game dialog."""

    def run(sink: ProgressSink, cancel: CancelToken) -> list[tuple[str, str]]:
        return product.list_products(source, options, cancel)

    return run


def product_builds(source: str, product_id: str, options: EngineOptions) -> Work:
    """A product's builds on every system, for the Add game dialog."""

    def run(sink: ProgressSink, cancel: CancelToken) -> product.ProductBuilds:
        return product.product_builds(source, product_id, options, cancel)

    return run


def build_details(
    source: str, product_id: str, os_name: str, build: str, options: EngineOptions
) -> Work:
    """One build's install folder name and languages, for the Add game dialog."""

    def run(sink: ProgressSink, cancel: CancelToken) -> product.BuildDetails:
        return product.build_details(source, product_id, os_name, build, options, cancel)

    return run


def adopt(folder: Path, options: EngineOptions) -> Work:
    """Add a game already on disk: a Slipstream install the library lost, or a GOG game."""
    return offload(partial(_adopt, folder, options), options)


def _adopt(folder: Path, options: EngineOptions, sink: ProgressSink, cancel: CancelToken) -> str:
    """The build added (the window words the message, in its language)."""
    state = GameDir(folder).read_state() if (folder / ".slipstream").is_dir() else None
    if state is not None:
        records.register(folder, state, records.name_of(folder, state))
        return state.build_id
    from core.update.adopt import adopt as adopt_gog

    report = adopt_gog(folder, options=options, progress=sink, cancel=cancel)
    return report.to_build or ""


def check(record: InstallRecord, options: EngineOptions) -> Work:
    """The builds the game's source offers now."""

    def run(sink: ProgressSink, cancel: CancelToken) -> list[BuildItem]:
        with options.fetcher(cancel) as fetcher:
            source = open_source(record.source, fetcher, options.password)
            return list(source.listing(record.product, record.os).items)

    return run


def estimate(game: Path, items: Sequence[BuildItem], options: EngineOptions) -> Work:
    return offload(partial(_estimate, game, list(items)[:MAX_ESTIMATES], options), options)


def _estimate(
    game: Path,
    items: list[BuildItem],
    options: EngineOptions,
    sink: ProgressSink,
    cancel: CancelToken,
) -> dict[str, Cost | SlipstreamError]:
    return estimate_costs(game, items, options, cancel)
