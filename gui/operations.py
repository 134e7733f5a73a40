"""The window's operations: each starts a job for a game and handles how it ends.

An update is two jobs: a plan first (what it costs, which files the player changed),
then, after the conflict dialog when there is something to ask, the update itself with
the plan's per-file list shown live. Install, adopt, rollback, verify, the background
check for new builds and the cost estimates follow the same pattern: start the job
through :class:`~gui.jobs.JobManager` (one per game), keep its progress in the
:class:`~gui.store.GameStore`, and on the way out notify the player and emit
``jobFinished``.

Operations never see the window: they get the job manager, the store and a few
callables, and say what changed through signals the window connects to, so the window
depends on them and not the other way round.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QObject, QTimer, Signal

from core.cli.crashlog import redact
from core.errors import SlipstreamError
from core.format.builds import BuildItem
from core.progress import Phase
from core.units import format_bytes
from core.update.estimate import Cost
from core.update.options import EngineOptions
from core.update.report import OperationReport
from gui import work
from gui.dialogs import ConflictDialog, is_cancel
from gui.jobs import Job, JobManager
from gui.progress_state import FileEvent, ProgressState
from gui.store import GameStore

log = logging.getLogger("slipstream.gui")
translate = QCoreApplication.translate

Options = Callable[[], EngineOptions]
"""The engine options the player's settings give now."""
Notify = Callable[[str, str], None]
"""Tell the player something: (title, message)."""
AskConflict = Callable[[str, list[str]], ConflictDialog]
"""A conflict dialog, not yet open, for (game name, the files the player changed)."""


