"""Managing a game from the window: uninstall (asked first), Play, change source, open
its folder, and its icon. Like :mod:`gui.operations`, it starts jobs and reports through
signals; the questions it asks open with ``open()``, never a nested event loop.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QInputDialog, QLineEdit, QMessageBox, QWidget

from core.format.builds import BuildItem
from core.update.uninstall import UninstallReport
from gui import work
from gui.jobs import JobManager
from gui.operations import Notify, Options
from gui.store import GameStore


class Manage(QObject):
    jobFinished = Signal(str, str, object, str)
    """(game folder, job kind, succeeded, message for the player)."""
    jobFailed = Signal(str, object, str)
    """(title, exception, traceback text): a failure to show the player."""
    libraryChanged = Signal()
    """A job changed the library: read the installs again."""
    artChanged = Signal(str)
    """This game's icon is known (``store.art``)."""
    branchesFound = Signal(str)
    """This game's builds were listed again with a branch password (``store.listings``)."""

    def __init__(
        self, *, jobs: JobManager, store: GameStore, notify: Notify, options: Options
    ) -> None:
        super().__init__()
        self.jobs = jobs
        self.store = store
        self.notify = notify
        self.options = options
        self.passwords: dict[str, str] = {}
        """The branch password the player gave for each game this session (GOG keeps it
        in the keyring too, for later checks and updates)."""

    def _start(self, key: str, kind: str, body: work.Work) -> Any:
        job = self.jobs.start(key, kind, body)
        if job is None:
            busy = self.tr("{0} is busy with another job; wait for it.")
            self.notify(self.tr("Busy"), busy.format(Path(key).name))
            return None
        job.failed.connect(lambda exc, details: self._on_job_failed(key, kind, exc, details))
        return job

    def _on_job_failed(self, key: str, kind: str, exc: BaseException, details: str) -> None:
        titles = {
            "uninstall": self.tr("Uninstall failed"),
            "play": self.tr("Could not start the game"),
        }
        title = titles.get(kind, self.tr("Could not change the source"))
        self.jobFailed.emit(title, exc, details)
        self.notify(title, str(exc))
        self.libraryChanged.emit()
        self.jobFinished.emit(key, kind, False, str(exc))

    # uninstall

    def ask_uninstall(self, key: str, parent: QWidget) -> QMessageBox:
        """Ask first (window-modal, ``open()``); Yes uninstalls."""
        name = self.store.name(key, Path(key).name)
        box = QMessageBox(
            QMessageBox.Icon.Question,
            self.tr("Uninstall {0}?").format(name),
            self.tr("Remove {0} from {1}?").format(name, key),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            parent,
        )
        box.setObjectName("uninstallDialog")
        box.setInformativeText(
            self.tr(
                "The game's files go. Files of yours that no build of it has (saves, mods, "
                "screenshots) stay in the folder."
            )
        )
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.accepted.connect(lambda: self._on_uninstall_dialog_accepted(key))
        box.open()
        return box

    def _on_uninstall_dialog_accepted(self, key: str) -> None:
        self.uninstall(key)

    def uninstall(self, key: str) -> None:
        job = self._start(key, "uninstall", work.remove(Path(key)))
        if job is not None:
            job.succeeded.connect(lambda report: self._on_uninstall_job_succeeded(key, report))

    def _on_uninstall_job_succeeded(self, key: str, report: UninstallReport) -> None:
        name = self.store.name(key, Path(key).name)
        self.store.progress.pop(key, None)
        self.store.sizes.pop(key, None)
        self.store.listings.pop(key, None)
        removed = report.files_removed
        message = self.tr("{0}: removed %n file(s)", "", removed).format(name)
        if report.kept:
            kept = self.tr("; kept yours in {0}: {1}")
            message += kept.format(key, ", ".join(report.kept[:5]))
        self.notify(self.tr("Uninstalled"), message)
        self.libraryChanged.emit()
        self.jobFinished.emit(key, "uninstall", True, message)

    # play, folder, source

    def play(self, key: str) -> None:
        job = self._start(key, "play", work.play(Path(key), self.options()))
        if job is not None:
            job.succeeded.connect(lambda _: self._on_play_job_succeeded(key))

    def _on_play_job_succeeded(self, key: str) -> None:
        message = self.tr("Started {0}.").format(self.store.name(key, Path(key).name))
        self.notify(self.tr("Playing"), message)
        self.jobFinished.emit(key, "play", True, message)

    def open_folder(self, key: str) -> bool:
        return QDesktopServices.openUrl(QUrl.fromLocalFile(key))

    def ask_source(self, key: str, parent: QWidget) -> QInputDialog:
        """Ask for the game's new source (``open()``); OK checks it and moves the game."""
        record = self.store.records.get(key)
        dialog = QInputDialog(parent)
        dialog.setObjectName("changeSourceDialog")
        dialog.setWindowTitle(self.tr("Change source"))
        dialog.setLabelText(
            self.tr(
                "Where the game's updates come from: a repository's address (https://…), or gog."
            )
        )
        dialog.setTextValue(record.source if record else "")
        dialog.textValueSelected.connect(
            lambda text: self._on_source_dialog_text_value_selected(key, text)
        )
        dialog.open()
        return dialog

    def _on_source_dialog_text_value_selected(self, key: str, text: str) -> None:
        self.change_source(key, text.strip())

    def change_source(self, key: str, source: str) -> None:
        job = self._start(key, "source", work.change_source(Path(key), source, self.options()))
        if job is not None:
            job.succeeded.connect(lambda location: self._on_source_job_succeeded(key, location))

    def _on_source_job_succeeded(self, key: str, location: str) -> None:
        self.store.listings.pop(key, None)
        self.store.costs.pop(key, None)
        message = self.tr("{0} now updates from {1}.").format(
            self.store.name(key, Path(key).name), location
        )
        self.notify(self.tr("Source changed"), message)
        self.libraryChanged.emit()
        self.jobFinished.emit(key, "source", True, message)

    # private branches

    def ask_branch_password(self, key: str, parent: QWidget) -> QInputDialog:
        """Ask for a private branch's password (``open()``); OK lists the game's builds
        again with it, so that its private branches appear in the branch selector."""
        dialog = QInputDialog(parent)
        dialog.setObjectName("branchPasswordDialog")
        dialog.setWindowTitle(self.tr("Private branch"))
        dialog.setLabelText(
            self.tr("The password of the private branch (a beta, say) the publisher gave you:")
        )
        dialog.setTextEchoMode(QLineEdit.EchoMode.Password)
        dialog.textValueSelected.connect(
            lambda text: self._on_password_dialog_text_value_selected(key, text)
        )
        dialog.open()
        return dialog

    def _on_password_dialog_text_value_selected(self, key: str, text: str) -> None:
        self.open_private_branches(key, text)

    def open_private_branches(self, key: str, password: str) -> None:
        """List ``key``'s builds with ``password``, off the GUI thread."""
        record = self.store.records.get(key)
        if record is None or not password:
            return
        body = work.check(record, replace(self.options(), password=password))
        job = self.jobs.start(f"check:{key}#branches", "branches", body)
        if job is None:
            self.notify(self.tr("Busy"), self.tr("Still listing the builds; try again."))
            return
        job.succeeded.connect(lambda items: self._on_branches_job_succeeded(key, password, items))
        job.failed.connect(lambda exc, details: self._on_branches_job_failed(key, exc, details))

    def _on_branches_job_succeeded(self, key: str, password: str, items: list[BuildItem]) -> None:
        before = {i.branch for i in self.store.listings.get(key, [])}
        self.store.listings[key] = items
        self.store.costs.pop(key, None)
        found = sorted(b for b in {i.branch for i in items} - before - {None} if b)
        if found:
            self.passwords[key] = password
            message = self.tr("Private branches now offered: {0}.").format(", ".join(found))
        else:
            message = self.tr("No new branch opened with that password.")
        self.notify(self.tr("Private branches"), message)
        self.branchesFound.emit(key)
        self.jobFinished.emit(key, "branches", bool(found), message)

    def _on_branches_job_failed(self, key: str, exc: BaseException, details: str) -> None:
        title = self.tr("Could not list the private branches")
        self.jobFailed.emit(title, exc, details)
        self.notify(title, str(exc))
        self.jobFinished.emit(key, "branches", False, str(exc))

    # art

    def fetch_art(self, key: str) -> None:
        record = self.store.records.get(key)
        if record is None or key in self.store.art or self.store.is_pending(key):
            return
        job = self.jobs.start(f"art:{key}", "art", work.art(record, self.options()))
        if job is not None:
            job.succeeded.connect(lambda found: self._on_art_job_succeeded(key, *found))
            # No art (offline, none published) is no error; ask again next start.
            job.failed.connect(lambda *_: self._on_art_job_succeeded(key, None, None, ""))

    def _on_art_job_succeeded(
        self, key: str, icon: Path | None, cover: Path | None, name: str
    ) -> None:
        self.store.art[key] = str(icon) if icon is not None else ""
        self.store.covers[key] = str(cover) if cover is not None else ""
        if name:
            self.store.names[key] = name
        self.artChanged.emit(key)
