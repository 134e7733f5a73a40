"""The update engine's operations: install, plan, update, rollback, verify and repair.

Each operation takes the game folder's lock, first finishes or undoes whatever an
interrupted earlier operation left (the journal), then plans (a pure function), stages
and verifies every new file in ``.slipstream/staging``, and commits through the journal:
the folder is always exactly the old build or exactly the new one. Every operation is
recorded in the library with its bytes, fallbacks and phase times.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path

from core.delta.xdelta import PatchPool
from core.errors import (
    CancelledError,
    FileConflictError,
    InsufficientSpaceError,
    LocalIOError,
    SlipstreamError,
    UnknownInstallError,
    UsageError,
)
from core.format import paths
from core.format.depot import DepotFile
from core.gamedir import journal
from core.gamedir.folder import GameDir, InstallState, RollbackPoint, delete_later
from core.gamedir.journal import LINKS_SUPPORTED, Change, commit, repair_links, rollback
from core.gamedir.verify import VerifyReport, verify_files
from core.net.source import RepoSource
from core.net.transport import Transport
from core.progress import NEVER_CANCELLED, CancelToken, Phase, Progress, ProgressSink, null_sink
from core.trust.pins import PIN_DIR
from core.update import records
from core.update.apply import FETCHING, apply_plan
from core.update.keep import keep_untracked
from core.update.options import EngineOptions
from core.update.plan import Hop, Plan, PlanKind, plan_update
from core.update.report import OperationReport, PhaseClock
from core.update.stage import Stager, kept_bytes
from core.update.target import (
    OpenBuild,
    Target,
    adoptable,
    cached_files,
    local_changes,
    new_state,
    open_target,
    patch_hops,
)

DISK_MARGIN = 16 * 2**20


def pins_of(game: GameDir) -> Path:
    """Where the game keeps its repository's trusted signed metadata (core/trust/pins.py)."""
    return game.meta / PIN_DIR


def check_space(game: GameDir, plan: Plan) -> None:
    """Refuse an update the disk cannot hold at its peak. What an interrupted run left in
    ``downloads/staged`` counts as already there: it is moved into staging, not written
    again (without this, a player who cancelled a large install on a nearly full disk
    could not take it up again: its staged files now held the space it asked for)."""
    kept = 0
    if game.resume_dir.is_dir():  # (most updates: no lstat per file for nothing)
        kept = sum(kept_bytes(game, a) for a in plan.actions if a.kind in FETCHING)
    need = max(0, plan.peak_disk_bytes + plan.download_bytes + DISK_MARGIN - kept)
    free = shutil.disk_usage(game.root).free
    if free < need:
        raise InsufficientSpaceError(
            f"The update needs {need:,} bytes of free space in {game.root} at its peak, "
            f"but only {free:,} bytes are free. Free some space and run it again."
        )


# --- operations ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    """One operation under way: its folder, options, report, clock and cancel token."""

    game: GameDir
    options: EngineOptions
    report: OperationReport
    clock: PhaseClock
    cancel: CancelToken


@contextmanager
def _operation(
    kind: str,
    game: GameDir,
    options: EngineOptions,
    progress: ProgressSink,
    cancel: CancelToken,
) -> Iterator[_Run]:
    """Time the operation, and record it in the library whatever its outcome."""
    game_dir = game.root
    report = OperationReport(kind, str(game_dir))
    # Before the folder changes: a library that cannot record the outcome must stop the
    # operation now, not leave the folder and the library disagreeing.
    report.notes += records.check_library(game_dir)
    clock = PhaseClock(progress)
    started = time.time()
    outcome, error = "ok", None
    try:
        yield _Run(game, options, report, clock, cancel)
    except BaseException as exc:
        cancelled = isinstance(exc, (KeyboardInterrupt, CancelledError))
        outcome = "cancelled" if cancelled else "failed"
        error = str(exc)
        raise
    finally:
        report.phases = clock.done()
        report.seconds = round(time.time() - started, 3)
        records.record(report, game_dir, started, outcome, error)


@contextmanager
def _staging_cleared_on_failure(game: GameDir) -> Iterator[None]:
    """Empty ``.slipstream/staging`` when staging or the commit fails: a failed update
    leaves no files behind there. What it staged goes to ``downloads/staged`` as resume
    data, beside the downloads (:meth:`GameDir.keep_staging`; the next run checks each
    chunk of it before use). Staging stays while a journal needs it."""
    try:
        yield
    except BaseException:
        if not game.journal_file.exists():
            with suppress(OSError, SlipstreamError):
                game.keep_staging()
        raise


