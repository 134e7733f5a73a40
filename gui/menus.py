"""The window's menu bar and toolbar. Each action calls one of the window's public
methods, handed in by name, so the menus hold no behaviour of their own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QMenu

from gui.icons import icon
from gui.widgets import action

translate = QCoreApplication.translate


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
        add=action(
            window, translate("Menus", "&Add game…"), "addGameAction", slots["add"], "Ctrl+N"
        ),
        adopt=action(
            window,
            translate("Menus", "Add &existing game…"),
            "addExistingAction",
            slots["adopt"],
            "Ctrl+O",
        ),
        check=action(
            window, translate("Menus", "&Check for updates"), "checkAction", slots["check"], "F5"
        ),
        settings=action(
            window, translate("Menus", "&Settings…"), "settingsAction", slots["settings"], "Ctrl+,"
        ),
        quit=action(window, translate("Menus", "&Quit"), "quitAction", slots["quit"], "Ctrl+Q"),
        login=action(window, translate("Menus", "Log in to &GOG…"), "loginAction", slots["login"]),
        account=QMenu(translate("Menus", "&Account"), window),
        source=action(
            window, translate("Menus", "Change &source…"), "changeSourceAction", slots["source"]
        ),
        folder=action(
            window, translate("Menus", "Open &folder"), "openFolderAction", slots["folder"]
        ),
    )
    menus.add.setToolTip(
        translate("Menus", "Install a game: pick it from a source's list, then a build")
    )
    main = (menus.add, menus.adopt, menus.check, menus.settings)
    menu = window.menuBar().addMenu(translate("Menus", "&Slipstream"))
    for act in main:
        menu.addAction(act)
    menu.addSeparator()
    menu.addAction(menus.quit)
    game = window.menuBar().addMenu(translate("Menus", "&Game"))
    game.addAction(menus.source)
    game.addAction(menus.folder)
    window.menuBar().addMenu(menus.account)
    menus.account.addAction(menus.login)
    toolbar = window.addToolBar(translate("Menus", "Main"))
    toolbar.setObjectName("mainToolbar")
    toolbar.setAccessibleName(translate("Menus", "Main toolbar"))
    for act, name in zip(main, ("add", "folder", "refresh", "settings"), strict=True):
        act.setIcon(icon(name))
        toolbar.addAction(act)
    return menus
