"""The window's dialogs: errors, and conflicts with the player's own changes (adding a
game is gui/add_game.py).

Every dialog here is opened with ``open()`` (window-modal, not a nested event loop), so
the window keeps running jobs and tests can drive the dialog like a player would.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.errors import CancelledError, SlipstreamError


def error_texts(exc: BaseException, details: str = "") -> tuple[str, str, str]:
    """(headline, what to do, folded details) for any failure a job can end with.

    A Slipstream error's class sentence is the headline and its detail the advice. Any
    other exception is a bug of ours: the player gets a plain sentence, and the
    traceback goes into the folded details (and the log), never into the headline."""
    if isinstance(exc, SlipstreamError):
        folded = f"{type(exc).__name__}: {exc}"
        return exc.summary, exc.detail, folded
    return (
        QCoreApplication.translate(
            "Dialogs",
            "Slipstream ran into an internal error; nothing in the game folder was changed "
            "half-way.",
        ),
        QCoreApplication.translate(
            "Dialogs", "Try again. If it happens again, please report it with the details below."
        ),
        details or f"{type(exc).__name__}: {exc}",
    )


def show_error(parent: QWidget, title: str, exc: BaseException, details: str = "") -> QMessageBox:
    headline, advice, folded = error_texts(exc, details)
    box = QMessageBox(parent)
    box.setObjectName("errorDialog")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setText(headline)
    box.setInformativeText(advice)
    box.setDetailedText(folded)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def is_cancel(exc: BaseException) -> bool:
    return isinstance(exc, (CancelledError, KeyboardInterrupt))


class ConflictDialog(QDialog):
    """Lists the files the player changed that the update would replace, and asks."""

    TAKE_NEW = "take-new"
    KEEP_MINE = "keep-mine"

    chosen = Signal(str)
    """``TAKE_NEW`` or ``KEEP_MINE``; a rejected dialog (Cancel, Esc) emits nothing."""

    def __init__(self, game_name: str, paths: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("conflictDialog")
        self.setWindowTitle(self.tr("{0}: files you changed").format(game_name))
        layout = QVBoxLayout(self)
        intro = QLabel(
            self.tr(
                "The update replaces %n file(s) that differ from the installed build "
                "(a mod or an edited setting, perhaps). What should happen to them?",
                None,
                len(paths),
            )
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.list = QListWidget()
        self.list.setObjectName("conflictList")
        self.list.addItems(paths)
        layout.addWidget(self.list)
        buttons = QDialogButtonBox()
        self.take = QPushButton(self.tr("&Take the new version (keep a copy)"))
        self.take.setObjectName("takeNewButton")
        self.take.setToolTip(
            self.tr(
                "Install the new build's files; your versions are copied to a folder of their "
                "own first (and are also in the rollback point)."
            )
        )
        self.keep = QPushButton(self.tr("&Keep mine"))
        self.keep.setObjectName("keepMineButton")
        self.keep.setToolTip(self.tr("Leave your versions of these files as they are."))
        buttons.addButton(self.take, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.keep, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.rejected.connect(self.reject)
        self.take.clicked.connect(self._on_take_clicked)
        self.keep.clicked.connect(self._on_keep_clicked)
        layout.addWidget(buttons)
        self.take.setDefault(True)

    def _on_take_clicked(self) -> None:
        self._choose(self.TAKE_NEW)

    def _on_keep_clicked(self) -> None:
        self._choose(self.KEEP_MINE)

    def _choose(self, choice: str) -> None:
        self.accept()
        self.chosen.emit(choice)


def ask_quit_while_busy(parent: QWidget, count: int) -> QMessageBox:
    """Ask whether to quit while ``count`` jobs run, opened with ``open()`` (the jobs go
    on meanwhile); its ``accepted`` means quit."""
    box = QMessageBox(
        QMessageBox.Icon.Question,
        QCoreApplication.translate("Dialogs", "Quit Slipstream?"),
        QCoreApplication.translate(
            "Dialogs",
            "%n job(s) are still running. Quit anyway? Running updates stop cleanly and "
            "resume from what was downloaded when you update again.",
            None,
            count,
        ),
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        parent,
    )
    box.setObjectName("quitDialog")
    box.setDefaultButton(QMessageBox.StandardButton.No)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
