"""The left-hand side of the window: the player's games, as a list (icon, version, build,
status, size on disk) or as a grid of covers, the player's choice, and the button that
adds a game.

The list (``gamesView``) is what the rest of the window follows; choosing a cover in the
grid (``coverView``) selects the same game in the list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QListView,
    QListWidget,
    QListWidgetItem,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.library.db import InstallRecord
from gui import views
from gui.widgets import button, tree

COVER = QSize(120, 160)


class LibraryPane(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.gamesView = tree(
            "gamesView",
            views.game_columns(),
            self.tr("Your games. Select one to see its builds and history."),
            self.tr("Games"),
        )
        self.gamesView.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.gamesView.setIconSize(QSize(32, 32))
        self.gamesView.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.gamesView.currentItemChanged.connect(self._on_games_view_current_item_changed)
        self.coverView = self._cover_view()
        self.coverView.currentItemChanged.connect(self._on_cover_view_current_item_changed)
        self._icons: dict[str, QIcon] = {}
        self.stack = QStackedWidget()
        self.stack.addWidget(self.gamesView)
        self.stack.addWidget(self.coverView)
        self.addGameButton = button(
            "addGameButton",
            "add",
            self.tr("&Add game…"),
            self.tr("Install a game from a repository"),
        )
        self.coverToggle = button(
            "coverToggle",
            "covers",
            self.tr("Co&vers"),
            self.tr("Show the games as a grid of covers"),
        )
        self.coverToggle.setCheckable(True)
        self.coverToggle.toggled.connect(self._on_cover_toggle_toggled)
        self.buttonRow = QHBoxLayout()
        self.buttonRow.addWidget(self.addGameButton, 1)
        self.buttonRow.addWidget(self.coverToggle)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
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
        self.coverView.blockSignals(True)
        self.coverView.clear()
        for item in views.rows(self.gamesView):
            cover = QListWidgetItem(item.text(0))
            cover.setData(views.ROLE, item.data(0, views.ROLE))
            cover.setToolTip(
                self.tr("{game}: {status}").format(game=item.text(0), status=item.text(3))
            )
            self.coverView.addItem(cover)
        self.coverView.blockSignals(False)
        self._follow_list()

    def show_art(self, art: Mapping[str, str], covers: Mapping[str, str] | None = None) -> None:
        """Each game's icon beside its name, and its cover (else its icon) in the grid
        (art and covers: folder → cached image, "" for none)."""
        covers = covers or {}
        for item in views.rows(self.gamesView):
            item.setIcon(0, self._icon(art.get(item.data(0, views.ROLE), "")))
        for n in range(self.coverView.count()):
            cover = self.coverView.item(n)
            key = cover.data(views.ROLE)
            cover.setIcon(self._icon(covers.get(key) or art.get(key, "")))

    def _icon(self, path: str) -> QIcon:
        if path and path not in self._icons:
            self._icons[path] = QIcon(path)
        return self._icons.get(path, QIcon())

    def set_status(self, key: str, status: str) -> None:
        for item in views.rows(self.gamesView):
            if item.data(0, views.ROLE) == key:
                item.setText(3, status)
                item.setToolTip(3, status)

    def _on_cover_toggle_toggled(self, on: bool) -> None:
        self.stack.setCurrentWidget(self.coverView if on else self.gamesView)

    def _on_cover_view_current_item_changed(self, *_: object) -> None:
        cover = self.coverView.currentItem()
        key = cover.data(views.ROLE) if cover is not None else None
        for item in views.rows(self.gamesView):
            if item.data(0, views.ROLE) == key:
                self.gamesView.setCurrentItem(item)

    def _on_games_view_current_item_changed(self, *_: object) -> None:
        self._follow_list()

    def _follow_list(self) -> None:
        """Select in the grid the game selected in the list."""
        current = self.gamesView.currentItem()
        key = current.data(0, views.ROLE) if current is not None else None
        self.coverView.blockSignals(True)
        for n in range(self.coverView.count()):
            if self.coverView.item(n).data(views.ROLE) == key:
                self.coverView.setCurrentRow(n)
        self.coverView.blockSignals(False)

    def _cover_view(self) -> QListWidget:
        view = QListWidget()
        view.setObjectName("coverView")
        view.setAccessibleName(self.tr("Games as covers"))
        view.setToolTip(self.tr("Your games. Select one to see its builds and history."))
        view.setViewMode(QListView.ViewMode.IconMode)
        view.setIconSize(COVER)
        view.setGridSize(QSize(COVER.width() + 24, COVER.height() + 40))
        view.setResizeMode(QListView.ResizeMode.Adjust)
        view.setMovement(QListView.Movement.Static)
        view.setWordWrap(True)
        return view
