"""Small builders every part of the window uses: lists, buttons and actions that carry an
object name, a tooltip and an accessible name from the start."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QPushButton, QTreeView, QTreeWidget

from gui.icons import icon


def tree(name: str, headers: list[str], tip: str, accessible: str) -> QTreeWidget:
    view = QTreeWidget()
    view.setObjectName(name)
    view.setHeaderLabels(headers)
    _list_look(view, tip, accessible)
    return view


def model_tree(name: str, tip: str, accessible: str) -> QTreeView:
    view = QTreeView()
    view.setObjectName(name)
    _list_look(view, tip, accessible)
    return view


def _list_look(view: QTreeView, tip: str, accessible: str) -> None:
    view.setRootIsDecorated(False)
    view.setUniformRowHeights(True)
    view.setAlternatingRowColors(True)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setToolTip(tip)
    view.setAccessibleName(accessible)


def button(name: str, icon_name: str, text: str, tip: str) -> QPushButton:
    made = QPushButton(icon(icon_name), text)
    made.setObjectName(name)
    made.setToolTip(tip)
    made.setAccessibleName(text.replace("&", "").rstrip("…"))
    made.setAccessibleDescription(tip)
    return made


def action(
    parent: QObject,
    text: str,
    name: str,
    slot: Callable[[], object],
    shortcut: str | None = None,
) -> QAction:
    made = QAction(text, parent)
    made.setObjectName(name)
    made.triggered.connect(slot)
    if shortcut:
        made.setShortcut(QKeySequence(shortcut))
    return made