class Operations(QObject):
    jobFinished = Signal(str, str, object, str)
    """(game folder or task key, job kind, succeeded, message for the player)."""
    jobFailed = Signal(str, object, str)
    """(title, exception, traceback text): a failure to show the player."""
    libraryChanged = Signal()
    """A job changed the library: read the installs again."""
    progressChanged = Signal(str)
    """The progress of this game's job changed."""
    gameChanged = Signal(str)
    """This game's builds or their costs changed."""
    updateStarted = Signal(str)
    """An update of this game began applying its plan: its files are worth showing."""
    gameAdded = Signal(str)
    """This game just joined the library (an install: from its first second)."""
    sizeChanged = Signal(str)
    """This game's size on disk was measured."""
    historyLoaded = Signal(str, object, object)
    """(game, its operations newest first, its rollback points)."""

    def __init__(
        self,
        *,
        jobs: JobManager,
        store: GameStore,
        notify: Notify,
        options: Callable[[], EngineOptions],
        current_game: Callable[[], str | None],
        ask_conflict: AskConflict,
    ) -> None:
        super().__init__()
        self.jobs = jobs
        self.store = store
        self.notify = notify
        self.options = options
        self.current_game = current_game
        self.ask_conflict = ask_conflict
        self._history_again: set[str] = set()
        self.auto_update = False
        """Whether a background check that finds a newer build starts the update itself."""

    def _start(self, key: str, kind: str, body: Any) -> Job | None:
        job = self.jobs.start(key, kind, body)
        if job is None:
            self.notify(
                self.tr("Busy"),
                self.tr("{0} is busy with another job; wait for it.").format(Path(key).name),
            )
            return None
        self.store.errors.pop(key, None)
        job.failed.connect(lambda exc, details: self._on_job_failed(key, kind, exc, details))
        return job

    def _on_job_failed(self, key: str, kind: str, exc: BaseException, details: str) -> None:
        state = self.store.progress.get(key)
        if kind == "install":
            self.store.drop_pending(key)
        if is_cancel(exc):
            if state is not None:
                state.finish("cancelled")
            message = _stopped_message(kind, state)
            self.notify(self.tr("{0} stopped").format(job_name(kind)), message)
        else:
            if state is not None:
                state.finish("failed")
            log.error("%s of %s failed: %s\n%s", kind, key, exc, redact(details))
            internal = self.tr("internal error")
            message = str(exc) if isinstance(exc, SlipstreamError) else internal
            self.store.errors[key] = message
            title = self.tr("{0} failed").format(job_name(kind))
            self.jobFailed.emit(title, exc, details)
            self.notify(title, message)
        self.libraryChanged.emit()
        self.jobFinished.emit(key, kind, False, message)

    def _progress_to(self, key: str, job: Job, state: ProgressState) -> None:
        self.store.progress[key] = state
        job.progressed.connect(
            lambda progress, events: self._on_job_progressed(key, state, progress, events)
        )

    def _on_job_progressed(
        self, key: str, state: ProgressState, progress: Any, events: list[FileEvent]
    ) -> None:
        state.update(progress, events)
        self.progressChanged.emit(key)

    # update: plan, ask, run

    def update_game(self, game: str, to_build: str | None = None, *, auto: bool = False) -> None:
        """Plan first (what it costs, which files the player changed), then update.
        ``auto``: started by a background check, so nobody is there to ask."""
        job = self._start(game, "prepare", work.preview(Path(game), to_build, self.options()))
        if job is None:
            return
        self.store.progress[game] = ProgressState("update", phase=Phase.PLANNING)
        self.progressChanged.emit(game)
        job.succeeded.connect(lambda result: self._on_prepare_job_succeeded(game, result, auto))

    def _on_prepare_job_succeeded(
        self, game: str, result: tuple[Any, OperationReport, tuple[int, int]], auto: bool = False
    ) -> None:
        plan, report, resumed = result
        if report.to_build == report.from_build and not plan.download_bytes:
            self.store.progress.pop(game, None)
            self.progressChanged.emit(game)
            message = self.tr("{0} is up to date (build {1}).").format(
                self.store.name(game, game), report.to_build
            )
            if not auto:
                self.notify(self.tr("Up to date"), message)
            self.jobFinished.emit(game, "update", True, message)
            return
        if report.modified and auto:
            self._skip_auto_update(game, report)
            return
        if report.modified:
            name = self.store.name(game, Path(game).name)
            dialog = self.ask_conflict(name, list(report.modified))
            dialog.chosen.connect(
                lambda choice: self._on_conflict_dialog_chosen(game, plan, report, choice, resumed)
            )
            dialog.rejected.connect(lambda: self._on_conflict_dialog_rejected(game))
            dialog.open()
            return
        self._run_update(game, plan, report, None, resumed)

    def _on_conflict_dialog_chosen(
        self,
        game: str,
        plan: Any,
        report: OperationReport,
        choice: str,
        resumed: tuple[int, int],
    ) -> None:
        self._run_update(game, plan, report, choice, resumed)

    def _on_conflict_dialog_rejected(self, game: str) -> None:
        self.store.progress.pop(game, None)
        self.progressChanged.emit(game)
        self.jobFinished.emit(game, "update", False, self.tr("The update was not started."))

    def _run_update(
        self,
        game: str,
        plan: Any,
        report: OperationReport,
        choice: str | None,
        resumed: tuple[int, int],
    ) -> None:
        options = replace(self.options(), keep_modified=choice == ConflictDialog.KEEP_MINE)
        keep = list(report.modified) if choice == ConflictDialog.TAKE_NEW else []
        body = work.update(Path(game), report.to_build, options, keep)
        job = self._start(game, "update", body)
        if job is None:
            return
        state = ProgressState("update")
        state.set_plan(plan)
        state.resume_from(*resumed)
        self._progress_to(game, job, state)
        job.succeeded.connect(lambda result: self._on_update_job_succeeded(game, result))
        self.updateStarted.emit(game)

    def _on_update_job_succeeded(
        self, game: str, result: tuple[OperationReport, Path | None]
    ) -> None:
        report, kept = result
        state = self.store.progress.get(game)
        if state is not None:
            state.finish("ok", (p for p, _ in report.fallbacks))
        saved = max(0, report.bytes_full - report.bytes_downloaded)
        message = self.tr("{0} is now {1} ({2}): downloaded {3}, saved {4}").format(
            self.store.name(game, Path(game).name),
            report.version_name or self.tr("build"),
            report.to_build,
            format_bytes(report.bytes_downloaded),
            format_bytes(saved),
        )
        if report.fallbacks:
            fell = self.tr("; %n file(s) fell back to a full download", None, len(report.fallbacks))
            message += fell
        if kept is not None:
            message += self.tr("; your changed files were copied to {0}").format(kept)
        if report.kept:
            message += self.tr(
                "; %n file(s) of yours that the new build ships ({0}) were moved to {1}",
                None,
                len(report.kept),
            ).format(_names(report.kept), report.kept_in)
        self.store.kept[game] = (list(report.kept), report.kept_in)
        self.store.notified.pop(game, None)
        self.notify(self.tr("Update finished"), message)
        self.libraryChanged.emit()
        self.measure(game)
        self.build_changed(game)
        self.jobFinished.emit(game, "update", True, message)

    def switch_branch(self, game: str, branch: str | None, password: str | None = None) -> None:
        """Move the game to ``branch``'s newest build (an update, shown as one);
        ``password`` opens a GOG private branch."""
        options = self.options()
        if password:
            options = replace(options, password=password)
        body = work.switch_branch(Path(game), branch, options)
        job = self._start(game, "update", body)
        if job is None:
            return
        self._progress_to(game, job, ProgressState("update"))
        job.succeeded.connect(lambda result: self._on_update_job_succeeded(game, result))
        self.updateStarted.emit(game)

    # rollback and verify

    def rollback(self, game: str, target: str) -> None:
        body = work.rollback(Path(game), target, self.options())
        job = self._start(game, "rollback", body)
        if job is None:
            return
        self._progress_to(game, job, ProgressState("rollback"))
        job.succeeded.connect(lambda report: self._on_rollback_job_succeeded(game, report))

    def _on_rollback_job_succeeded(self, game: str, report: OperationReport) -> None:
        state = self.store.progress.get(game)
        if state is not None:
            state.finish("ok")
        message = self.tr("Back at {0} ({1}).").format(
            report.version_name or self.tr("build"), report.to_build
        )
        self.notify(self.tr("Rolled back"), message)
        self.libraryChanged.emit()
        self.measure(game)
        self.build_changed(game)
        self.jobFinished.emit(game, "rollback", True, message)

    def verify(self, game: str) -> None:
        job = self._start(game, "verify", work.verify(Path(game), self.options()))
        if job is None:
            return
        self._progress_to(game, job, ProgressState("verify"))
        job.succeeded.connect(lambda result: self._on_verify_job_succeeded(game, result))

    def _on_verify_job_succeeded(self, game: str, result: tuple[OperationReport, Any]) -> None:
        _report, check = result
        state = self.store.progress.get(game)
        if state is not None:
            state.finish("ok")
        wounds = list(check.wounds)
        if wounds:
            message = self.tr("Repaired %n file(s): {0}.", None, len(wounds)).format(
                _names([w.path for w in wounds])
            )
        else:
            message = self.tr("All {0} files are intact.").format(check.checked)
        self.notify(self.tr("Verify finished"), message)
        self.libraryChanged.emit()
        self.jobFinished.emit(game, "verify", True, message)

    # adding games

    def install_game(
        self,
        source: str,
        product: str,
        folder: str,
        os: str = "windows",
        lang: str = "en-US",
        adopt: bool = False,
        build: str | None = None,
        password: str | None = None,
    ) -> None:
        """Install ``build`` (default: the newest of the default branch; ``password``
        opens a GOG private branch's) into ``folder``, listed from its first second."""
        key = str(Path(folder).expanduser().resolve())
        options = self.options()
        if password:
            options = replace(options, password=password)
        body = work.install(source, product, Path(key), os, lang, adopt, options, build)
        job = self._start(key, "install", body)
        if job is None:
            return
        self._progress_to(key, job, ProgressState("install"))
        # Listed and selected now, with its progress, not when the download is over.
        self.store.add_pending(key, product, os, lang, source)
        self.libraryChanged.emit()
        self.gameAdded.emit(key)
        self.updateStarted.emit(key)
        job.succeeded.connect(
            lambda report: self._on_add_job_succeeded(
                key,
                "install",
                self.tr("Installed"),
                self.tr("Installed {0} ({1}) in {2}.").format(
                    report.version_name or self.tr("build"), report.to_build, key
                ),
            )
        )

    def adopt_folder(self, folder: str) -> None:
        key = str(Path(folder).resolve())
        job = self._start(key, "adopt", work.adopt(Path(key), self.options()))
        if job is None:
            return
        self._progress_to(key, job, ProgressState("verify"))
        job.succeeded.connect(
            lambda build: self._on_add_job_succeeded(
                key,
                "adopt",
                self.tr("Game added"),
                self.tr("Added {0} (build {1}) to the library.").format(key, build),
            )
        )

    def _on_add_job_succeeded(self, key: str, kind: str, title: str, message: str) -> None:
        """A game joined the library: show it, tell the player, look for its updates."""
        state = self.store.progress.get(key)
        if kind == "install" and state is not None:
            state.finish("ok")  # the files list stays, as after an update
        else:
            self.store.progress.pop(key, None)
        self.store.drop_pending(key)
        self.libraryChanged.emit()
        self.measure(key)
        self.gameAdded.emit(key)
        self.notify(title, message)
        self.check_game(key)
        self.jobFinished.emit(key, kind, True, message)

    # checking for updates

    def check_game(self, key: str) -> None:
        record = self.store.records.get(key)
        if record is None:
            return
        job = self.jobs.start(f"check:{key}", "check", work.check(record, self.options()))
        if job is None:
            return
        job.succeeded.connect(lambda items: self._on_check_job_succeeded(key, items))
        job.failed.connect(lambda exc, details: self._on_check_job_failed(key, exc))

    def check_all(self) -> None:
        for key in list(self.store.records):
            self.check_game(key)

    def _on_check_job_succeeded(self, key: str, items: list[BuildItem]) -> None:
        self.store.listings[key] = items
        newest = self.store.newest(key)
        record = self.store.records.get(key)
        fresh = self.store.has_update(key)
        if fresh and newest and record and self.store.notified.get(key) != newest.build_id:
            # Once per build: an automatic update that failed is not retried every check.
            self.store.notified[key] = newest.build_id
            if self.auto_update and not self.jobs.busy(key):
                self.update_game(key, None, auto=True)
            else:
                version = newest.version_name or newest.build_id
                self.notify(
                    self.tr("Update available"),
                    self.tr("{0} {1} is out.").format(record.name, version),
                )
        self.store.costs.pop(key, None)  # the builds may have changed: estimate afresh
        self.gameChanged.emit(key)
        if key == self.current_game():
            self.estimate(key)
        self.jobFinished.emit(f"check:{key}", "check", True, "")

    def _on_check_job_failed(self, key: str, exc: BaseException) -> None:
        self.notify(
            self.tr("Could not check for updates"),
            self.tr("{0}: {1}").format(self.store.name(key, key), exc),
        )
        self.jobFinished.emit(f"check:{key}", "check", False, str(exc))

    def estimate(self, key: str) -> None:
        """What each listed build costs from the installed one. Only for the game on
        screen: each build's estimate fetches its manifests, too much for every game at
        start-up and on every background check."""
        items = self.store.listings.get(key, [])
        if not items or key in self.store.costs:
            return
        body = work.estimate(Path(key), items, self.options())
        job = self.jobs.start(f"estimate:{key}", "estimate", body)
        if job is None:
            return
        job.succeeded.connect(lambda costs: self._on_estimate_job_succeeded(key, costs))
        builds = [item.build_id for item in items]
        job.failed.connect(lambda exc, _details: self._on_estimate_job_failed(key, builds, exc))

    def _on_estimate_job_succeeded(
        self, key: str, costs: dict[str, Cost | SlipstreamError]
    ) -> None:
        self.store.costs[key] = costs
        self.gameChanged.emit(key)

    def _on_estimate_job_failed(self, key: str, builds: list[str], exc: BaseException) -> None:
        error = exc if isinstance(exc, SlipstreamError) else SlipstreamError(str(exc))
        costs: dict[str, Cost | SlipstreamError] = {build: error for build in builds}
        self._on_estimate_job_succeeded(key, costs)

    def build_changed(self, game: str) -> None:
        """The installed build changed: the costs shown were from the old one."""
        self.store.costs.pop(game, None)
        if game == self.current_game():
            self.estimate(game)

    def update_all(self) -> None:
        for key in list(self.store.records):
            if self.store.has_update(key):
                self.update_game(key, None)

    def _skip_auto_update(self, game: str, report: OperationReport) -> None:
        """An automatic update found files the player changed: it does not choose for
        them (keep theirs, or take the new ones and keep a copy); it tells them instead."""
        self.store.progress.pop(game, None)
        self.progressChanged.emit(game)
        version = report.version_name or report.to_build
        message = self.tr(
            "{0} {1} is out. It was not updated on its own because {2} of its files were "
            "changed on this computer: press Update to choose which to keep."
        ).format(self.store.name(game, Path(game).name), version, len(report.modified))
        self.notify(self.tr("Update available"), message)
        self.jobFinished.emit(game, "update", False, message)

    # history

    def load_history(self, key: str) -> None:
        """Read ``key``'s history and rollback points off the GUI thread; asked again
        while a read runs, read once more when it ends, so the last ask is answered."""
        body = work.history(Path(key), with_points=not self.jobs.busy(key))
        job = self.jobs.start(f"history:{key}", "history", body)
        if job is None:
            self._history_again.add(key)
            return
        job.succeeded.connect(lambda found: self._on_history_job_succeeded(key, found))
        job.failed.connect(lambda exc, details: self._on_history_job_failed(key, exc))

    def _on_history_job_succeeded(self, key: str, found: tuple[Any, Any]) -> None:
        self.historyLoaded.emit(key, *found)
        self._history_read_again(key)

    def _on_history_job_failed(self, key: str, exc: BaseException) -> None:
        if key not in self.store.pending:
            self.notify(self.tr("History"), str(exc))
        self.historyLoaded.emit(key, [], [])
        self._history_read_again(key)

    def _history_read_again(self, key: str) -> None:
        if key in self._history_again:
            self._history_again.discard(key)
            # After the finished job leaves the manager: started from its own slot, the
            # new one would find the old one still registered.
            QTimer.singleShot(0, lambda: self.load_history(key))

    # size on disk

    def measure(self, key: str) -> None:
        """Read what ``key``'s installed files take, off the GUI thread."""
        if self.store.is_pending(key):
            return
        job = self.jobs.start(f"size:{key}", "size", work.disk_size(Path(key)))
        if job is not None:
            job.succeeded.connect(lambda size: self._on_size_job_succeeded(key, size))

    def measure_missing(self) -> None:
        for key in list(self.store.records):
            if key not in self.store.sizes:
                self.measure(key)

    def _on_size_job_succeeded(self, key: str, size: int) -> None:
        self.store.sizes[key] = size
        self.sizeChanged.emit(key)


