"""The window's dialogs: errors, conflicts with the player's own changes, adding a game.

Every dialog here is opened with ``open()`` (window-modal, not a nested event loop), so
the window keeps running jobs and tests can drive the dialog like a player would.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
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
        "Slipstream ran into an internal error; nothing in the game folder was changed half-way.",
        "Try again. If it happens again, please report it with the details below.",
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
        self.setWindowTitle(f"{game_name}: files you changed")
        layout = QVBoxLayout(self)
        intro = QLabel(
            f"The update replaces {len(paths)} file(s) that differ from the installed build "
            "(a mod or an edited setting, perhaps). What should happen to them?"
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.list = QListWidget()
        self.list.setObjectName("conflictList")
        self.list.addItems(paths)
        layout.addWidget(self.list)
        buttons = QDialogButtonBox()
        self.take = QPushButton("&Take the new version (keep a copy)")
        self.take.setObjectName("takeNewButton")
        self.take.setToolTip(
            "Install the new build's files; your versions are copied to a folder of their "
            "own first (and are also in the rollback point)."
        )
        self.keep = QPushButton("&Keep mine")
        self.keep.setObjectName("keepMineButton")
        self.keep.setToolTip("Leave your versions of these files as they are.")
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


class AddGameDialog(QDialog):
    """Install a game from a repository (or adopt its files already in a folder)."""

    def __init__(
        self,
        sources: list[str],
        parent: QWidget | None = None,
        *,
        product: str = "",
        folder: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("addGameDialog")
        self.setWindowTitle("Add game")
        form = self._build_form(sources, product, folder)
        self.problem = QLabel()
        self.problem.setObjectName("problemLabel")
        self.problem.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("&Install")
        ok.setObjectName("installButton")
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)

    def _build_form(self, sources: list[str], product: str, folder: Path | None) -> QFormLayout:
        form = QFormLayout()
        self.source = QComboBox()
        self.source.setObjectName("sourceBox")
        self.source.setEditable(True)
        self.source.addItems(sources)
        self.source.setToolTip("The repository's address, e.g. https://cdn.example.com/game")
        self.product = QLineEdit(product)
        self.product.setObjectName("productEdit")
        self.product.setToolTip("The game's product id in that repository (digits).")
        self.os = QComboBox()
        self.os.setObjectName("osBox")
        self.os.addItems(["windows", "linux", "osx"])
        self.os.setToolTip("Which operating system's build to install.")
        self.lang = QLineEdit("en-US")
        self.lang.setObjectName("langEdit")
        self.lang.setToolTip("The language to install, as a code like en-US.")
        self.folder = QLineEdit(str(folder) if folder else "")
        self.folder.setObjectName("folderEdit")
        self.folder.setToolTip("An empty folder, or one holding the game's files (see below).")
        browse = QPushButton("&Browse…")
        browse.clicked.connect(self._on_browse_clicked)
        row = QHBoxLayout()
        row.addWidget(self.folder)
        row.addWidget(browse)
        self.adopt = QCheckBox("&Use the game files already in the folder")
        self.adopt.setObjectName("adoptBox")
        self.adopt.setToolTip("Keep files that already match the build and download only the rest.")
        for label, widget in (
            ("&Source:", self.source),
            ("&Product id:", self.product),
            ("&System:", self.os),
            ("&Language:", self.lang),
        ):
            form.addRow(label, widget)
        folder_label = QLabel("&Folder:")
        folder_label.setBuddy(self.folder)
        form.addRow(folder_label, row)
        form.addRow("", self.adopt)
        return form

    def _on_browse_clicked(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Install into", self.folder.text())
        if chosen:
            self.folder.setText(chosen)

    def values(self) -> dict[str, str]:
        return {
            "source": self.source.currentText().strip(),
            "product": self.product.text().strip(),
            "os": self.os.currentText(),
            "lang": self.lang.text().strip() or "en-US",
            "folder": self.folder.text().strip(),
        }

    def problem_text(self) -> str | None:
        v = self.values()
        if not v["source"].startswith(("http://", "https://")) and v["source"] != "gog":
            return "Enter the repository's address, starting with http:// or https://."
        if not v["product"].isdigit():
            return "The product id is a number, like 1207664643."
        if not v["folder"]:
            return "Choose the folder to install into."
        folder = Path(v["folder"]).expanduser()
        if folder.exists() and not folder.is_dir():
            return f"{folder} is a file, not a folder."
        if (
            folder.is_dir()
            and not self.adopt.isChecked()
            and any(p.name != ".slipstream" for p in folder.iterdir())
        ):
            return (
                f"{folder} is not empty. Choose an empty folder, or tick "
                "“Use the game files already in the folder”."
            )
        return None

    def _on_buttons_accepted(self) -> None:
        problem = self.problem_text()
        if problem:
            self.problem.setText(problem)
            return
        self.accept()


def ask_quit_while_busy(parent: QWidget, count: int) -> bool:
    answer = QMessageBox.question(
        parent,
        "Quit Slipstream?",
        f"{count} job(s) are still running. Quit anyway? Running updates stop cleanly and "
        "resume from what was downloaded when you update again.",
    )
    return answer == QMessageBox.StandardButton.Yes