def make_plan(
    game: GameDir,
    previous: InstallState | None,
    base: InstallState,
    old: Mapping[str, DepotFile] | None,
    target: Target,
    source: RepoSource,
    options: EngineOptions,
    local: Mapping[str, str] | None = None,
) -> Plan:
    """The plan from the folder as it is to ``target``. Patch documents that cannot be
    read cost the patches, not the update (the plan says why in ``patch_error``)."""
    if local is None:
        local = local_changes(game, previous, old or {}) if previous else {}
    hops: list[Hop] = []
    patch_error = pack_error = ""
    if previous and options.use_patches and previous.build_id != target.item.build_id:
        try:
            hops, pack_error = patch_hops(
                source,
                base.product,
                base.os,
                base.lang,
                previous.build_id,
                target.item.build_id,
                use_packs=options.use_packs,
            )
        except SlipstreamError as exc:
            patch_error = str(exc)
    small = target.depots[0].small_files if len(target.depots) == 1 else None
    plan = plan_update(
        old,
        target.files,
        from_build=previous.build_id if previous else None,
        to_build=target.item.build_id,
        hops=hops,
        local_md5=local,
        avoid=previous.failed_patches if previous else (),
        use_patches=options.use_patches,
        small_files=small,
        keep=[p for p, md5 in local.items() if md5] if options.keep_modified else (),
    )
    return replace(plan, patch_error=patch_error, pack_error=pack_error)


def _report_plan(report: OperationReport, plan: Plan) -> None:
    """Put in ``report`` what it shows of ``plan``: counts, route, bytes, changed files."""
    if plan.patch_error:
        report.fallbacks.append(("*", f"patches unavailable: {plan.patch_error}"))
    if plan.pack_error:
        report.fallbacks.append(("*", f"packs unavailable: {plan.pack_error}"))
    report.counts = plan.counts()
    report.route = list(plan.route)
    report.bytes_planned = plan.download_bytes
    report.bytes_full = plan.full_bytes
    report.modified = list(plan.modified)


def _execute(
    run: _Run,
    previous: InstallState | None,
    base: InstallState,
    old: Mapping[str, DepotFile] | None,
    target: Target,
    source: RepoSource,
    fetcher: Transport,
    *,
    local: Mapping[str, str] | None = None,
    label: str,
    pool: PatchPool | None = None,
) -> InstallState:
    """Plan, stage, verify and commit ``target`` over the current folder; ``pool``: patch
    workers already starting, which staging stops once its patches are done."""
    game, options, report = run.game, run.options, run.report
    clock, cancel = run.clock, run.cancel
    clock(Progress(Phase.PLANNING, 0, 1, "", "steps"))
    if target.manifest.dependencies:
        report.notes.append(
            "Not installed (install them separately if the game needs them): "
            + ", ".join(target.manifest.dependencies)
        )
    plan = make_plan(game, previous, base, old, target, source, options, local)
    _report_plan(report, plan)
    if target.links and not LINKS_SUPPORTED:
        report.notes.append(
            f"{len(target.links)} symbolic links of this build were not made (Windows): "
            + ", ".join(f"{p} -> {t}" for p, t in sorted(target.links.items())[:5])
        )
    check_space(game, plan)
    with _staging_cleared_on_failure(game):
        game.make_downloads()  # a clean LocalIOError if it cannot be made, before any fetch
        stager = Stager(
            game, source, fetcher, base.product, jobs=options.jobs, progress=clock, cancel=cancel
        )
        try:
            applied = apply_plan(
                plan,
                game,
                stager,
                patch_jobs=options.patch_jobs,
                progress=clock,
                cancel=cancel,
                pool=pool,
            )
        finally:
            # A cancelled or failed run downloaded what it did: the history says so, and
            # the resumed run that reuses those objects is not charged for them again.
            report.bytes_downloaded = stager.bytes_downloaded
        report.patches_applied = applied.patches_applied
        report.fallbacks += applied.fallbacks
        for name, data in target.raw.items():
            game.save_document(name, data)
        state = new_state(previous, base, target, plan, game, applied.failed_pairs)
        # A case-only rename stages the new spelling; the old one is moved out first (on a
        # case-insensitive disk it is the same file).
        renamed = [
            Change(a.source_path, None)
            for a in applied.staged
            if a.source_path
            and a.source_path != a.path
            and paths.collision_key(a.source_path) == paths.collision_key(a.path)
        ]
        changes = renamed + [Change(a.path, a.path) for a in applied.staged]
        changes += [Change(a.path, None) for a in plan.of_kind(PlanKind.DELETED)]
        cancel.raise_if_cancelled()
        clock(Progress(Phase.COMMITTING, 0, 1, "", "steps"))
        if previous is not None:
            # A file the new build adds where the player has one of their own is a conflict
            # like a changed file: their copy is kept where pruning never reaches it.
            incoming = [c.path for c in changes if c.staged is not None]
            report.kept, kept_in = keep_untracked(game, previous.files, incoming)
            report.kept_in = str(kept_in or "")
        old_folders = set(previous.folders) if previous else set()
        commit(
            game,
            changes,
            state,
            label=label,
            keep_points=options.keep_points,
            folders_to_create=target.folders,
            folders_to_remove=sorted(old_folders - set(target.folders), reverse=True),
            installed=previous,  # read as the operation started, under the same lock
        )
    _discard_downloads(game)
    return state


