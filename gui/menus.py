"""The window's menu bar and toolbar. Each action calls one of the window's public
methods, handed in by name, so the menus hold no behaviour of their own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QMenu

from gui.icons import icon
from gui.widgets import action


@dataclass(frozen=True)
class Menus:
    add: QAction
    adopt: QAction
    check: QAction
    settings: QAction
    quit: QAction
    login: QAction
    account: QMenu
    source: QAction
    folder: QAction


def build(window: QMainWindow, slots: dict[str, Callable[[], object]]) -> Menus:
    """Add the Slipstream and Account menus and the toolbar to ``window``; ``slots``
    names what each action calls (``add``, ``adopt``, ``check``, ``settings``, ``quit``,
    ``login``, ``source`` and ``folder`` for the selected game)."""
    menus = Menus(
        add=action(window, "&Add game…", "addGameAction", slots["add"], "Ctrl+N"),
        adopt=action(window, "Add &existing game…", "addExistingAction", slots["adopt"], "Ctrl+O"),
        check=action(window, "&Check for updates", "checkAction", slots["check"], "F5"),
        settings=action(window, "&Settings…", "settingsAction", slots["settings"], "Ctrl+,"),
        quit=action(window, "&Quit", "quitAction", slots["quit"], "Ctrl+Q"),
        login=action(window, "Log in to &GOG…", "loginAction", slots["login"]),
        account=QMenu("&Account", window),
        source=action(window, "Change &source…", "changeSourceAction", slots["source"]),
        folder=action(window, "Open &folder", "openFolderAction", slots["folder"]),
    )
    main = (menus.add, menus.adopt, menus.check, menus.settings)
    menu = window.menuBar().addMenu("&Slipstream")
    for act in main:
        menu.addAction(act)
    menu.addSeparator()
    menu.addAction(menus.quit)
    game = window.menuBar().addMenu("&Game")
    game.addAction(menus.source)
    game.addAction(menus.folder)
    window.menuBar().addMenu(menus.account)
    menus.account.addAction(menus.login)
    toolbar = window.addToolBar("Main")
    toolbar.setObjectName("mainToolbar")
    toolbar.setAccessibleName("Main toolbar")
    for act, name in zip(main, ("add", "folder", "refresh", "settings"), strict=True):
        act.setIcon(icon(name))
        toolbar.addAction(act)
    return menus
