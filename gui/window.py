"""The main window: the library on the left, the selected game on the right.

Every piece of work runs as a :class:`~gui.jobs.Job` on its own thread (patches in the
core's worker processes), one job per game at a time; the window only reads the library
and renders. Its parts each live in their own module:

- :class:`~gui.library_pane.LibraryPane`: the games, with status and size on disk;
- :class:`~gui.game_pane.GamePane`: the game's buttons, the progress panel
  (:mod:`gui.progress_panel`), builds, the running job's files (:mod:`gui.files_model`)
  and history;
- :mod:`gui.menus`: the menu bar and toolbar;
- :class:`~gui.operations.Operations`: what the buttons start, reporting through signals;
- :class:`~gui.store.GameStore`: what the window knows, shared with the operations;
- :class:`~gui.tray.Tray`.

The window wires them: it gives each what it needs through its constructor and connects
to their signals, so none of them knows the window.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QFileDialog, QMainWindow, QSplitter, QTreeWidget, QWidget

from core.errors import SlipstreamError
from core.format.builds import BuildItem
from core.gamedir.folder import RollbackPoint
from core.library import autostart
from core.library.db import InstallRecord, OperationRecord
from core.library.settings import Settings, load_settings_checked, save_settings
from core.trust.pins import install_signing
from core.update.estimate import Cost
from core.update.options import EngineOptions, options_from_settings
from gui import menus, views
from gui.add_game import JOB_PREFIX as ADD_GAME_JOBS
from gui.add_game import AddGameDialog, library_folder
from gui.dialogs import ConflictDialog, ask_quit_while_busy, show_error
from gui.game_pane import PASSWORD_ENTRY, GamePane
from gui.icons import app_icon
from gui.jobs import JobManager
from gui.library_pane import LibraryPane
from gui.manage import Manage
from gui.notify import Notifier
from gui.operations import Operations
from gui.progress_state import ProgressState
from gui.store import GameStore
from gui.tray import Tray

if TYPE_CHECKING:
    from gui.settings_dialog import SettingsDialog

log = logging.getLogger("slipstream.gui")
ROLE = views.ROLE
BACKGROUND = ("check:", "estimate:", "size:", "history:", "art:", ADD_GAME_JOBS)
"""Job keys of background work: quitting does not ask about them."""


class MainWindow(QMainWindow):
    jobFinished = Signal(str, str, object, str)
    """(game folder or task key, job kind, succeeded, message for the player)."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        tray: bool | None = None,
        check_on_start: bool = True,
    ) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("Slipstream")
        self.setWindowIcon(app_icon())
        problem = None
        if settings is None:
            settings, problem = load_settings_checked()
        self.settings = settings
        self.jobs = JobManager(self)
        self.store = GameStore()
        self.ops = self._build_operations()
        self.manage = self._build_manage()
        self.notifications: list[tuple[str, str]] = []
        self.quitting = False
        self.account: str | None = None
        self._build_ui()
        self.tray = self._build_tray(tray)
        self.notifier = self._build_notifier()
        self.check_timer = QTimer(self)
        self.check_timer.setObjectName("checkTimer")
        self.check_timer.timeout.connect(self._on_check_timer_timeout)
        self.apply_settings(self.settings)
        self.jobs.changed.connect(self._on_jobs_changed)
        self.reload_library()
        self.ops.measure_missing()
        if problem:
            self.notify(self.tr("Settings"), problem)
        QTimer.singleShot(0, self.refresh_account)
        if check_on_start:
            QTimer.singleShot(0, self.check_now)

    # The store's maps, as the window's attributes tests and tools have always read.

    @property
    def records(self) -> dict[str, InstallRecord]:
        return self.store.records

    @property
    def progress(self) -> dict[str, ProgressState]:
        return self.store.progress

    @property
    def costs(self) -> dict[str, dict[str, Cost | SlipstreamError]]:
        return self.store.costs

    # --- wiring ---------------------------------------------------------------------------

    def _build_operations(self) -> Operations:
        ops = Operations(
            jobs=self.jobs,
            store=self.store,
            notify=self.notify,
            options=self.engine_options,
            current_game=self.current_game,
            ask_conflict=lambda name, files: ConflictDialog(name, files, self),
        )
        ops.jobFinished.connect(self.jobFinished)
        ops.jobFailed.connect(self._on_ops_job_failed)
        ops.libraryChanged.connect(self._on_ops_library_changed)
        ops.progressChanged.connect(self._on_ops_progress_changed)
        ops.gameChanged.connect(self._on_ops_game_changed)
        ops.updateStarted.connect(self._on_ops_update_started)
        ops.gameAdded.connect(self._on_ops_game_added)
        ops.sizeChanged.connect(self._on_ops_size_changed)
        ops.historyLoaded.connect(self._on_ops_history_loaded)
        return ops

    def _build_manage(self) -> Manage:
        manage = Manage(
            jobs=self.jobs, store=self.store, notify=self.notify, options=self.engine_options
        )
        manage.jobFinished.connect(self.jobFinished)
        manage.jobFailed.connect(self._on_ops_job_failed)
        manage.libraryChanged.connect(self._on_ops_library_changed)
        manage.artChanged.connect(self._on_manage_art_changed)
        manage.branchesFound.connect(self._on_manage_branches_found)
        return manage

    def _build_tray(self, available: bool | None) -> Tray:
        tray = Tray(self, available=available)
        tray.openRequested.connect(self._on_tray_open_requested)
        tray.checkRequested.connect(self._on_tray_check_requested)
        tray.updateAllRequested.connect(self._on_tray_update_all_requested)
        tray.quitRequested.connect(self._on_tray_quit_requested)
        return tray

    def _build_ui(self) -> None:
        self.library = LibraryPane()
        self.pane = GamePane()
        splitter = QSplitter()
        splitter.addWidget(self.library)
        splitter.addWidget(self.pane)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([600, 680])
        self.setCentralWidget(splitter)
        self._expose_parts()
        self._connect_parts()
        self._build_menus()
        self.resize(1280, 720)

    def _build_menus(self) -> None:
        made = menus.build(
            self,
            {
                "add": self.add_game,
                "adopt": self.add_existing,
                "check": self.check_now,
                "settings": self.open_settings,
                "quit": self.quit,
                "login": self.open_login,
                "source": self.change_source_selected,
                "folder": self.open_folder_selected,
            },
        )
        self.addAction_, self.adoptAction, self.checkAction = made.add, made.adopt, made.check
        self.settingsAction, self.quitAction = made.settings, made.quit
        self.loginAction, self.accountMenu = made.login, made.account
        self.changeSourceAction, self.openFolderAction = made.source, made.folder
        self.gamesView.addActions([made.source, made.folder])

    def _expose_parts(self) -> None:
        """The widgets tests, tools and the self-test have always found on the window."""
        library, pane = self.library, self.pane
        self.gamesView, self.coverView = library.gamesView, library.coverView
        self.titleLabel, self.tabs = pane.titleLabel, pane.tabs
        self.updateButton, self.verifyButton = pane.updateButton, pane.verifyButton
        self.cancelButton, self.rollbackButton = pane.cancelButton, pane.rollbackButton
        self.playButton, self.uninstallButton = pane.playButton, pane.uninstallButton
        self.branchSelector = pane.branchSelector
        self.buildsView, self.filesView = pane.buildsView, pane.filesView
        self.historyView, self.pointsView = pane.historyView, pane.pointsView
        self.statsView = pane.statsView
        panel = pane.progressPanel
        self.overallProgress = panel.overallProgress
        self.phaseLabel, self.detailLabel = panel.phaseLabel, panel.detailLabel

    def _connect_parts(self) -> None:
        self.gamesView.currentItemChanged.connect(self._on_games_view_current_item_changed)
        self.library.addGameButton.clicked.connect(self._on_add_game_button_clicked)
        self.updateButton.clicked.connect(self._on_update_button_clicked)
        self.verifyButton.clicked.connect(self._on_verify_button_clicked)
        self.cancelButton.clicked.connect(self._on_cancel_button_clicked)
        self.rollbackButton.clicked.connect(self._on_rollback_button_clicked)
        self.playButton.clicked.connect(self._on_play_button_clicked)
        self.branchSelector.activated.connect(self._on_branch_selector_activated)
        self.uninstallButton.clicked.connect(self._on_uninstall_button_clicked)
        self.buildsView.currentItemChanged.connect(self._on_builds_view_current_item_changed)
        self.buildsView.itemActivated.connect(self._on_builds_view_item_activated)
        self.historyView.currentItemChanged.connect(self._on_history_view_current_item_changed)
        self.pointsView.currentItemChanged.connect(self._on_points_view_current_item_changed)

    # --- selection ------------------------------------------------------------------------

    def current_game(self) -> str | None:
        item = self.gamesView.currentItem()
        return item.data(0, ROLE) if item else None

    def selected_build(self) -> str | None:
        item = self.buildsView.currentItem()
        return item.data(0, ROLE) if item else None

    def select_game(self, key: str) -> bool:
        for item in views.rows(self.gamesView):
            if item.data(0, ROLE) == key:
                self.gamesView.setCurrentItem(item)
                return True
        return False

    def rollback_target(self) -> str | None:
        for view in (self.historyView, self.pointsView):
            item = view.currentItem()
            if item is not None and item.data(0, ROLE):
                return str(item.data(0, ROLE))
        return None

    def _on_games_view_current_item_changed(self, *_: object) -> None:
        game = self.current_game()
        if game and self.store.is_pending(game):
            pass  # an install under way has no builds or history yet
        elif game and game not in self.store.listings:
            self.check_game(game)
        elif game:
            self.ops.estimate(game)
        self.refresh_details()

    def _on_builds_view_current_item_changed(self, *_: object) -> None:
        self._refresh_buttons()

    def _on_builds_view_item_activated(self, *_: object) -> None:
        self.update_selected()

    def _on_history_view_current_item_changed(self, *_: object) -> None:
        if self.historyView.currentItem() is not None:
            _deselect(self.pointsView)
        self._refresh_buttons()

    def _on_points_view_current_item_changed(self, *_: object) -> None:
        if self.pointsView.currentItem() is not None:
            _deselect(self.historyView)
        self._refresh_buttons()

    # --- rendering ------------------------------------------------------------------------

    def reload_library(self) -> None:
        try:
            self.store.reload()
        except SlipstreamError as exc:
            self.notify(self.tr("Library"), str(exc))
        self.refresh_games()
        self.refresh_details()

    def newest(self, key: str) -> BuildItem | None:
        return self.store.newest(key)

    def status_of(self, key: str) -> str:
        job = self.jobs.get(key)
        return views.game_status(
            self.store.records[key],
            job.kind if job else None,
            self.store.progress.get(key),
            self.store.newest(key),
            self.store.errors.get(key),
        )

    def refresh_games(self) -> None:
        records = self.store.records
        statuses = {key: self.status_of(key) for key in records}
        store = self.store
        self.library.fill(list(records.values()), statuses, store.errors, store.sizes, store.names)
        self.library.show_art(self.store.art, self.store.covers)
        for key in records:
            self.manage.fetch_art(key)

    def refresh_details(self) -> None:
        game = self.current_game()
        record = self.store.records.get(game) if game else None
        if record is None or self.store.is_pending(game or ""):
            self._show_no_details(record)
            return
        self._show_title(record)
        self._refresh_builds(record)
        self._refresh_history(str(record.path))
        self.pane.show_kept(*self.store.kept.get(str(record.path), ([], "")))
        self.refresh_progress()
        self._refresh_buttons()

    def _show_title(self, record: InstallRecord | None) -> None:
        if record is not None:
            name = self.store.name(str(record.path), record.name)
            version = record.version_name or self.tr("build")
            title = self.tr("{name} — {version} ({build})")
            if record.branch:
                title = self.tr("{name} — {version} ({build}) · branch {branch}")
            self.titleLabel.setText(
                title.format(
                    name=name, version=version, build=record.build_id, branch=record.branch
                )
            )
        self.pane.show_signing(install_signing(record.path) if record is not None else None)

    def _show_no_details(self, pending: InstallRecord | None) -> None:
        """No game, or one still installing: only its progress is worth showing."""
        title = self.tr("No game yet: press Add game to install one")
        if pending is not None:
            title = self.tr("Installing into {folder}").format(folder=pending.path)
        self.titleLabel.setText(title)
        self.pane.show_signing(None)
        self.buildsView.clear()
        self.historyView.clear()
        self.pointsView.clear()
        self.pane.show_kept([], "")
        self.refresh_progress()
        self._refresh_buttons()

    def _refresh_builds(self, record: InstallRecord) -> None:
        key = str(record.path)
        selected = self.selected_build()
        newest = self.store.newest(key)
        if selected is None or selected == record.build_id:
            selected = newest.build_id if newest and newest.build_id != record.build_id else None
        views.fill_builds(
            self.buildsView,
            self.store.listings.get(key, []),
            record.build_id,
            self.store.costs.get(key, {}),
            selected,
        )
        views.fit_columns(self.buildsView)
        branches = [b.branch for b in self.store.listings.get(key, []) if b.generation == 2]
        # Only GOG has password-protected branches; a Slipstream repository has none.
        self.pane.show_branches(branches, record.branch, passwords=record.source == "gog")

    def _refresh_history(self, key: str) -> None:
        self.ops.load_history(key)

    def _on_ops_history_loaded(
        self, key: str, history: list[OperationRecord], points: list[RollbackPoint]
    ) -> None:
        if key != self.current_game():
            return
        views.fill_history(self.historyView, history, points)
        views.fill_points(self.pointsView, points)
        if self.statsView is not None:
            self.statsView.set_operations(history)  # type: ignore[attr-defined]
        self._refresh_buttons()

    def _refresh_buttons(self) -> None:
        game = self.current_game() or ""
        busy = bool(game) and self.jobs.busy(game)
        record = self.store.records.get(game)
        ready = bool(record) and not busy and not self.store.is_pending(game)
        self.updateButton.setEnabled(ready)
        self.verifyButton.setEnabled(ready)
        job = self.jobs.get(game)
        self.cancelButton.setEnabled(job is not None and job.kind not in ("adopt",))
        self.rollbackButton.setEnabled(ready and self.rollback_target() is not None)
        for control in (
            self.branchSelector,
            self.playButton,
            self.uninstallButton,
            self.changeSourceAction,
            self.openFolderAction,
        ):
            control.setEnabled(ready)
        self.updateButton.setText(self._update_text(game, record))

    def _update_text(self, game: str, record: InstallRecord | None) -> str:
        target = self.selected_build()
        if not (record and target and target != record.build_id):
            return self.tr("&Update")
        items = {b.build_id: b for b in self.store.listings.get(game, [])}
        build = items.get(target)
        name = build.version_name if build and build.version_name else target
        older = build is not None and _older(build, record, items)
        if older:
            return self.tr("Go back to {version}").format(version=name)
        return self.tr("Update to {version}").format(version=name)

    def refresh_progress(self) -> None:
        state = self.store.progress.get(self.current_game() or "")
        self.pane.progressPanel.show_state(state)
        self.pane.filesModel.sync(state)

    def _on_jobs_changed(self, key: str) -> None:
        if key.startswith(BACKGROUND):
            return  # background work shows in no row
        self.refresh_games()
        if key == self.current_game():
            self._refresh_buttons()

    # --- what the operations report -------------------------------------------------------

    def _on_ops_job_failed(self, title: str, exc: BaseException, details: str) -> None:
        if self.isVisible():
            show_error(self, title, exc, details)

    def _on_ops_library_changed(self) -> None:
        self.reload_library()

    def _on_ops_progress_changed(self, key: str) -> None:
        if key == self.current_game():
            self.refresh_progress()
        if key in self.store.records:
            self.library.set_status(key, self.status_of(key))

    def _on_ops_game_changed(self, key: str) -> None:
        self.refresh_games()
        if key == self.current_game():
            self.refresh_details()

    def _on_ops_update_started(self, game: str) -> None:
        if game == self.current_game():
            self.tabs.setCurrentWidget(self.filesView)
        self.refresh_progress()
        self._refresh_buttons()

    def _on_ops_game_added(self, key: str) -> None:
        self.select_game(key)

    def _on_ops_size_changed(self, key: str) -> None:
        self.refresh_games()

    def _on_manage_branches_found(self, key: str) -> None:
        self._on_ops_game_changed(key)

    def _on_manage_art_changed(self, key: str) -> None:
        if key in self.store.names:
            self.refresh_games()  # the product's own name replaces the build's
            if key == self.current_game():
                self._show_title(self.store.records.get(key))
        self.library.show_art(self.store.art, self.store.covers)

    # --- notifications --------------------------------------------------------------------

    def notify(self, title: str, message: str) -> None:
        """Tell the player something: in the status bar, and through the desktop's
        notifications (:mod:`gui.notify`; the tray's balloon where the desktop has none)
        unless the player turned them off."""
        self.notifications.append((title, message))
        log.info("%s: %s", title, message)
        self.statusBar().showMessage(self.tr("{0}: {1}").format(title, message), 15_000)
        self.notifier.notify(title, message)

    def _build_notifier(self) -> Notifier:
        notifier = Notifier(self.tray.show_message, self)
        notifier.clicked.connect(self._on_notifier_clicked)
        return notifier

    def _on_notifier_clicked(self) -> None:
        self.bring_forward()

    # --- operations (gui/operations.py) ---------------------------------------------------

    def engine_options(self) -> EngineOptions:
        return options_from_settings(self.settings)

    def update_selected(self) -> None:
        game = self.current_game()
        if not game:
            return
        target = self.selected_build()
        record = self.store.records.get(game)
        if record is not None and target == record.build_id:
            target = None
        self.ops.update_game(game, target)

    def update_game(self, game: str, to_build: str | None = None) -> None:
        self.ops.update_game(game, to_build)

    def cancel_selected(self) -> None:
        job = self.jobs.get(self.current_game() or "")
        if job is not None:
            job.cancel()
            self.phaseLabel.setText(self.tr("Stopping…"))

    def rollback_selected(self) -> None:
        game = self.current_game()
        target = self.rollback_target()
        if game and target is not None:
            self.ops.rollback(game, target)

    def verify_selected(self) -> None:
        game = self.current_game()
        if game:
            self.ops.verify(game)

    def add_game(self) -> AddGameDialog:
        """Open the Add game dialog (``open()``): source, game, build, folder."""
        sources = list(self.settings.sources)
        if self.account and "gog" not in sources:
            sources.append("gog")
        installed = [r.path for r in self.store.records.values() if r.status != "installing"]
        dialog = AddGameDialog(
            sources=sources,
            jobs=self.jobs,
            options=self.engine_options,
            library=library_folder(installed),
            parent=self,
        )
        dialog.accepted.connect(lambda: self._on_add_game_dialog_accepted(dialog))
        dialog.open()
        return dialog

    def _on_add_game_dialog_accepted(self, dialog: AddGameDialog) -> None:
        choice = dialog.choice()
        self.ops.install_game(
            choice.source,
            choice.product,
            choice.folder,
            os=choice.os,
            lang=choice.lang,
            adopt=choice.adopt,
            build=choice.build,
            password=choice.password,
        )

    def add_existing(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, self.tr("Add a game already on this computer")
        )
        if folder:
            self.adopt_folder(folder)

    def adopt_folder(self, folder: str) -> None:
        self.ops.adopt_folder(folder)

    def check_now(self) -> None:
        self.ops.check_all()

    def check_game(self, key: str) -> None:
        self.ops.check_game(key)

    def update_all(self) -> None:
        self.ops.update_all()

    def play_selected(self) -> None:
        game = self.current_game()
        if game:
            self.manage.play(game)

    def uninstall_selected(self) -> QWidget | None:
        game = self.current_game()
        return self.manage.ask_uninstall(game, self) if game else None

    def change_source_selected(self) -> QWidget | None:
        game = self.current_game()
        return self.manage.ask_source(game, self) if game else None

    def open_folder_selected(self) -> None:
        game = self.current_game()
        if game:
            self.manage.open_folder(game)

    def _on_branch_selector_activated(self, index: int) -> None:
        game = self.current_game()
        record = self.store.records.get(game or "")
        branch = self.branchSelector.itemData(index)
        if game and record is not None and branch == PASSWORD_ENTRY:
            self.branchSelector.setCurrentIndex(self.branchSelector.findData(record.branch))
            self.manage.ask_branch_password(game, self)
        elif game and record is not None and branch != record.branch:
            self.ops.switch_branch(game, branch, self.manage.passwords.get(game))

    def _on_play_button_clicked(self) -> None:
        self.play_selected()

    def _on_uninstall_button_clicked(self) -> None:
        self.uninstall_selected()

    def _on_add_game_button_clicked(self) -> None:
        self.add_game()

    def _on_update_button_clicked(self) -> None:
        self.update_selected()

    def _on_verify_button_clicked(self) -> None:
        self.verify_selected()

    def _on_cancel_button_clicked(self) -> None:
        self.cancel_selected()

    def _on_rollback_button_clicked(self) -> None:
        self.rollback_selected()

    def _on_check_timer_timeout(self) -> None:
        self.check_now()

    def _on_tray_open_requested(self) -> None:
        self.bring_forward()

    def _on_tray_check_requested(self) -> None:
        self.check_now()

    def _on_tray_update_all_requested(self) -> None:
        self.update_all()

    def _on_tray_quit_requested(self) -> None:
        self.quit()

    # --- settings, account, window --------------------------------------------------------

    def open_settings(self) -> QWidget:
        from gui.settings_dialog import SettingsDialog

        shown = self.settings
        if autostart.supported():
            # The entry is the truth: the desktop's own startup settings may remove it.
            shown = replace(shown, start_at_login=autostart.is_enabled())
        dialog = SettingsDialog(shown, self)
        dialog.accepted.connect(lambda: self._on_settings_dialog_accepted(dialog))
        dialog.open()
        return dialog

    def _on_settings_dialog_accepted(self, dialog: SettingsDialog) -> None:
        chosen = dialog.settings()
        try:
            save_settings(chosen)
        except SlipstreamError as exc:
            show_error(self, self.tr("Settings not saved"), exc)
            return
        self.apply_settings(chosen)
        if autostart.supported() and chosen.start_at_login != autostart.is_enabled():
            try:
                autostart.set_enabled(chosen.start_at_login)
            except SlipstreamError as exc:
                show_error(self, self.tr("Start at login not changed"), exc)

    def apply_settings(self, settings: Settings) -> None:
        self.settings = settings
        self.notifier.enabled = settings.notifications
        self.ops.auto_update = settings.auto_update
        if settings.check_hours > 0:
            self.check_timer.start(int(settings.check_hours * 3600 * 1000))
        else:
            self.check_timer.stop()

    def open_login(self) -> QWidget:
        from gui.login_dialog import LoginDialog

        dialog = LoginDialog(self)
        dialog.logged_in.connect(self._on_login_dialog_logged_in)
        dialog.logged_out.connect(self._on_login_dialog_logged_out)
        dialog.open()
        return dialog

    def _on_login_dialog_logged_in(self, name: str) -> None:
        self._show_account(name)

    def _on_login_dialog_logged_out(self) -> None:
        self._show_account(None)

    def refresh_account(self) -> None:
        """Show who is logged in to GOG. The keyring is read on a job's thread: a desktop
        keyring may wait for the player to unlock it, which must not freeze the window."""
        from gui.login_dialog import logged_in_user

        job = self.jobs.start("account", "account", lambda sink, cancel: logged_in_user())
        if job is not None:
            job.succeeded.connect(self._on_account_job_succeeded)

    def _on_account_job_succeeded(self, name: str | None) -> None:
        self._show_account(name)

    def _show_account(self, name: str | None) -> None:
        self.account = name
        if name:
            self.loginAction.setText(
                self.tr("GOG: logged in as {name} (log out…)").format(name=name)
            )
            self.accountMenu.setTitle(self.tr("&Account ({name})").format(name=name))
        else:
            self.loginAction.setText(self.tr("Log in to &GOG…"))
            self.accountMenu.setTitle(self.tr("&Account"))

    def bring_forward(self) -> None:
        self.show()
        self.setWindowState(
            (self.windowState() & ~Qt.WindowState.WindowMinimized) | Qt.WindowState.WindowActive
        )
        self.raise_()
        self.activateWindow()

    def quit(self) -> None:
        busy = [k for k in self.jobs.jobs if not k.startswith(BACKGROUND) and k != "account"]
        if busy and self.isVisible():
            ask_quit_while_busy(self, len(busy)).accepted.connect(self._on_quit_dialog_accepted)
            return
        self._quit_now()

    def _on_quit_dialog_accepted(self) -> None:
        self._quit_now()

    def _quit_now(self) -> None:
        self._shut_down()
        self.close()
        from PySide6.QtWidgets import QApplication

        QApplication.quit()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.quitting and self.tray.visible():
            event.ignore()
            self.hide()
            if not getattr(self, "_told_tray", False):
                self._told_tray = True
                self.notify("Slipstream", self.tr("Still running in the tray; Quit from its menu."))
            return
        self._shut_down()
        event.accept()

    def _shut_down(self) -> None:
        """Stop every job cleanly (an update resumes next time) and leave the tray."""
        self.quitting = True
        self.jobs.cancel_all()
        self.jobs.wait_all()
        self.notifier.close()
        self.tray.hide()


def _deselect(view: QTreeWidget) -> None:
    view.blockSignals(True)
    view.setCurrentIndex(QModelIndex())
    view.clearSelection()
    view.blockSignals(False)


def _older(build: BuildItem, record: InstallRecord, items: dict[str, BuildItem]) -> bool:
    installed = items.get(record.build_id)
    if installed is None:
        return False
    return build.date_published < installed.date_published