def _discard_downloads(game: GameDir) -> None:
    """Put the downloads out of the way in one rename, to be deleted once the operation
    has returned (core/gamedir/folder.py ``delete_later``): deleting a 2,000-file
    install's objects took 0.5-1.0 s of its commit. Where the rename cannot be made, they
    are deleted here, as before."""
    try:
        moved = game.discard_downloads()
    except SlipstreamError:
        shutil.rmtree(game.downloads, ignore_errors=True)
        return
    if moved is not None:
        delete_later(moved)


def _open_installed(
    fetcher: Transport,
    state: InstallState,
    options: EngineOptions,
    build: str | None,
    branch: str | None,
    pins: Path,
) -> OpenBuild:
    """The installed game's repository, opened at ``build`` (default: the newest of
    ``branch``) and read through the signed metadata it pinned (``pins``), if any."""
    return open_target(
        fetcher,
        state.source,
        state.product,
        state.os,
        build=build,
        branch=branch,
        password=options.password,
        pins=pins,
    )


def _go_to(
    run: _Run,
    state: InstallState,
    build: str | None,
    branch: str | None,
    *,
    verb: str = "update",
    local: Mapping[str, str] | None = None,
) -> tuple[InstallState, Target] | None:
    """Take the installed game to ``build`` (default: the newest of ``branch``) through
    the planner; ``None`` when it is there already and nothing is to be repaired."""
    with run.options.fetcher(run.cancel) as fetcher, ExitStack() as stack:
        opened = _open_installed(fetcher, state, run.options, build, branch, pins_of(run.game))
        item, source = opened.item, opened.source
        run.report.notes += opened.skipped
        run.report.to_build, run.report.version_name = item.build_id, item.version_name
        if item.build_id == state.build_id and local is None:
            return None
        pool = None
        if run.options.use_patches and item.build_id != state.build_id:
            # Started now, the patch workers get ready while the manifests are fetched and
            # the update is planned, not when the first patch is due (0.1-0.5 s, more
            # the first time a process starts its fork server).
            pool = stack.enter_context(PatchPool(run.options.patch_jobs))
            pool.start()
        target = opened.target(state.lang, state.dlcs)
        # Going to the installed build (a repair), the fetched manifests are the installed
        # ones: the cached copies are not needed, so a repair also mends a lost cache.
        same = item.build_id == state.build_id
        new = _execute(
            run,
            state,
            state,
            target.files if same else cached_files(run.game, state),
            target,
            source,
            fetcher,
            local=local,
            label=f"{verb} {state.build_id} → {item.build_id}",
            pool=pool,
        )
    return new, target


def update(
    game_dir: Path,
    to_build: str | None = None,
    options: EngineOptions = EngineOptions(),
    *,
    switch_to: tuple[str | None] | None = None,
    progress: ProgressSink = null_sink,
    cancel: CancelToken = NEVER_CANCELLED,
) -> OperationReport:
    """Update the game in ``game_dir`` to ``to_build`` (default: the newest build of its
    branch), older builds included. ``switch_to=(branch,)`` moves it to another branch
    (``None``: the default one), which later updates follow."""
    game = existing_game(game_dir)
    with _operation("update", game, options, progress, cancel) as run, game.lock():
        report = run.report
        report.recovered = _recover(game)
        state = _require_state(game)
        report.product, report.from_build = state.product, state.build_id
        branch = state.branch if switch_to is None else switch_to[0]
        moved = _go_to(run, state, to_build, branch)
        if moved is None:
            report.up_to_date = True
            if branch != state.branch:
                # The installed build is already that branch's: only the branch followed changes.
                new = replace(state, branch=branch)
                game.save_state(new)
                records.register(game_dir, new, records.name_of(game_dir, state))
            return report
        new, target = moved
        records.register(game_dir, new, target.manifest.product_name(state.product))
        return report


