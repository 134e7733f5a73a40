"""The window's operations: each starts a job for a game and handles how it ends.

An update is two jobs: a plan first (what it costs, which files the player changed),
then, after the conflict dialog when there is something to ask, the update itself with
the plan's per-file list shown live. Install, adopt, rollback, verify, the background
check for new builds and the cost estimates follow the same pattern: start the job
through :class:`~gui.jobs.JobManager` (one per game), show its progress, and on the way
out refresh the library, notify the player and emit the window's ``jobFinished``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.cli.crashlog import redact
from core.errors import SlipstreamError
from core.format.builds import BuildItem
from core.units import format_bytes
from core.update.estimate import Cost
from core.update.report import OperationReport
from gui import views, work
from gui.dialogs import ConflictDialog, is_cancel, show_error
from gui.jobs import Job
from gui.progress_state import FileEvent, ProgressState

if TYPE_CHECKING:
    from gui.window import MainWindow

log = logging.getLogger("slipstream.gui")


class Operations:
    def __init__(self, window: MainWindow) -> None:
        self.w = window

    def _start(self, key: str, kind: str, body: Any) -> Job | None:
        job = self.w.jobs.start(key, kind, body)
        if job is None:
            self.w.notify("Busy", f"{Path(key).name} is busy with another job; wait for it.")
            return None
        self.w.errors.pop(key, None)
        job.failed.connect(lambda exc, details: self._job_failed(key, kind, exc, details))
        return job

    def _job_failed(self, key: str, kind: str, exc: BaseException, details: str) -> None:
        state = self.w.progress.get(key)
        if is_cancel(exc):
            if state is not None:
                state.finish("cancelled")
            message = "Cancelled. Press Update again to resume from what was downloaded."
            if kind == "rollback":
                message = "Cancelled; the game is at whichever build the status shows."
            self.w.notify("Cancelled", message)
        else:
            if state is not None:
                state.finish("failed")
            log.error("%s of %s failed: %s\n%s", kind, key, exc, redact(details))
            message = str(exc) if isinstance(exc, SlipstreamError) else "internal error"
            self.w.errors[key] = message
            if self.w.isVisible():
                show_error(self.w, f"{kind.capitalize()} failed", exc, details)
            self.w.notify(f"{kind.capitalize()} failed", message)
        self.w.reload_library()
        self.w.jobFinished.emit(key, kind, False, message)

    def _progress_to(self, key: str, job: Job, state: ProgressState) -> None:
        self.w.progress[key] = state

        def on_progress(progress: Any, events: list[FileEvent]) -> None:
            state.update(progress, events)
            if key == self.w.current_game():
                self.w.refresh_progress()
            self._refresh_game_row(key)

        job.progressed.connect(on_progress)

    def _refresh_game_row(self, key: str) -> None:
        for item in views.rows(self.w.gamesView):
            if item.data(0, views.ROLE) == key:
                item.setText(3, self.w.status_of(key))

    # update: plan, ask, run

    def update_game(self, game: str, to_build: str | None = None) -> None:
        options = self.w.engine_options()
        job = self._start(game, "prepare", work.preview(Path(game), to_build, options))
        if job is None:
            return
        self.w.progress[game] = ProgressState("update", phase="planning")
        self.w.refresh_progress()
        job.succeeded.connect(lambda result: self._prepared(game, result))

    def _prepared(self, game: str, result: tuple[Any, OperationReport]) -> None:
        plan, report = result
        if report.to_build == report.from_build and not plan.download_bytes:
            self.w.progress.pop(game, None)
            self.w.refresh_progress()
            name = self.w.records[game].name if game in self.w.records else game
            message = f"{name} is up to date (build {report.to_build})."
            self.w.notify("Up to date", message)
            self.w.jobFinished.emit(game, "update", True, message)
            return
        if report.modified:
            name = self.w.records[game].name if game in self.w.records else Path(game).name
            dialog = ConflictDialog(name, list(report.modified), self.w)
            dialog.chosen.connect(lambda choice: self._run_update(game, plan, report, choice))
            dialog.rejected.connect(lambda: self._update_declined(game))
            dialog.open()
            return
        self._run_update(game, plan, report, None)

    def _update_declined(self, game: str) -> None:
        self.w.progress.pop(game, None)
        self.w.refresh_progress()
        self.w.jobFinished.emit(game, "update", False, "The update was not started.")

    def _run_update(
        self, game: str, plan: Any, report: OperationReport, choice: str | None
    ) -> None:
        options = replace(self.w.engine_options(), keep_modified=choice == ConflictDialog.KEEP_MINE)
        keep = list(report.modified) if choice == ConflictDialog.TAKE_NEW else []
        body = work.update(Path(game), report.to_build, options, keep)
        job = self._start(game, "update", body)
        if job is None:
            return
        state = ProgressState("update")
        state.set_plan(plan)
        self._progress_to(game, job, state)
        job.succeeded.connect(lambda result: self._updated(game, result))
        self.w.tabs.setCurrentWidget(self.w.filesView)
        self.w.refresh_progress()

    def _updated(self, game: str, result: tuple[OperationReport, Path | None]) -> None:
        report, kept = result
        state = self.w.progress.get(game)
        if state is not None:
            state.finish("ok", (p for p, _ in report.fallbacks))
        name = self.w.records[game].name if game in self.w.records else Path(game).name
        saved = max(0, report.bytes_full - report.bytes_downloaded)
        message = (
            f"{name} is now {report.version_name or 'build'} ({report.to_build}): "
            f"downloaded {format_bytes(report.bytes_downloaded)}, saved {format_bytes(saved)}"
        )
        if report.fallbacks:
            message += f"; {len(report.fallbacks)} file(s) fell back to a full download"
        if kept is not None:
            message += f"; your changed files were copied to {kept}"
        self.w.notified.pop(game, None)
        self.w.notify("Update finished", message)
        self.w.reload_library()
        self.build_changed(game)
        self.w.jobFinished.emit(game, "update", True, message)

    # rollback and verify

    def rollback(self, game: str, target: str) -> None:
        body = work.rollback(Path(game), target, self.w.engine_options())
        job = self._start(game, "rollback", body)
        if job is None:
            return
        self._progress_to(game, job, ProgressState("rollback"))
        job.succeeded.connect(lambda report: self._rolled_back(game, report))

    def _rolled_back(self, game: str, report: OperationReport) -> None:
        state = self.w.progress.get(game)
        if state is not None:
            state.finish("ok")
        message = f"Back at {report.version_name or 'build'} ({report.to_build})."
        self.w.notify("Rolled back", message)
        self.w.reload_library()
        self.build_changed(game)
        self.w.jobFinished.emit(game, "rollback", True, message)

    def verify(self, game: str) -> None:
        job = self._start(game, "verify", work.verify(Path(game), self.w.engine_options()))
        if job is None:
            return
        self._progress_to(game, job, ProgressState("verify"))
        job.succeeded.connect(lambda result: self._verified(game, result))

    def _verified(self, game: str, result: tuple[OperationReport, Any]) -> None:
        _report, check = result
        state = self.w.progress.get(game)
        if state is not None:
            state.finish("ok")
        wounds = list(check.wounds)
        if wounds:
            names = ", ".join(w.path for w in wounds[:5]) + ("…" if len(wounds) > 5 else "")
            message = f"Repaired {len(wounds)} file(s): {names}."
        else:
            message = f"All {check.checked} files are intact."
        self.w.notify("Verify finished", message)
        self.w.reload_library()
        self.w.jobFinished.emit(game, "verify", True, message)

    # adding games

    def install_game(
        self,
        source: str,
        product: str,
        folder: str,
        os: str = "windows",
        lang: str = "en-US",
        adopt: bool = False,
    ) -> None:
        key = str(Path(folder).expanduser().resolve())
        body = work.install(source, product, Path(key), os, lang, adopt, self.w.engine_options())
        job = self._start(key, "install", body)
        if job is None:
            return
        self._progress_to(key, job, ProgressState("install"))
        job.succeeded.connect(
            lambda report: self._added(
                key,
                "install",
                "Installed",
                f"Installed {report.version_name or 'build'} ({report.to_build}) in {key}.",
            )
        )

    def adopt_folder(self, folder: str) -> None:
        key = str(Path(folder).resolve())
        job = self._start(key, "adopt", work.adopt(Path(key), self.w.engine_options()))
        if job is None:
            return
        self._progress_to(key, job, ProgressState("verify"))
        job.succeeded.connect(lambda message: self._added(key, "adopt", "Game added", message))

    def _added(self, key: str, kind: str, title: str, message: str) -> None:
        """A game joined the library: show it, tell the player, look for its updates."""
        self.w.progress.pop(key, None)
        self.w.reload_library()
        self.w.select_game(key)
        self.w.notify(title, message)
        self.check_game(key)
        self.w.jobFinished.emit(key, kind, True, message)

    # checking for updates

    def check_game(self, key: str) -> None:
        record = self.w.records.get(key)
        if record is None:
            return
        task = f"check:{key}"
        job = self.w.jobs.start(task, "check", work.check(record, self.w.engine_options()))
        if job is None:
            return
        job.succeeded.connect(lambda items: self._checked(key, items))
        job.failed.connect(lambda exc, details: self._check_failed(key, exc))

    def _checked(self, key: str, items: list[BuildItem]) -> None:
        self.w.listings[key] = items
        newest = self.w.newest(key)
        record = self.w.records.get(key)
        fresh = newest and record and newest.build_id != record.build_id
        if fresh and newest and record and self.w.notified.get(key) != newest.build_id:
            self.w.notified[key] = newest.build_id
            self.w.notify(
                "Update available",
                f"{record.name} {newest.version_name or newest.build_id} is out.",
            )
        self.w.refresh_games()
        self.w.costs.pop(key, None)  # the builds may have changed: estimate afresh
        if key == self.w.current_game():
            self.w.refresh_details()
            self.estimate(key)
        self.w.jobFinished.emit(f"check:{key}", "check", True, "")

    def _check_failed(self, key: str, exc: BaseException) -> None:
        name = self.w.records[key].name if key in self.w.records else key
        self.w.notify("Could not check for updates", f"{name}: {exc}")
        self.w.jobFinished.emit(f"check:{key}", "check", False, str(exc))

    def estimate(self, key: str) -> None:
        """What each listed build costs from the installed one. Only for the game on
        screen: each build's estimate fetches its manifests, too much for every game at
        start-up and on every background check."""
        items = self.w.listings.get(key, [])
        if not items or key in self.w.costs:
            return
        job = self.w.jobs.start(
            f"estimate:{key}", "estimate", work.estimate(Path(key), items, self.w.engine_options())
        )
        if job is None:
            return

        def done(costs: dict[str, Cost | SlipstreamError]) -> None:
            self.w.costs[key] = costs
            if key == self.w.current_game():
                self.w.refresh_details()

        def failed(exc: BaseException, _details: str) -> None:
            error = exc if isinstance(exc, SlipstreamError) else SlipstreamError(str(exc))
            done({item.build_id: error for item in items})

        job.succeeded.connect(done)
        job.failed.connect(failed)

    def build_changed(self, game: str) -> None:
        """The installed build changed: the costs shown were from the old one."""
        self.w.costs.pop(game, None)
        if game == self.w.current_game():
            self.estimate(game)

    def update_all(self) -> None:
        for key in list(self.w.records):
            newest = self.w.newest(key)
            record = self.w.records[key]
            if newest is not None and newest.build_id != record.build_id:
                self.update_game(key, None)
