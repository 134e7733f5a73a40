"""The left-hand side of the window: the player's games, each with its version, build,
status (a running job's step and share, as the progress bar shows it) and size on disk,
and the button that adds a game."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QHBoxLayout, QHeaderView, QVBoxLayout, QWidget

from core.library.db import InstallRecord
from gui import views
from gui.widgets import button, tree


class LibraryPane(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.gamesView = tree(
            "gamesView",
            views.GAME_COLUMNS,
            "Your games. Select one to see its builds and history.",
            "Games",
        )
        self.gamesView.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.gamesView.setIconSize(QSize(32, 32))
        self.gamesView.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self._icons: dict[str, QIcon] = {}
        self.addGameButton = button(
            "addGameButton", "add", "&Add game…", "Install a game from a repository"
        )
        self.buttonRow = QHBoxLayout()
        self.buttonRow.addWidget(self.addGameButton)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.gamesView)
        layout.addLayout(self.buttonRow)

    def fill(
        self,
        records: Sequence[InstallRecord],
        statuses: Mapping[str, str],
        errors: Mapping[str, str],
        sizes: Mapping[str, int],
        names: Mapping[str, str],
    ) -> None:
        self.gamesView.blockSignals(True)
        views.fill_games(self.gamesView, records, statuses, errors, sizes, names)
        self.gamesView.blockSignals(False)

    def show_art(self, art: Mapping[str, str]) -> None:
        """Each game's icon beside its name (art: folder → cached image, "" for none)."""
        for item in views.rows(self.gamesView):
            path = art.get(item.data(0, views.ROLE), "")
            if path and path not in self._icons:
                self._icons[path] = QIcon(path)
            item.setIcon(0, self._icons.get(path, QIcon()))

    def set_status(self, key: str, status: str) -> None:
        for item in views.rows(self.gamesView):
            if item.data(0, views.ROLE) == key:
                item.setText(3, status)
                item.setToolTip(3, status)