def existing_game(game_dir: Path) -> GameDir:
    """The game in ``game_dir``; refused before anything is written when there is none,
    so pointing a command at the wrong folder leaves no trace in it."""
    game = GameDir(game_dir)
    if not game.meta.is_dir():
        raise not_installed(game_dir)
    return game


def not_installed(game_dir: Path) -> UnknownInstallError:
    """The error for a folder that holds no game installed by Slipstream."""
    return UnknownInstallError(
        f"{game_dir}: install a game into it first "
        "(slipstream install --adopt keeps the files already there)."
    )


def _recover(game: GameDir) -> str | None:
    """Finish or undo an interrupted commit or rollback, then put aside what an
    interrupted staging left behind: with no journal, staged files are never committed as
    they are; they go to ``downloads/staged`` as resume data (:meth:`GameDir.keep_staging`),
    where the next update keeps only the chunks that still match their md5. The downloads
    of finished operations that were moved aside and not yet deleted are deleted."""
    message = journal.recover(game)
    game.keep_staging()
    game.sweep_discarded()  # downloads an earlier operation moved aside and did not delete
    return message


def _require_state(game: GameDir) -> InstallState:
    state = game.load_state()
    if state is None:
        raise not_installed(game.root)
    return state


def install(
    source_url: str,
    product: str,
    dest: Path,
    *,
    build: str | None = None,
    os_name: str = "windows",
    lang: str = "en-US",
    branch: str | None = None,
    adopt: bool = False,
    dlcs: Sequence[str] = (),
    options: EngineOptions = EngineOptions(),
    progress: ProgressSink = null_sink,
    cancel: CancelToken = NEVER_CANCELLED,
) -> OperationReport:
    """Install a build into ``dest``, which must be empty unless ``adopt``: then files
    already there that match the build are kept and the rest replaced (the old copies go
    into a rollback point). ``dlcs`` adds DLC products of the build (``all``: every one);
    later updates keep the same choice."""
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LocalIOError.wrap(exc, "create the game folder") from None
    game = GameDir(dest)
    with _operation("install", game, options, progress, cancel) as run, game.lock():
        report = run.report
        report.recovered = _recover(game)
        if game.load_state() is not None:
            raise UsageError(f"{dest} already holds a game installed by Slipstream; update it.")
        if not adopt and any(p.name != ".slipstream" for p in dest.iterdir()):
            raise UsageError(
                f"{dest} is not empty. Choose an empty folder, or pass --adopt to keep and "
                "reuse the game files already there."
            )
        with options.fetcher(cancel) as fetcher:
            opened = open_target(
                fetcher,
                source_url,
                product,
                os_name,
                build=build,
                branch=branch,
                password=options.password,
                pins=pins_of(game),
            )
            item, source = opened.item, opened.source
            report.notes += opened.skipped
            report.product, report.to_build = product, item.build_id
            report.version_name = item.version_name
            target = opened.target(lang, dlcs, strict_lang=True)
            base = InstallState(
                product=product,
                os=os_name,
                build_id=item.build_id,
                version_name=item.version_name,
                branch=item.branch,
                lang=lang,
                source=source.location,
                files={},
                folders=(),
                dlcs=tuple(dlcs),
            )
            old = adoptable(game, target) if adopt else None
            state = _execute(
                run, None, base, old, target, source, fetcher, local={}, label="install"
            )
        records.register(dest, state, target.manifest.product_name(product))
        return report


def plan_preview(
    game_dir: Path,
    to_build: str | None = None,
    options: EngineOptions = EngineOptions(),
    cancel: CancelToken = NEVER_CANCELLED,
) -> tuple[Plan, OperationReport]:
    """What an update would do and cost, without doing it."""
    game = existing_game(game_dir)
    report = OperationReport("plan", str(game_dir))
    with game.lock():
        report.recovered = _recover(game)
        state = _require_state(game)
        report.product, report.from_build = state.product, state.build_id
        with options.fetcher(cancel) as fetcher:
            opened = _open_installed(fetcher, state, options, to_build, state.branch, pins_of(game))
            item = opened.item
            report.to_build, report.version_name = item.build_id, item.version_name
            target = opened.target(state.lang, state.dlcs)
            old = cached_files(game, state)
            plan = make_plan(game, state, state, old, target, opened.source, options)
    _report_plan(report, plan)
    return plan, report