JOB_NAMES = {
    "prepare": QT_TRANSLATE_NOOP("Operations", "Update"),
    "update": QT_TRANSLATE_NOOP("Operations", "Update"),
    "install": QT_TRANSLATE_NOOP("Operations", "Install"),
    "rollback": QT_TRANSLATE_NOOP("Operations", "Rollback"),
    "verify": QT_TRANSLATE_NOOP("Operations", "Verify"),
    "adopt": QT_TRANSLATE_NOOP("Operations", "Adding the game"),
}


def job_name(kind: str) -> str:
    """The job's name as the player reads it in a title ("Install stopped")."""
    name = JOB_NAMES.get(kind)
    return translate("Operations", str(name)) if name else kind.capitalize()


def _stopped_message(kind: str, state: ProgressState | None) -> str:
    """What a cancelled job left, and how to go on: never just "Cancelled"."""
    done = state.download_done if state is not None else 0
    if done:
        kept = translate("Operations", "the {0} already downloaded").format(format_bytes(done))
    else:
        kept = translate("Operations", "what was downloaded")
    if kind == "update":
        return translate(
            "Operations", "The game is unchanged. Press Update again to resume from {0}."
        ).format(kept)
    if kind == "install":
        return translate(
            "Operations",
            "Nothing was installed. Install into the same folder again to resume from {0}.",
        ).format(kept)
    if kind == "rollback":
        return translate("Operations", "The game is at whichever build its row shows.")
    if kind == "verify":
        return translate("Operations", "Nothing was repaired. Press Verify to check again.")
    return translate("Operations", "Nothing was changed.")


def _names(paths: list[str], shown: int = 5) -> str:
    return ", ".join(paths[:shown]) + ("…" if len(paths) > shown else "")
