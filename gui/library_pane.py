"""The left-hand side of the window: the player's games, each with its version, build,
status (a running job's step and share, as the progress bar shows it) and size on disk,
and the button that adds a game."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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
    ) -> None:
        self.gamesView.blockSignals(True)
        views.fill_games(self.gamesView, records, statuses, errors, sizes)
        self.gamesView.blockSignals(False)

    def set_status(self, key: str, status: str) -> None:
        for item in views.rows(self.gamesView):
            if item.data(0, views.ROLE) == key:
                item.setText(3, status)
                item.setToolTip(3, status)