def rollback_game(
    game_dir: Path,
    to_build: str | None = None,
    options: EngineOptions = EngineOptions(),
    *,
    progress: ProgressSink = null_sink,
    cancel: CancelToken = NEVER_CANCELLED,
) -> OperationReport:
    """Go back to the build before the last update (from the rollback point, no server),
    or to ``to_build``: through rollback points when they reach it, else by downloading
    what is missing through the planner."""
    game = existing_game(game_dir)
    with _operation("rollback", game, options, progress, cancel) as run, game.lock():
        report, clock = run.report, run.clock
        report.recovered = _recover(game)
        state = _require_state(game)
        report.product, report.from_build = state.product, state.build_id
        points = [
            p for p in game.rollback_points() if p.state_before is not None and not p.is_repair
        ]
        chain = _points_to(points, to_build)
        if chain:
            clock(Progress(Phase.RESTORING, 0, len(chain), "", "steps"))
            for n, point in enumerate(chain, 1):
                cancel.raise_if_cancelled()
                state = rollback(game, point)
                clock(Progress(Phase.RESTORING, n, len(chain), point.label, "steps"))
        elif to_build is None:
            raise UsageError(f"{game_dir} has no rollback point to go back to.")
        else:
            moved = _go_to(run, state, to_build, state.branch, verb="roll back")
            if moved is not None:
                state = moved[0]
        report.to_build, report.version_name = state.build_id, state.version_name
    records.register(game_dir, state, records.name_of(game_dir, state))
    return report


def _mend_cached_manifests(run: _Run, state: InstallState) -> None:
    """Fetch the installed build's manifests again when their cached copies (which every
    update plans from) are lost or unreadable."""
    try:
        cached_files(run.game, state)
        return
    except SlipstreamError:
        pass
    with run.options.fetcher(run.cancel) as fetcher:
        opened = _open_installed(
            fetcher, state, run.options, state.build_id, None, pins_of(run.game)
        )
        target = opened.target(state.lang, state.dlcs)
    for name, data in target.raw.items():
        run.game.save_document(name, data)


def _points_to(points: list[RollbackPoint], to_build: str | None) -> list[RollbackPoint]:
    """The newest-first rollback points to undo to reach ``to_build`` (or just the newest)."""
    if not points:
        return []
    if to_build is None:
        return [points[0]]
    chain = []
    for point in points:
        chain.append(point)
        if point.state_before is not None and point.state_before.build_id == to_build:
            return chain
    return []


def verify_game(
    game_dir: Path,
    *,
    full: bool = False,
    repair: bool = False,
    options: EngineOptions = EngineOptions(),
    progress: ProgressSink = null_sink,
    cancel: CancelToken = NEVER_CANCELLED,
) -> tuple[OperationReport, VerifyReport]:
    """Check the installed files (quick: size and mtime; full: hashes); with ``repair``,
    fetch only the broken ones again (resume data is ignored)."""
    game = existing_game(game_dir)
    kind = "repair" if repair else "verify"
    with _operation(kind, game, options, progress, cancel) as run, game.lock():
        report = run.report
        report.recovered = _recover(game)
        state = _require_state(game)
        report.product = state.product
        report.from_build = report.to_build = state.build_id
        links = state.links if LINKS_SUPPORTED else {}
        result = verify_files(
            game.root, state.files, full=full, links=links, progress=run.clock, cancel=cancel
        )
        broken = {w.path: "" for w in result.file_wounds}
        if repair and broken:
            _discard_downloads(game)
            whole_files = replace(run, options=replace(options, use_patches=False))
            _go_to(whole_files, state, state.build_id, None, verb="repair", local=broken)
        elif repair:
            _mend_cached_manifests(run, state)
        if repair and result.link_wounds:
            _repair_links(game, state.links, [w.path for w in result.link_wounds])
        if not repair:
            records.set_status(game_dir, "ok" if result.ok else "needs repair")
        else:
            records.set_status(game_dir, "ok")
        return report, result


def _repair_links(game: GameDir, links: Mapping[str, str], wounded: list[str]) -> None:
    """Make the wounded links again; a file or folder of the player's in a link's place is
    not removed, and says so."""
    left = repair_links(game, {path: links[path] for path in wounded})
    if left:
        raise FileConflictError(
            f"{', '.join(left)}: the build makes a link here, but a file or folder is in "
            "its place. Move it away (it may be yours) and repair again."
        )
