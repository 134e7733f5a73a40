"""The tray icon: Open, Check now, Update all, Quit, and notifications.

Where the desktop has no tray (or the platform plugin offers none, as offscreen), the
icon is never shown, notifications go to the window's status bar, and closing the
window quits instead of hiding it, so the player is never left with an invisible app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from gui.icons import app_icon

if TYPE_CHECKING:
    from gui.window import MainWindow


class Tray:
    def __init__(self, window: MainWindow, available: bool | None = None) -> None:
        self.window = window
        self.available = QSystemTrayIcon.isSystemTrayAvailable() if available is None else available
        self.menu = QMenu(window)
        self.menu.setObjectName("trayMenu")
        self.actions: dict[str, QAction] = {}
        for name, text, slot in (
            ("trayOpen", "&Open Slipstream", window.bring_forward),
            ("trayCheck", "&Check now", window.check_now),
            ("trayUpdateAll", "&Update all", window.update_all),
            ("trayQuit", "&Quit", window.quit),
        ):
            action = QAction(text, window)
            action.setObjectName(name)
            action.triggered.connect(slot)
            self.menu.addAction(action)
            self.actions[name] = action
        self.icon: QSystemTrayIcon | None = None
        if self.available:
            self.icon = QSystemTrayIcon(app_icon(), window)
            self.icon.setObjectName("trayIcon")
            self.icon.setToolTip("Slipstream")
            self.icon.setContextMenu(self.menu)
            self.icon.activated.connect(self._activated)
            self.icon.show()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.window.bring_forward()

    def visible(self) -> bool:
        return self.icon is not None and self.icon.isVisible()

    def show_message(self, title: str, message: str) -> bool:
        """A desktop notification; False when there is no tray to show it."""
        if not self.visible():
            return False
        assert self.icon is not None
        self.icon.showMessage(title, message, QSystemTrayIcon.MessageIcon.Information, 8000)
        return True

    def hide(self) -> None:
        if self.icon is not None:
            self.icon.hide()
